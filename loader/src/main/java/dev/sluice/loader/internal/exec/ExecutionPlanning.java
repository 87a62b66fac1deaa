package dev.sluice.loader.internal.exec;

import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.internal.plan.PhysicalOp.LimitOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.internal.plan.PhysicalOp.TaskMapOp;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * What an execution decides once, before it runs: the nodes it places work on, an operator state
 * for each operator of the plan, and whether the plan's resource requests can be met at all.
 */
final class ExecutionPlanning {
  private ExecutionPlanning() {}

  /**
   * The runtime's nodes; {@link ExecutionOptions#resources()}, when set, stands for the resources
   * of a runtime of one node.
   */
  static List<Node> nodes(ExecutionRuntime runtime, ExecutionOptions options) {
    List<Node> nodes = runtime.nodes();
    if (options.resources() == null) {
      return nodes;
    }
    if (nodes.size() != 1) {
      throw new IllegalArgumentException(
          "ExecutionOptions.withResources sets one node's resources; the runtime has "
              + nodes.size()
              + " nodes");
    }
    Node only = nodes.get(0);
    return List.of(new Node(only.id(), only.host(), options.resources()));
  }

  /** The state of operator {@code i}, its outputs in a child of {@code allocator}. */
  static OperatorState createState(
      int i,
      PhysicalOp op,
      ExecContext ctx,
      StreamingExecutor executor,
      BufferAllocator allocator) {
    if (op instanceof ReadOp r) {
      return new ReadOperatorState(
          i, r, EpochSplits.plan(r, ctx.epoch()), ctx, executor, allocator);
    }
    if (op instanceof TaskMapOp t) {
      return new MapOperatorState(
          i,
          t.name(),
          t.chain(),
          t.resources(),
          t.batchSize(),
          t.concurrency(),
          ctx,
          executor,
          allocator);
    }
    if (op instanceof ActorMapOp a) {
      return new ActorPoolOperatorState(i, a, ctx, executor, allocator);
    }
    if (op instanceof LimitOp l) {
      return new LimitOperatorState(i, l.rows(), ctx, executor, allocator);
    }
    throw new IllegalArgumentException("unknown operator " + op);
  }

  /**
   * Fails, naming the operator, when one task of it fits no node, or when the actor pools' minimum
   * sizes leave no room for one more task.
   */
  static void checkResources(List<PhysicalOp> plan, ResourceLedger resources) {
    Resources actors = Resources.NONE;
    for (PhysicalOp op : plan) {
      if (op instanceof ActorMapOp a) {
        actors =
            actors.plus(
                new Resources(
                    a.resources().cpus() * a.pool().min(), a.resources().gpus() * a.pool().min()));
      }
    }
    for (PhysicalOp op : plan) {
      Resources need =
          op instanceof ReadOp r
              ? r.resources()
              : op instanceof TaskMapOp t
                  ? t.resources()
                  : op instanceof ActorMapOp a ? a.resources() : Resources.NONE;
      if (!resources.fits(need)) {
        throw new SluiceException(
            "operator asks for "
                + need
                + " per task but no node of the runtime offers that (in all: "
                + resources.total()
                + ")",
            op.name(),
            null,
            null,
            null);
      }
    }
    Resources oneTask = Resources.cpus(1);
    if (!resources.total().fits(actors.plus(oneTask))) {
      throw new SluiceException(
          "the actor pools' minimum sizes need "
              + actors
              + ", which leaves no room for"
              + " the other operators' tasks in "
              + resources.total()
              + ": lower the pools' min or add resources",
          null,
          null,
          null,
          null);
    }
  }
}
