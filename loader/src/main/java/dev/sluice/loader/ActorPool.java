package dev.sluice.loader;

import java.time.Duration;

/**
 * The size of a stateful {@code mapBatches} step's actor pool. The pool starts {@code min} actors,
 * grows by one while every actor is busy and inputs are waiting (up to {@code max}, as resources
 * allow), and stops an actor that has been idle for {@code idleTimeout} while no input waits (down
 * to {@code min}). Each actor runs at most {@code maxTasksPerActor} calls at once (queued on its
 * thread, so that it never waits between calls). Immutable.
 *
 * @param min actors kept running
 * @param max actors at most
 * @param maxTasksPerActor calls queued on one actor at most (at least 1)
 * @param idleTimeout how long an actor beyond {@code min} may stay idle
 */
public record ActorPool(int min, int max, int maxTasksPerActor, Duration idleTimeout) {

  public ActorPool {
    if (min < 1 || max < min) {
      throw new IllegalArgumentException(
          "actor pool needs 1 <= min <= max, got " + min + ".." + max);
    }
    if (maxTasksPerActor < 1) {
      throw new IllegalArgumentException("maxTasksPerActor must be >= 1");
    }
    if (idleTimeout.isNegative()) {
      throw new IllegalArgumentException("idleTimeout must be >= 0");
    }
  }

  /** A pool of {@code min} to {@code max} actors, two calls per actor, 10 s idle timeout. */
  public static ActorPool of(int min, int max) {
    return new ActorPool(min, max, 2, Duration.ofSeconds(10));
  }

  /** A pool of exactly {@code size} actors. */
  public static ActorPool fixed(int size) {
    return of(size, size);
  }

  public ActorPool withMaxTasksPerActor(int n) {
    return new ActorPool(min, max, n, idleTimeout);
  }

  public ActorPool withIdleTimeout(Duration timeout) {
    return new ActorPool(min, max, maxTasksPerActor, timeout);
  }
}
