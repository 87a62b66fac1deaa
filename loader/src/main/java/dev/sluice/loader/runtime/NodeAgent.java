package dev.sluice.loader.runtime;

import java.util.concurrent.CompletableFuture;

/**
 * One node's half of an execution: what the scheduler asks of a node. It runs {@link TaskSpec task
 * specs} against the plan as built on the node, keeps each output in the node's {@link BlockStore}
 * under the name the spec gives it (its lineage), runs the actors of actor pools, and keeps the
 * readers of the splits leased to the node open between their blocks.
 *
 * <p>Everything that crosses this interface is data (specs, block references, outcomes), so an
 * agent may be this process (the local runtime's threads) or a proxy of another process (a cluster
 * member): the scheduler cannot tell. Methods never block; results come back as futures completed
 * on the node's threads. When the node is lost, what runs there fails with {@link
 * NodeLostException}. Thread-safe.
 */
public interface NodeAgent {

  /** The node. */
  Node node();

  /**
   * Runs a task ({@link TaskSpec.ReadBlock}, {@link TaskSpec.MapBundle} of a task map, {@link
   * TaskSpec.Remake}) on one of the node's task threads.
   *
   * @param spec the task
   * @return the task, running
   */
  Task run(TaskSpec spec);

  /**
   * Starts an actor of an actor pool on the node: its state is built there by the pool's own
   * factory in the node's plan, once.
   *
   * @param operator the actor pool's index in the plan
   * @param name the actor's name (its thread's, in diagnostics)
   */
  Actor startActor(int operator, String name);

  /** Closes the node's reader of {@code split}, if it has one open (the split is done or moved). */
  void closeReader(int split);

  /** Closes every reader the node holds (the execution ends, or the node was lost). */
  void closeReaders();

  /** A task started on the node. */
  interface Task {
    /** The task's outcome; fails with its error, or with {@link NodeLostException}. */
    CompletableFuture<TaskOutcome> outcome();

    /**
     * The bytes the task has allocated so far, or -1 when the node cannot say at once (another
     * process): the scheduler then counts the memory it reserved for the task.
     */
    long allocatedBytes();
  }

  /** An actor of an actor pool, on the node. */
  interface Actor {
    /** Completes when the actor's state is built; fails with its constructor's error. */
    CompletableFuture<Void> ready();

    /**
     * After the calls queued before: runs the actor's function over the rows a {@link
     * TaskSpec.MapBundle} names, or makes again a lost block of the actor's pool that a {@link
     * TaskSpec.Remake} names (its inputs from their lineage, then the actor's function).
     */
    Task call(TaskSpec spec);

    /** Stops the actor after the calls queued; completes when it is gone. */
    CompletableFuture<Void> stop();
  }
}
