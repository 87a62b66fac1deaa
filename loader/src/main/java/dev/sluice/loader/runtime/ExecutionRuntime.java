package dev.sluice.loader.runtime;

import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * Where the streaming executor runs its work: stateless tasks and stateful actors, each placed on
 * one of the runtime's {@link Node nodes}. The local runtime ({@link LocalRuntime}) is one node,
 * threads of this JVM; the cluster runtime's nodes are Hazelcast members.
 *
 * <p>The executor does its own resource accounting against each node's resources and never submits
 * more than fits; a runtime therefore runs what it is given at once. Methods never block the
 * caller: results come back as futures, completed on the runtime's threads. When a node is lost,
 * the work on it fails with {@link NodeLostException} and the listeners are told. Thread-safe.
 */
public interface ExecutionRuntime extends AutoCloseable {

  /** Told of nodes lost, and of nodes that joined. */
  @FunctionalInterface
  interface NodeListener {
    /** {@code node} is gone (called on any thread); its tasks and actors fail. */
    void nodeLost(Node node, String reason);

    /** {@code node} joined (called on any thread): work may be placed on it from now on. */
    default void nodeJoined(Node node) {}

    /**
     * {@code node} is leaving cleanly (called on any thread): no new work goes there; what it reads
     * and runs is handed over to the other nodes, its blocks are consumed as usual, and once it
     * holds nothing of an execution, the execution lets it go (closes its half there). It is lost
     * after all if it leaves before that.
     */
    default void nodeLeaving(Node node) {}
  }

  /** The nodes work can be placed on now, in a stable order. */
  List<Node> nodes();

  /**
   * Whether {@code node} has said it is leaving (see {@link NodeListener#nodeLeaving}): an
   * execution that starts while it leaves places nothing there. False by default.
   */
  default boolean isLeaving(Node node) {
    return false;
  }

  /** The logical resources of all nodes together. */
  default Resources totalResources() {
    Resources sum = Resources.NONE;
    for (Node n : nodes()) {
      sum = sum.plus(n.resources());
    }
    return sum;
  }

  /**
   * Runs a task on {@code node}.
   *
   * @param name a name for the thread and for diagnostics
   * @param task the work; its exception completes the future exceptionally
   */
  <T> CompletableFuture<T> submit(Node node, String name, Callable<T> task);

  /**
   * Starts an actor on {@code node}: one thread of its own that constructs its state with {@code
   * factory} (once) and then runs calls one at a time. {@link ActorHandle#ready()} completes when
   * the state is built (or fails with the constructor's exception).
   */
  <S> ActorHandle<S> startActor(Node node, String name, Callable<S> factory);

  /**
   * A node's half of an execution, when the node is another process: its agent (task specs and
   * actors, by message) and the scheduler's account of its blocks. Null (the default) when the node
   * runs in this process: the executor then runs its tasks on this runtime's threads itself.
   *
   * @param node one of {@link #nodes()}
   * @param execution what the node builds its half from
   * @throws dev.sluice.loader.SluiceException when the node cannot take part (it cannot build the
   *     pipeline, or builds another plan)
   */
  default RemoteNode openRemote(Node node, RemoteExecution execution) {
    return null;
  }

  /**
   * Where streaming splits are shared with consumers in other processes, or null (the default) when
   * this runtime's consumers are all in this process.
   */
  default SplitExchange splitExchange() {
    return null;
  }

  /**
   * Where executions record their split leases ({@link LeaseLedger#NONE} when the runtime keeps no
   * record: a single process, whose scheduler is the only one).
   */
  default LeaseLedger leaseLedger() {
    return LeaseLedger.NONE;
  }

  /**
   * Whether {@code node} is another process (its half of an execution is opened by {@link
   * #openRemote}).
   */
  default boolean isRemote(Node node) {
    return false;
  }

  /** A node's half of an execution in another process. */
  interface RemoteNode {
    /** Runs the node's tasks and actors. */
    NodeAgent agent();

    /** The scheduler's account of the blocks the node holds. */
    NodeBlocks blocks();

    /**
     * The execution is over (or failed): the node drops what it still holds of it. No answer is
     * awaited.
     */
    void close();
  }

  /**
   * Tells {@code listener} of every node lost, and every node that joined, from now on, until the
   * returned action is run.
   */
  Runnable addNodeListener(NodeListener listener);

  /** Stops all threads; tasks and actors still running are interrupted. Idempotent. */
  @Override
  void close();
}
