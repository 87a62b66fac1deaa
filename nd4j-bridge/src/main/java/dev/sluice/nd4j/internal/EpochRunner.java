package dev.sluice.nd4j.internal;

import dev.sluice.loader.Batch;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.IterOptions;
import dev.sluice.nd4j.PrefetchStats;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Function;

/**
 * The engine behind both Sluice iterators: epochs as executions of a dataset, each fed through its
 * own {@link Prefetcher}, a one-item look-ahead for {@code hasNext()}, the carry-over of {@code
 * next(int)}, and the stall statistics. Used by one consumer thread.
 */
public final class EpochRunner<T> implements AutoCloseable {
  private final Dataset dataset;
  private final IterOptions baseOptions;
  private final boolean reshuffleEachEpoch;
  private final Function<Batch, T> convert;
  private final Examples<T> examples;
  private final int capacity;

  private Prefetcher<T> current;
  private int epoch = -1;
  private boolean epochPending = true;
  private T lookahead;
  private T carry;
  private boolean closed;
  private long batches;
  private long pastWaitNanos;
  private long pastWallNanos;
  private long epochStart;

  /**
   * @param dataset the dataset each epoch executes
   * @param options how batches are cut (the batch iterator's own prefetch is turned off: the
   *     prefetcher's thread does the work)
   * @param reshuffleEachEpoch whether epoch {@code e} uses shuffle seed {@code seed + e}
   * @param convert turns a batch into an item (on the prefetch thread)
   * @param examples how items are cut and joined
   * @param capacity ready items held at most
   */
  public EpochRunner(Dataset dataset, IterOptions options, boolean reshuffleEachEpoch,
      Function<Batch, T> convert, Examples<T> examples, int capacity) {
    this.dataset = dataset;
    this.baseOptions = options.withPrefetchBatches(0);
    this.reshuffleEachEpoch = reshuffleEachEpoch;
    this.convert = convert;
    this.examples = examples;
    this.capacity = capacity;
  }

  private void ensureEpoch() {
    if (closed) {
      throw new IllegalStateException("iterator is closed");
    }
    if (epochPending) {
      epochPending = false;
      epoch++;
      IterOptions opts = baseOptions;
      if (reshuffleEachEpoch && opts.localShuffleBufferSize() > 0) {
        opts = opts.withLocalShuffle(opts.localShuffleBufferSize(), opts.shuffleSeed() + epoch);
      }
      IterOptions chosen = opts;
      epochStart = System.nanoTime();
      current = new Prefetcher<>(() -> dataset.iterBatches(chosen), convert, examples::release, capacity);
    }
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
    return carry != null ? carry : lookahead;
  }

  /** The next item as the pipeline cut it (or what {@code next(int)} left over). */
  public T next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    T out;
    if (carry != null) {
      out = carry;
      carry = null;
    } else {
      out = lookahead;
      lookahead = null;
    }
    batches++;
    return out;
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
    List<T> parts = new ArrayList<>();
    long have = 0;
    while (have < num && hasNext()) {
      T item = carry != null ? carry : lookahead;
      if (carry != null) {
        carry = null;
      } else {
        lookahead = null;
      }
      long n = examples.count(item);
      if (have + n <= num) {
        parts.add(item);
        have += n;
      } else {
        long want = num - have;
        parts.add(examples.slice(item, 0, want));
        carry = examples.slice(item, want, n);
        examples.release(item);
        have = num;
      }
    }
    T out = examples.join(parts);
    if (parts.size() > 1) {
      parts.forEach(examples::release);
    }
    batches++;
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
    return new PrefetchStats(batches, wait, wall);
  }

  private void endEpoch() {
    if (current != null) {
      current.close();
      pastWaitNanos += current.waitNanos();
      pastWallNanos += System.nanoTime() - epochStart;
      current = null;
    }
    if (lookahead != null) {
      examples.release(lookahead);
      lookahead = null;
    }
    if (carry != null) {
      examples.release(carry);
      carry = null;
    }
  }

  /** Stops the running epoch and everything it holds. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      endEpoch();
      closed = true;
      epochPending = false;
    }
  }
}
