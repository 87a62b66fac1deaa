package dev.sluice.loader.runtime;

import java.util.concurrent.CompletableFuture;

/**
 * A running actor: a state object built once and called one call at a time on the actor's own
 * thread. Thread-safe; calls are queued in submission order.
 *
 * @param <S> the actor's state type
 */
public interface ActorHandle<S> {

  /** A function called on the actor's state. */
  @FunctionalInterface
  interface ActorCall<S, T> {
    T apply(S state) throws Exception;
  }

  /** Completes when the state is constructed; fails with the constructor's exception. */
  CompletableFuture<Void> ready();

  /** Queues a call; the future completes with its result on the actor's thread. */
  <T> CompletableFuture<T> call(ActorCall<S, T> call);

  /**
   * Stops the actor after the calls already queued: closes the state if it is {@link
   * AutoCloseable}, then ends the thread. The future completes when the thread is gone.
   */
  CompletableFuture<Void> stop();
}
