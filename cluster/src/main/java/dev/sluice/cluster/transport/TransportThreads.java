package dev.sluice.cluster.transport;

import io.netty.util.concurrent.FastThreadLocalThread;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Makes and keeps the transport's threads, so that {@code close()} can wait until every one of them
 * has ended, not only until Netty says its loops are done. Threads are named {@code
 * sluice-transport-<name>-io-<n>} (the name tells two transports of one JVM apart, as in tests),
 * are daemons (a transport someone forgot to close does not keep the JVM up), and are Netty's
 * {@link FastThreadLocalThread}s, whose thread-local caches Netty's allocators rely on.
 */
final class TransportThreads implements ThreadFactory {
  /** The prefix of every thread name; tests look for it after close. */
  static final String PREFIX = "sluice-transport-";

  private final String name;
  private final AtomicInteger count = new AtomicInteger();
  private final List<Thread> threads = new CopyOnWriteArrayList<>();

  TransportThreads(String name) {
    this.name = PREFIX + name + "-io-";
  }

  @Override
  public Thread newThread(Runnable r) {
    Thread t = new FastThreadLocalThread(r, name + count.getAndIncrement());
    t.setDaemon(true);
    threads.add(t);
    return t;
  }

  /** Whether the calling thread is one of these (it cannot wait for itself to end). */
  boolean isCurrent() {
    return threads.contains(Thread.currentThread());
  }

  /**
   * Waits until every thread made has ended, at most {@code timeoutMillis} in all.
   *
   * @return whether they all ended
   */
  boolean join(long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    for (Thread t : threads) {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (left > 0) {
        t.join(left);
      }
      if (t.isAlive()) {
        return false;
      }
    }
    return true;
  }
}
