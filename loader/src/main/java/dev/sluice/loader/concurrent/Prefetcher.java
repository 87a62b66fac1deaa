package dev.sluice.loader.concurrent;

import dev.sluice.loader.SluiceException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A prefetch thread: a named thread that runs a producer, which puts items into a bounded queue
 * while one consumer thread takes them. Sluice's one implementation of it, used by the loader's
 * batch iterator (re-batched Arrow batches) and by the DL4J bridge (DataSets).
 *
 * <p><b>Ownership.</b> An item in the queue belongs to the prefetcher until taken, then to the
 * consumer; {@link #close()} releases the items never taken with the {@code discard} function, as
 * {@link Output#put} does with an item that arrives after the close. The producer's end and its
 * failure are queued in order after its items, so the consumer never waits on a finished or failed
 * producer: {@link #take()} returns null at the end and throws the failure (on that call and every
 * later one).
 *
 * <p>{@link #take()}, {@link #hasReady()} and {@link #close()} are called by one consumer thread.
 *
 * @param <T> the items
 */
public final class Prefetcher<T> implements AutoCloseable {
  private static final Object END = new Object();

  private record Failure(Throwable error) {}

  /** What the thread runs: puts items until the end (returns) or a failure (throws). */
  @FunctionalInterface
  public interface Producer<T> {
    void run(Output<T> out) throws Exception;
  }

  /** Where the producer puts its items. */
  @FunctionalInterface
  public interface Output<T> {
    /**
     * Queues an item, waiting for room. Returns false, having released the item, when the
     * prefetcher is closing: the producer then stops.
     */
    boolean put(T item);
  }

  private final BlockingQueue<Object> ready;
  private final Consumer<? super T> discard;
  private final Runnable beforeEachHandOver;
  private final Function<Throwable, RuntimeException> failure;
  private final Thread thread;
  private volatile boolean stopping;
  private Object terminal;
  private long waitNanos;

  /**
   * Starts the thread.
   *
   * @param threadName the thread's name
   * @param capacity items queued at most
   * @param producer what the thread runs
   * @param discard releases an item never handed out
   * @param beforeEachHandOver runs on the thread before each item, the end or the failure is queued
   * @param failure turns the producer's failure into what {@link #take()} throws
   */
  public Prefetcher(
      String threadName,
      int capacity,
      Producer<T> producer,
      Consumer<? super T> discard,
      Runnable beforeEachHandOver,
      Function<Throwable, RuntimeException> failure) {
    if (capacity < 1) {
      throw new IllegalArgumentException("prefetch capacity must be >= 1: " + capacity);
    }
    this.ready = new ArrayBlockingQueue<>(capacity);
    this.discard = discard;
    this.beforeEachHandOver = beforeEachHandOver;
    this.failure = failure;
    this.thread = new Thread(() -> run(producer), threadName);
    thread.setDaemon(true);
    thread.start();
  }

  /** The prefetch thread's name. */
  public String threadName() {
    return thread.getName();
  }

  private void run(Producer<T> producer) {
    Object last;
    try {
      producer.run(this::put);
      last = END;
    } catch (InterruptedException e) {
      if (stopping) {
        return;
      }
      last =
          new Failure(
              new SluiceException(
                  "the prefetch thread " + thread.getName() + " was interrupted", e));
    } catch (Throwable t) {
      last = new Failure(t);
    }
    if (!stopping) {
      beforeEachHandOver.run();
      try {
        ready.put(last);
      } catch (InterruptedException e) {
        // closing: nobody takes it
      }
    }
  }

  private boolean put(T item) {
    if (!stopping) {
      beforeEachHandOver.run();
      try {
        ready.put(item);
        return true;
      } catch (InterruptedException e) {
        // closing
      }
    }
    discard.accept(item);
    return false;
  }

  /** Whether {@link #take()} would return (or throw) without waiting. */
  public boolean hasReady() {
    return terminal != null || !ready.isEmpty();
  }

  /**
   * The next item, waiting for it; null at the producer's end (and on every later call).
   *
   * @throws RuntimeException the producer's failure, as {@code failure} made it (on this and every
   *     later call)
   * @throws SluiceException when interrupted while waiting (the interrupt status is kept)
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
      throw failure.apply(f.error());
    }
    return null;
  }

  /** Nanoseconds {@link #take()} has waited. */
  public long waitNanos() {
    return waitNanos;
  }

  /**
   * Stops the thread, waiting for it (it may hold resources until it ends), and releases the items
   * never taken. Idempotent.
   */
  @Override
  @SuppressWarnings("unchecked")
  public void close() {
    stopping = true;
    thread.interrupt();
    Uninterruptibly.join(thread);
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
