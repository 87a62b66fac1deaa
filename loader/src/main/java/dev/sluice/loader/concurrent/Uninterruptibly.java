package dev.sluice.loader.concurrent;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Waits that an interrupt must not cut short: closing a thread that holds Arrow memory, or an
 * execution whose tasks still run, has to wait for them to end even when the closing thread is
 * itself being stopped (an iterator's prefetch thread is interrupted to stop it, and closes its
 * execution on the way out). The interrupt is kept and set again when the wait is over.
 */
public final class Uninterruptibly {
  private Uninterruptibly() {}

  /** Joins {@code thread}, however often the caller is interrupted meanwhile. */
  public static void join(Thread thread) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          thread.join();
          return;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Waits up to {@code timeout} for {@code future} to complete, however often the caller is
   * interrupted meanwhile; true when it completed (normally or not), false on the timeout.
   */
  public static boolean await(Future<?> future, long timeout, TimeUnit unit) {
    boolean interrupted = false;
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    try {
      while (true) {
        try {
          future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
          return true;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          return true;
        } catch (TimeoutException e) {
          return false;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Waits up to {@code timeout} for {@code pool} to terminate after a shutdown, however often the
   * caller is interrupted meanwhile; true when it terminated.
   */
  public static boolean awaitTermination(ExecutorService pool, long timeout, TimeUnit unit) {
    boolean interrupted = false;
    long deadline = System.nanoTime() + unit.toNanos(timeout);
    try {
      while (true) {
        try {
          return pool.awaitTermination(
              Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
