package dev.sluice.cluster.internal;

import com.hazelcast.internal.util.ConcurrencyUtil;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Where Hazelcast runs the callbacks of its futures while Sluice members run in this process.
 *
 * <p>Hazelcast runs them on {@link ForkJoinPool#commonPool()}, unless the common pool has no
 * parallelism (one thread: machines and containers with two CPUs or fewer), when it starts a new
 * thread for every callback: two threads per executor call, which cost a trainer on two cores about
 * half of its CPU per block in the {@code scaling} benchmark. In that case Sluice gives Hazelcast a
 * cached pool of its own (threads reused, as many as callbacks run at once, idle ones ended after
 * 30 s) while at least one member runs, and puts the default back when the last one has stopped.
 * With a parallel common pool nothing changes. The setting is process-wide (Hazelcast's own, in an
 * internal class): counted across the members of this process.
 */
public final class HazelcastCallbacks {
  private static final AtomicInteger THREADS = new AtomicInteger();
  private static int users;
  private static ThreadPoolExecutor pool;
  private static Executor previous;

  private HazelcastCallbacks() {}

  /** A member starts: from now on callbacks run on Sluice's pool when they would need one. */
  public static synchronized void acquire() {
    if (users++ > 0 || ForkJoinPool.getCommonPoolParallelism() > 1) {
      return;
    }
    previous = ConcurrencyUtil.getDefaultAsyncExecutor();
    pool =
        new ThreadPoolExecutor(
            0,
            Integer.MAX_VALUE,
            30,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            r -> {
              Thread t = new Thread(r, "sluice-hz-callback-" + THREADS.incrementAndGet());
              t.setDaemon(true);
              return t;
            },
            // A callback of a member stopping after the pool: on a thread of its own, as before.
            (r, executor) -> new Thread(r, "sluice-hz-callback-late").start());
    ConcurrencyUtil.setDefaultAsyncExecutor(pool);
  }

  /** A member has stopped: the last one puts Hazelcast's default back and stops the pool. */
  public static synchronized void release() {
    if (users == 0) {
      throw new IllegalStateException("released more often than acquired");
    }
    if (--users > 0 || pool == null) {
      return;
    }
    ConcurrencyUtil.setDefaultAsyncExecutor(previous);
    pool.shutdown(); // running callbacks finish; idle threads end now
    pool = null;
    previous = null;
  }

  /** Sluice's pool while it is Hazelcast's default, else null (for tests). */
  public static synchronized Executor pool() {
    return pool;
  }
}
