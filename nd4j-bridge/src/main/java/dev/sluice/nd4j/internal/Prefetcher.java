package dev.sluice.nd4j.internal;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.SluiceException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One epoch's prefetch: a named thread ({@code sluice-dl4j-prefetch-N}) that opens a {@link
 * BatchIterator}, converts each batch into an item (a {@code DataSet}), closes the batch, and puts
 * the item into a bounded queue; the consumer takes from the queue.
 *
 * <p><b>Ownership.</b> The thread owns the batch iterator and every batch (it opens, uses and
 * closes them all, so no Arrow memory crosses threads). Items in the queue belong to the prefetcher
 * until taken, then to the consumer; {@link #close()} discards the ones never taken. Errors
 * (upstream {@link SluiceException}s, conversion failures) are queued in order and thrown by
 * {@link #take()}; the end of the data is queued likewise, so the consumer never waits on a
 * finished or failed epoch.
 *
 * <p>{@link #take()} and {@link #close()} are called by one consumer thread.
 */
public final class Prefetcher<T> implements AutoCloseable {
  private static final AtomicInteger THREADS = new AtomicInteger();
  private static final Object END = new Object();

  private record Failure(Throwable error) {}

  private final BlockingQueue<Object> ready;
  private final Consumer<T> discard;
  private final Thread thread;
  private volatile boolean stopping;
  private Object terminal;
  private long waitNanos;

  /**
   * Starts the thread.
   *
   * @param open opens the epoch's batch iterator (called on the prefetch thread)
   * @param convert turns a batch into an item; must not keep the batch or views of it
   * @param discard releases an item never handed out
   * @param capacity ready items held at most
   */
  public Prefetcher(Supplier<BatchIterator> open, Function<Batch, T> convert, Consumer<T> discard, int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("prefetch capacity must be >= 1: " + capacity);
    }
    this.ready = new ArrayBlockingQueue<>(capacity);
    this.discard = discard;
    // On a GPU backend the items are placed on the consumer's device, so the producer works on
    // that device too; on the CPU backend this does nothing.
    Integer device = Nd4j.getAffinityManager().getDeviceForCurrentThread();
    this.thread = new Thread(() -> {
      Nd4j.getAffinityManager().unsafeSetDevice(device);
      run(open, convert);
    }, "sluice-dl4j-prefetch-" + THREADS.incrementAndGet());
    thread.setDaemon(true);
    thread.start();
  }

  /** The prefetch thread's name. */
  public String threadName() {
    return thread.getName();
  }

  private void run(Supplier<BatchIterator> open, Function<Batch, T> convert) {
    BatchIterator it = null;
    Object last;
    try {
      it = open.get();
      while (!stopping && it.hasNext()) {
        T item;
        try (Batch b = it.next()) {
          if (b.rowCount() == 0) {
            continue;
          }
          item = convert.apply(b);
        }
        if (!offer(item)) {
          discard.accept(item);
          return;
        }
      }
      last = END;
    } catch (Throwable t) {
      last = new Failure(t);
    } finally {
      if (it != null) {
        // Clear a stop request's interrupt first: closing the execution must not be cut short.
        boolean interrupted = Thread.interrupted();
        try {
          it.close();
        } catch (RuntimeException e) {
          // Already ending; the execution's own failure (if any) was queued.
        } finally {
          if (interrupted) {
            Thread.currentThread().interrupt();
          }
        }
      }
    }
    if (!stopping) {
      offer(last);
    }
  }

  private boolean offer(Object item) {
    try {
      ready.put(item);
      return true;
    } catch (InterruptedException e) {
      return false;
    }
  }

  /**
   * The next item, waiting for it; null at the end of the epoch (and on every later call).
   *
   * @throws SluiceException the epoch's failure (on this and every later call)
   */
  @SuppressWarnings("unchecked")
  public T take() {
    if (terminal == null) {
      long t0 = System.nanoTime();
      Object o;
      try {
        o = ready.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new SluiceException("interrupted while waiting for data", e);
      } finally {
        waitNanos += System.nanoTime() - t0;
      }
      if (o != END && !(o instanceof Failure)) {
        return (T) o;
      }
      terminal = o;
    }
    if (terminal instanceof Failure f) {
      Throwable t = f.error();
      if (t instanceof SluiceException se) {
        throw SluiceException.rethrown(se);
      }
      throw new SluiceException("converting a batch for ND4J failed: " + t, "nd4j-bridge", null, null, t);
    }
    return null;
  }

  /** Nanoseconds {@link #take()} has waited. */
  public long waitNanos() {
    return waitNanos;
  }

  /**
   * Stops the thread (waiting for it, and so for the execution to be closed) and discards the
   * items never taken. Idempotent.
   */
  @Override
  @SuppressWarnings("unchecked")
  public void close() {
    stopping = true;
    thread.interrupt();
    dev.sluice.loader.concurrent.Uninterruptibly.join(thread); // it holds Arrow memory until it ends
    for (Object o; (o = ready.poll()) != null; ) {
      if (o != END && !(o instanceof Failure)) {
        discard.accept((T) o);
      }
    }
    if (terminal == null) {
      terminal = END;
    }
  }
}
