package dev.sluice.loader.runtime;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * Where the streaming executor runs its work: stateless tasks and stateful actors. The local
 * runtime ({@link LocalRuntime}) uses threads of this JVM; the cluster runtime runs them on
 * Hazelcast members.
 *
 * <p>The executor does its own resource accounting against {@link #totalResources()} and never
 * submits more than fits; a runtime therefore runs what it is given at once. Methods never block
 * the caller: results come back as futures, completed on the runtime's threads. Thread-safe.
 */
public interface Runtime extends AutoCloseable {

  /** The logical resources this runtime offers to one execution. */
  Resources totalResources();

  /**
   * Runs a task.
   *
   * @param name a name for the thread and for diagnostics
   * @param task the work; its exception completes the future exceptionally
   */
  <T> CompletableFuture<T> submit(String name, Callable<T> task);

  /**
   * Starts an actor: one thread of its own that constructs its state with {@code factory} (once)
   * and then runs calls one at a time. {@link ActorHandle#ready()} completes when the state is
   * built (or fails with the constructor's exception).
   */
  <S> ActorHandle<S> startActor(String name, Callable<S> factory);

  /** Stops all threads; tasks and actors still running are interrupted. Idempotent. */
  @Override
  void close();
}
