package dev.sluice.loader.internal.exec;

import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What an execution does when a node is lost, with the blocks it held and the tasks and actors on
 * it (which fail on their own, and are run again elsewhere by their operators): its splits go back
 * to the enumerator (read again, under a new attempt, from the row where the lost reader stood),
 * and every block it held that some holder still references is made again from its lineage on
 * another node, under the same name, so the consumer sees every row once. Scheduling thread only.
 */
final class NodeLossRecovery {
  private final StreamingExecutor executor;
  private final List<PhysicalOp> plan;
  private final List<OperatorState> ops;
  private final ResourceLedger resources;
  private final BlockDirectory blocks;
  private final Map<String, NodeAgent> agents;

  /** Lost blocks being made again (their current references), so that each is made once. */
  private final Set<BlockRef> remaking = new HashSet<>();

  /**
   * @param ops the operator states, filled at start (read when a node is lost)
   * @param agents each node's agent, filled at start
   */
  NodeLossRecovery(
      StreamingExecutor executor,
      List<PhysicalOp> plan,
      List<OperatorState> ops,
      ResourceLedger resources,
      BlockDirectory blocks,
      Map<String, NodeAgent> agents) {
    this.executor = executor;
    this.plan = plan;
    this.ops = ops;
    this.resources = resources;
    this.blocks = blocks;
    this.agents = agents;
  }

  /**
   * {@code node} is gone. Idempotent: a task failing with the node may report the loss before the
   * runtime does.
   *
   * @param heldElsewhere references held outside the operators (the consumer's channel, a bulk
   *     execution's finished blocks)
   */
  void nodeLost(Node node, String reason, List<BlockRef> heldElsewhere) {
    if (!resources.has(node) || executor.failed()) {
      return;
    }
    resources.lose(node);
    int dropped = blocks.store(node.id()).lose();
    blocks.nodeLost();
    executor.decided("lost node " + node.id() + " with " + dropped + " blocks");
    executor.event(
        dev.sluice.loader.ExecutionEvent.Kind.NODE_LOST,
        node.id(),
        node + " (" + reason + "), " + dropped + " blocks held there");
    String problem = ExecutionPlanning.resourcesLeftProblem(plan, resources);
    if (problem != null) {
      executor.fail(
          ExecutionPlanning.nodesLeftCannotRun(node, "was lost (" + reason + ")", problem));
      return;
    }
    for (OperatorState op : ops) {
      op.nodeLost(node);
    }
    agents.get(node.id()).closeReaders(); // its readers are gone with it
    for (OperatorState op : ops) {
      op.heldRefs().forEach(this::remakeIfOnALostNode);
    }
    heldElsewhere.forEach(this::remakeIfOnALostNode);
  }

  /**
   * {@link #remakeIfLost}, for a block whose node is no longer one of the execution's. A block of a
   * node that serves is not made again even when it is not {@link BlockDirectory#ready} now: it may
   * be in the middle of a take (a holder's list can still show a block the consumer is taking, and
   * a node's account drops a block as its transfer starts), and made again, its copy would be left
   * to nobody.
   */
  private void remakeIfOnALostNode(BlockRef ref) {
    if (!resources.hasNode(blocks.current(ref).owner())) {
      remakeIfLost(ref);
    }
  }

  /**
   * Has {@code ref}'s block made again from its lineage if it is lost (once, however many holders
   * ask): by the operator that made it, or, for a limit's cut, by the nearest task operator
   * upstream.
   */
  void remakeIfLost(BlockRef ref) {
    if (blocks.ready(ref) || blocks.settled(ref) || !remaking.add(blocks.current(ref))) {
      return;
    }
    int i = ref.lineage().operator();
    while (i > 0 && !ops.get(i).runsTasks()) {
      i--;
    }
    OperatorState remaker = ops.get(i);
    if (!remaker.remakes()) {
      executor.fail(
          NodeWorker.actorBlockLost(ops.get(ref.lineage().operator()).name, ref.lineage()));
      return;
    }
    executor.decided("remake " + ref.lineage().dedupKey() + " by " + remaker.name);
    remaker.queueRemake(ref);
  }

  /** A lost block was made again: its holders now read {@code remade}. */
  void remade(BlockRef lost, BlockRef remade) {
    remaking.remove(blocks.current(lost));
    if (!blocks.succeed(lost, remade)) {
      executor.decided(
          "dropped " + remade + ": " + lost.lineage().dedupKey() + " was made again already");
      return;
    }
    executor.event(
        dev.sluice.loader.ExecutionEvent.Kind.BLOCK_REMADE,
        remade.owner(),
        lost.lineage().dedupKey());
  }

  /**
   * The bytes node {@code nodeId} holds: the blocks in its store, counted from their references,
   * and the memory reserved for the tasks running there (what placement by free memory reads).
   */
  long memoryInUse(String nodeId) {
    long bytes = blocks.store(nodeId).bytes();
    for (OperatorState op : ops) {
      for (OperatorState.Running r : op.running.values()) {
        if (r.node().id().equals(nodeId)) {
          bytes += r.reserve();
        }
      }
    }
    return bytes;
  }
}
