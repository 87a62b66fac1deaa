package dev.sluice.nd4j.internal;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.IterOptions;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.concurrent.Prefetcher;
import dev.sluice.nd4j.PrefetchStats;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.BiFunction;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The engine behind both Sluice iterators: epochs as executions of a dataset, each fed through its
 * own {@link Prefetcher}, a one-item look-ahead for {@code hasNext()}, the carry-over of {@code
 * next(int)}, the stall statistics, and who owns the arrays of the items handed out. Used by one
 * consumer thread.
 *
 * <p><b>Ownership of items handed out.</b> With {@code reuseAfter == 0} every item is made of fresh
 * detached arrays that belong to the consumer from then on. With {@code reuseAfter == k > 0} the
 * arrays of an item handed out by {@link #next()} come from an {@link ArrayPool} and go back to it
 * {@code k} calls of {@code next} later (counted across {@link #reset()}: the last items of an
 * epoch stay valid into the next one), or at {@link #close()}, to be overwritten by a later item:
 * the consumer must be done with an item by then (DL4J's {@code fit}, {@code output} and {@code
 * evaluate} are: they use a batch before asking for the next), or copy it. With {@code
 * shareBatches}, an item whose features need no conversion (see {@code ArrowToNd4j.isZeroCopy}) is
 * not copied at all on the CPU backend: its lease holds the Arrow batch and its features array is a
 * view of it, freed at the same point. Items cut or joined by {@link #next(int)} are always fresh
 * and the consumer's.
 */
public final class EpochRunner<T> implements AutoCloseable {
  /** An item and, when its arrays are pooled, the lease that gives them back. */
  private record Held<T>(T item, ArrayPool.Lease lease) {}

  private static final java.util.concurrent.atomic.AtomicLong HELD =
      new java.util.concurrent.atomic.AtomicLong();
  private static final java.util.concurrent.atomic.AtomicInteger PREFETCH_THREADS =
      new java.util.concurrent.atomic.AtomicInteger();

  private final Dataset dataset;
  private final IterOptions baseOptions;
  private final boolean reshuffleEachEpoch;
  private final BiFunction<Batch, ArrayAllocator, T> convert;
  private final Examples<T> examples;
  private final int capacity;
  private final int reuseAfter;
  private final ArrayPool pool;

  /** Undoes the registration with the Sluice context while registered, else null. */
  private Runnable unregister;

  private final ArrayDeque<Held<T>> handedOut = new ArrayDeque<>();
  private volatile long allocatedDetached;
  private final ArrayAllocator countingDetached =
      (type, shape) -> {
        allocatedDetached++; // only the prefetch thread writes
        return ArrayAllocator.DETACHED.allocate(type, shape);
      };

  private final java.util.function.BiFunction<Dataset, IterOptions, BatchIterator> open;
  private Prefetcher<Held<T>> current;
  private int epoch = -1;
  private boolean epochPending = true;
  private Held<T> lookahead;
  private Held<T> carry;
  private boolean closed;
  private long batches;
  private long pastWaitNanos;
  private long pastWallNanos;
  private long epochStart;

  /**
   * @param dataset the dataset each epoch executes
   * @param options how batches are cut (the batch iterator's own prefetch is turned off: the
   *     prefetcher's thread does the work)
   * @param reshuffleEachEpoch whether epoch {@code e} executes {@code dataset.forEpoch(e)}, its
   *     shuffles seeded by (seed, e), or every epoch as the first
   * @param convert turns a batch into an item (on the prefetch thread), taking its arrays from the
   *     given allocator
   * @param examples how items are cut and joined
   * @param capacity ready items held at most
   * @param reuseAfter 0 for fresh arrays owned by the consumer; {@code k > 0} to recycle an item's
   *     arrays {@code k} calls of {@code next} after it was handed out (see the class comment)
   * @param shareBatches whether an item may share its batch's memory (held as long as its arrays
   *     would be); needs {@code reuseAfter > 0}
   * @param open opens an epoch's batches ({@code Dataset::iterBatches}, or a trainer's share)
   */
  public EpochRunner(
      Dataset dataset,
      IterOptions options,
      boolean reshuffleEachEpoch,
      BiFunction<Batch, ArrayAllocator, T> convert,
      Examples<T> examples,
      int capacity,
      int reuseAfter,
      boolean shareBatches,
      java.util.function.BiFunction<Dataset, IterOptions, BatchIterator> open) {
    if (reuseAfter < 0) {
      throw new IllegalArgumentException("reuseAfter must be >= 0: " + reuseAfter);
    }
    if (shareBatches && reuseAfter == 0) {
      throw new IllegalArgumentException("sharing batches needs reuseAfter > 0");
    }
    this.dataset = dataset;
    this.open = open;
    this.baseOptions = options.withPrefetchBatches(0);
    this.reshuffleEachEpoch = reshuffleEachEpoch;
    this.convert = convert;
    this.examples = examples;
    this.capacity = capacity;
    this.reuseAfter = reuseAfter;
    this.pool =
        reuseAfter == 0
            ? null
            : shareBatches
                ? new ArrayPool(
                    dataset
                        .sluice()
                        .allocator()
                        .newChildAllocator(
                            "sluice-dl4j-held-" + HELD.incrementAndGet(), 0, Long.MAX_VALUE))
                : new ArrayPool();
  }

  /**
   * Registers with the Sluice context, so that closing it closes this first, while this holds what
   * garbage collection cannot free: a running epoch (its execution and thread) or batches held for
   * items handed out. An iterator dropped between epochs without close() is then not kept alive.
   */
  private void registerWithContext() {
    if (unregister == null) {
      unregister = dataset.sluice().closeBeforeContext(this);
    }
  }

  private void unregisterIfIdle() {
    if (unregister != null && current == null && (pool == null || pool.heldBytes() == 0)) {
      unregister.run();
      unregister = null;
    }
  }

  /** The pool of recycled arrays, or null when items are made of fresh arrays. */
  public ArrayPool pool() {
    return pool;
  }

  // On the prefetch thread.
  private Held<T> convert(Batch batch) {
    if (pool == null) {
      return new Held<>(convert.apply(batch, countingDetached), null);
    }
    ArrayPool.Lease lease = pool.lease();
    try {
      return new Held<>(convert.apply(batch, lease), lease);
    } catch (RuntimeException | Error e) {
      lease.giveBack();
      throw e;
    }
  }

  /**
   * Lets go of an item the consumer will not see (or no longer owns): back to the pool, or freed.
   */
  private void letGo(Held<T> held) {
    if (held.lease() != null) {
      held.lease().giveBack();
    } else {
      examples.release(held.item());
    }
  }

  /**
   * Hands an item to the consumer; with pooled arrays, gives back the one handed out {@code
   * reuseAfter} calls ago.
   */
  private T handOut(Held<T> held) {
    if (held.lease() != null) {
      handedOut.add(held);
      while (handedOut.size() > reuseAfter) {
        handedOut.poll().lease().giveBack();
      }
    }
    return held.item();
  }

  private void ensureEpoch() {
    if (closed) {
      throw new IllegalStateException("iterator is closed");
    }
    if (epochPending) {
      epochPending = false;
      epoch++;
      // The dataset's seeded shuffles (files, block order, the local buffer) draw from (seed,
      // epoch).
      Dataset epochData = reshuffleEachEpoch ? dataset.forEpoch(epoch) : dataset;
      IterOptions chosen = baseOptions;
      epochStart = System.nanoTime();
      registerWithContext();
      // On a GPU backend the items are placed on the consumer's device, so the producer works on
      // that device too; on the CPU backend this does nothing.
      Integer device = Nd4j.getAffinityManager().getDeviceForCurrentThread();
      current =
          new Prefetcher<>(
              "sluice-dl4j-prefetch-" + PREFETCH_THREADS.incrementAndGet(),
              capacity,
              out -> produce(epochData, chosen, device, out),
              this::letGo,
              () -> {},
              EpochRunner::asThrown);
    }
  }

  /**
   * The prefetch thread's work for one epoch: opens the epoch's batch iterator, converts each batch
   * into an item, closes the batch, and hands the item on; closes the iterator (and so the
   * execution) before it ends, so that no Arrow memory crosses threads.
   */
  private void produce(
      Dataset data, IterOptions options, Integer device, Prefetcher.Output<Held<T>> out) {
    Nd4j.getAffinityManager().unsafeSetDevice(device);
    BatchIterator it = open.apply(data, options);
    try {
      while (it.hasNext()) {
        Held<T> item;
        try (Batch b = it.next()) {
          if (b.rowCount() == 0) {
            continue;
          }
          item = convert(b);
        }
        if (!out.put(item)) {
          return;
        }
      }
    } finally {
      // Clear a stop request's interrupt first: closing the execution must not be cut short.
      boolean interrupted = Thread.interrupted();
      try {
        it.close();
      } finally {
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  /** A failure on the prefetch thread as the consumer gets it. */
  private static RuntimeException asThrown(Throwable t) {
    return t instanceof SluiceException se
        ? SluiceException.rethrown(se)
        : new SluiceException(
            "converting a batch for ND4J failed: " + t, "nd4j-bridge", null, null, t);
  }

  /** Whether another item is available in this epoch; starts the epoch if none is running. */
  public boolean hasNext() {
    if (closed) {
      return false;
    }
    ensureEpoch();
    if (carry != null || lookahead != null) {
      return true;
    }
    if (current == null) {
      return false; // this epoch is over: reset() starts the next
    }
    lookahead = current.take(); // throws the epoch's failure, again on every call until reset()
    if (lookahead == null) {
      endEpoch(); // stops the clock and releases the execution right away
      return false;
    }
    return true;
  }

  /** The item {@link #next()} would return, still owned by the runner, or null at the end. */
  public T peek() {
    if (!hasNext()) {
      return null;
    }
    return carry != null ? carry.item() : lookahead.item();
  }

  /** The next item as the pipeline cut it (or what {@code next(int)} left over). */
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    Held<T> out;
    if (carry != null) {
      out = carry;
      carry = null;
    } else {
      out = lookahead;
      lookahead = null;
    }
    batches++;
    return handOut(out);
  }

  /**
   * The next {@code num} examples (fewer at the end of the epoch), cut from and joined across
   * batches as needed; examples beyond {@code num} are kept for the next call.
   */
  public T next(int num) {
    if (num <= 0) {
      throw new IllegalArgumentException("num must be > 0: " + num);
    }
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    List<Held<T>> parts = new ArrayList<>();
    long have = 0;
    while (have < num && hasNext()) {
      Held<T> held = carry != null ? carry : lookahead;
      if (carry != null) {
        carry = null;
      } else {
        lookahead = null;
      }
      long n = examples.count(held.item());
      if (have + n <= num) {
        parts.add(held);
        have += n;
      } else {
        long want = num - have;
        parts.add(new Held<>(examples.slice(held.item(), 0, want), null));
        carry = new Held<>(examples.slice(held.item(), want, n), null);
        letGo(held);
        have = num;
      }
    }
    batches++;
    if (parts.size() == 1) {
      return handOut(parts.get(0));
    }
    T out = examples.join(parts.stream().map(Held::item).toList());
    parts.forEach(this::letGo);
    return out;
  }

  /** Ends the running epoch (stopping its execution) and makes the next call start a new one. */
  public void reset() {
    endEpoch();
    if (!closed) {
      epochPending = true;
    }
  }

  /** The epoch number in progress (0 for the first), or -1 before any. */
  public int epoch() {
    return epoch;
  }

  /** The prefetch thread's name of the running epoch, or null. */
  public String prefetchThreadName() {
    return current == null ? null : current.threadName();
  }

  /** The stall statistics so far. */
  public PrefetchStats stats() {
    long wait = pastWaitNanos + (current == null ? 0 : current.waitNanos());
    long wall = pastWallNanos + (current == null ? 0 : System.nanoTime() - epochStart);
    return new PrefetchStats(
        batches,
        wait,
        wall,
        pool == null ? allocatedDetached : pool.created(),
        pool == null ? 0 : pool.reused(),
        pool == null ? 0 : pool.batchesHeld());
  }

  private void endEpoch() {
    if (current != null) {
      current.close();
      pastWaitNanos += current.waitNanos();
      pastWallNanos += System.nanoTime() - epochStart;
      current = null;
    }
    if (lookahead != null) {
      letGo(lookahead);
      lookahead = null;
    }
    if (carry != null) {
      letGo(carry);
      carry = null;
    }
    // Items handed out stay valid for their reuseAfter calls of next(), into the next epoch;
    // close() frees them.
    unregisterIfIdle();
  }

  /** Stops the running epoch and everything it holds. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      endEpoch();
      while (!handedOut.isEmpty()) {
        handedOut.poll().lease().giveBack();
      }
      closed = true;
      epochPending = false;
      if (pool != null) {
        pool.close();
      }
      if (unregister != null) {
        unregister.run();
        unregister = null;
      }
    }
  }
}
