package dev.sluice.loader.internal.exec;

import dev.sluice.loader.ExecutionEvent;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeBlocks;
import dev.sluice.loader.runtime.Resources;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an execution does when a node says it is leaving cleanly (a worker stopped by SIGTERM): the
 * node takes no new work; its splits are handed over (each read on elsewhere, under the next
 * attempt, from the row where its reader stood), its actors retire (the pool starts others where
 * they fit), its running tasks end as usual and the blocks it holds are consumed as usual. Once it
 * holds nothing of the execution (no block, task, reader or actor), the execution lets it go: it
 * closes its half there, and the node, which waits for that, may leave without anything being made
 * again. A node that leaves (or dies) before that is a node lost after all ({@link
 * NodeLossRecovery}). When the nodes left after it cannot run the plan, the execution fails then,
 * naming it, as after a loss. Scheduling thread only.
 */
final class NodeHandOver {
  private static final Logger LOG = LoggerFactory.getLogger(NodeHandOver.class);

  private final StreamingExecutor executor;
  private final String execution;
  private final List<PhysicalOp> plan;
  private final List<OperatorState> ops;
  private final ResourceLedger resources;
  private final BlockDirectory blocks;
  private final LongSupplier clock;

  /** Nodes leaving and not let go yet, with when each said so (on the execution's clock). */
  private final Map<String, Leaving> leaving = new LinkedHashMap<>();

  private record Leaving(Node node, long since) {}

  NodeHandOver(
      StreamingExecutor executor,
      String execution,
      List<PhysicalOp> plan,
      List<OperatorState> ops,
      ResourceLedger resources,
      BlockDirectory blocks,
      LongSupplier clock) {
    this.executor = executor;
    this.execution = execution;
    this.plan = plan;
    this.ops = ops;
    this.resources = resources;
    this.blocks = blocks;
    this.clock = clock;
  }

  /** {@code node} says it is leaving. Idempotent; nothing for a node not (or no longer) here. */
  void nodeLeaving(Node node) {
    if (!resources.has(node) || resources.isLeaving(node) || executor.failed()) {
      return;
    }
    resources.leave(node);
    leaving.put(node.id(), new Leaving(node, clock.getAsLong()));
    int held = blocks.store(node.id()).size();
    executor.decided("node " + node.id() + " is leaving: hand over its work");
    executor.event(
        ExecutionEvent.Kind.NODE_LEAVING, node.id(), node + ", " + held + " blocks held there");
    for (OperatorState op : ops) {
      op.nodeLeaving(node);
    }
    String problem = ExecutionPlanning.resourcesLeftProblem(plan, resources);
    if (problem != null) {
      LOG.warn(
          "execution {}: {} is leaving, and the nodes left cannot run the plan ({}): the execution"
              + " waits for a node to join, and fails if none has when {} is gone",
          execution,
          node,
          problem,
          node.id());
    } else {
      LOG.info(
          "execution {}: {} is leaving; its work is handed over ({} blocks held there)",
          execution,
          node,
          held);
    }
  }

  /** Whether a node is leaving and not let go yet. */
  boolean any() {
    return !leaving.isEmpty();
  }

  /**
   * Lets go of every leaving node that holds nothing of the execution any more: forgets it and
   * closes its half there ({@code letGo}). A node lost meanwhile is forgotten here.
   */
  void letGoOfIdle(java.util.function.Consumer<Node> letGo) {
    for (Leaving l : new ArrayList<>(leaving.values())) {
      Node node = l.node();
      if (!resources.has(node)) {
        leaving.remove(node.id()); // lost before it had handed everything over
        continue;
      }
      if (holds(node)) {
        continue;
      }
      leaving.remove(node.id());
      resources.lose(node);
      letGo.accept(node);
      long nanos = clock.getAsLong() - l.since();
      executor.decided("let go of node " + node.id());
      executor.event(
          ExecutionEvent.Kind.NODE_LEFT,
          node.id(),
          String.format(java.util.Locale.ROOT, "handed its work over in %.0f ms", nanos / 1e6));
      LOG.info(
          "execution {}: {} handed its work over in {} ms and was let go",
          execution,
          node,
          nanos / 1_000_000);
      String problem = ExecutionPlanning.resourcesLeftProblem(plan, resources);
      if (problem != null && !ops.get(ops.size() - 1).isDone()) {
        // Nothing could run any more: fail rather than wait for a node that may never come.
        executor.fail(
            ExecutionPlanning.nodesLeftCannotRun(node, "left (its work handed over)", problem));
        return;
      }
    }
  }

  /** Whether the execution still has something on {@code node}. */
  private boolean holds(Node node) {
    // Bytes too: a block being taken, or whose release the node has not confirmed, still counts
    // there (closing the node's half under a transfer would break it).
    NodeBlocks store = blocks.store(node.id());
    if (store.size() > 0 || store.bytes() > 0) {
      return true;
    }
    Resources used = resources.usedOn(node);
    if (used.cpus() > 1e-9 || used.gpus() > 1e-9) {
      return true;
    }
    for (OperatorState op : ops) {
      if (op.holdsOn(node)) {
        return true;
      }
    }
    return false;
  }
}
