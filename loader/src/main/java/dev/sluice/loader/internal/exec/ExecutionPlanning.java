package dev.sluice.loader.internal.exec;

import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.PipelineRef;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.internal.plan.PhysicalOp.LimitOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.internal.plan.PhysicalOp.TaskMapOp;
import dev.sluice.loader.internal.plan.PlanFingerprint;
import dev.sluice.loader.runtime.BlockStore;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.NodeBlocks;
import dev.sluice.loader.runtime.RemoteExecution;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.sharding.SourceSplit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.arrow.memory.BufferAllocator;

/**
 * What an execution decides once, before it runs: the nodes it places work on, an operator state
 * for each operator of the plan, and whether the plan's resource requests can be met at all.
 */
final class ExecutionPlanning {
  private static final org.slf4j.Logger LOG =
      org.slf4j.LoggerFactory.getLogger(ExecutionPlanning.class);

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

  /**
   * Opens the half of the execution of each node that is another process (see {@link
   * ExecutionRuntime#openRemote}); closes those opened when one fails.
   *
   * @throws SluiceException when a node is remote and the dataset has no definition to build there
   */
  static Map<String, ExecutionRuntime.RemoteNode> openRemotes(
      ExecutionRuntime runtime,
      List<Node> nodes,
      List<PhysicalOp> plan,
      PipelineRef definition,
      int epoch,
      ExecutionOptions options,
      String executionId,
      String splits) {
    Map<String, ExecutionRuntime.RemoteNode> remotes = new LinkedHashMap<>();
    try {
      for (Node n : nodes) {
        if (!runtime.isRemote(n)) {
          continue;
        }
        if (definition == null) {
          throw new SluiceException(
              "this dataset would run on "
                  + n
                  + ", another process, which builds the pipeline itself: build the dataset with"
                  + " Sluice.pipeline(YourDefinition.class, parameters) (see PipelineDefinition);"
                  + " it was built otherwise, or transformed after its definition built it",
              (Throwable) null);
        }
        ExecutionRuntime.RemoteNode r;
        try {
          r = openRemote(runtime, n, plan, definition, epoch, options, executionId, splits);
        } catch (dev.sluice.loader.runtime.NodeLostException lost) {
          // Gone since the runtime listed it (a worker killed just before): it takes no part.
          LOG.warn(
              "execution {}: {} left as the execution opened: it takes no part", executionId, n);
          continue;
        }
        remotes.put(n.id(), r);
      }
    } catch (RuntimeException e) {
      remotes.values().forEach(ExecutionRuntime.RemoteNode::close);
      throw e;
    }
    return remotes;
  }

  /** Opens the half of the execution of one remote node (see {@link #openRemotes}). */
  static ExecutionRuntime.RemoteNode openRemote(
      ExecutionRuntime runtime,
      Node n,
      List<PhysicalOp> plan,
      PipelineRef definition,
      int epoch,
      ExecutionOptions options,
      String executionId,
      String splits) {
    RemoteExecution ex =
        new RemoteExecution(
            executionId, definition, epoch, options, PlanFingerprint.of(plan).lines(), splits);
    ExecutionRuntime.RemoteNode r = runtime.openRemote(n, ex);
    if (r == null) {
      throw new IllegalStateException("the runtime opened nothing on remote node " + n);
    }
    return r;
  }

  /**
   * The nodes an execution runs on: those of this process, and the remote ones whose half was
   * opened (a node lost as the execution opened takes no part).
   *
   * @throws SluiceException when none is left
   */
  static List<Node> opened(
      ExecutionRuntime runtime,
      List<Node> nodes,
      Map<String, ExecutionRuntime.RemoteNode> remotes) {
    List<Node> opened = new java.util.ArrayList<>();
    for (Node n : nodes) {
      if (!runtime.isRemote(n) || remotes.containsKey(n.id())) {
        opened.add(n);
      }
    }
    if (opened.isEmpty()) {
      throw new SluiceException(
          "every node left as the execution opened: " + nodes, (Throwable) null);
    }
    return opened;
  }

  /**
   * Each node's blocks, in one directory: a remote node's account, an empty store for a node of
   * this process.
   */
  static BlockDirectory blocks(List<Node> nodes, Map<String, ExecutionRuntime.RemoteNode> remotes) {
    Map<String, NodeBlocks> stores = new LinkedHashMap<>();
    for (Node n : nodes) {
      ExecutionRuntime.RemoteNode r = remotes.get(n.id());
      stores.put(n.id(), r != null ? r.blocks() : new BlockStore(n.id()));
    }
    return new BlockDirectory(stores);
  }

  /**
   * An agent for each node of {@code blocks}: a remote node's own, or one running the node's tasks
   * and actors in this process on the runtime's threads, over the plan and its operator states.
   */
  static Map<String, NodeAgent> agents(
      List<PhysicalOp> plan,
      List<OperatorState> ops,
      ExecContext ctx,
      BlockDirectory blocks,
      Map<String, ExecutionRuntime.RemoteNode> remotes) {
    Map<Integer, SourceSplit> splits =
        ops.get(0) instanceof ReadOperatorState read ? read.splitsByIndex() : Map.of();
    List<String> names = ops.stream().map(op -> op.name).toList();
    Map<String, Node> nodes = new LinkedHashMap<>();
    for (Node n : ctx.runtime().nodes()) {
      nodes.put(n.id(), n);
    }
    Map<String, NodeAgent> agents = new LinkedHashMap<>();
    for (NodeBlocks nodeBlocks : blocks.stores()) {
      String id = nodeBlocks.owner();
      ExecutionRuntime.RemoteNode remote = remotes.get(id);
      if (remote != null) {
        agents.put(id, remote.agent());
        continue;
      }
      NodeWorker worker =
          new NodeWorker(id, plan, names, ctx, blocks, splits, i -> ops.get(i).allocator);
      agents.put(
          id,
          new LocalNodeAgent(
              nodes.get(id),
              ctx.runtime(),
              worker,
              (BlockStore) nodeBlocks,
              plan,
              names,
              i -> ops.get(i).allocator));
    }
    return agents;
  }

  /** The state of operator {@code i}, its outputs in a child of {@code allocator}. */
  static OperatorState createState(
      int i,
      PhysicalOp op,
      ExecContext ctx,
      StreamingExecutor executor,
      BufferAllocator allocator) {
    if (op instanceof ReadOp r) {
      dev.sluice.sharding.EpochPlan listed = executor == null ? null : executor.readPlan();
      return new ReadOperatorState(
          i,
          r,
          listed != null ? listed : EpochSplits.plan(r, ctx.epoch()),
          ctx,
          executor,
          allocator);
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
   * Fails when the runtime cannot run the plan: an operator asks for more per task than any node
   * offers, or the actor pools' minimum sizes leave no room for one more task.
   */
  static void checkResources(List<PhysicalOp> plan, ResourceLedger resources) {
    String problem = resourceProblem(plan, resources, resources::fits);
    if (problem != null) {
      throw new SluiceException(problem, null, null, null, null);
    }
  }

  /**
   * Why the nodes left cannot run the plan (after a node was lost), judged by what they offer
   * rather than what is free now; null when they can.
   */
  static String resourcesLeftProblem(List<PhysicalOp> plan, ResourceLedger resources) {
    return resourceProblem(plan, resources, resources::canEverFit);
  }

  /**
   * The error of an execution whose nodes left cannot run the plan after {@code node} went ({@code
   * how}: "was lost (...)", "left ...").
   */
  static SluiceException nodesLeftCannotRun(Node node, String how, String problem) {
    return new SluiceException(
        "node " + node + " " + how + "; the nodes left cannot run the plan: " + problem,
        null,
        null,
        null,
        null);
  }

  private static String resourceProblem(
      List<PhysicalOp> plan, ResourceLedger resources, Predicate<Resources> fits) {
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
      if (!fits.test(need)) {
        return op.name()
            + " asks for "
            + need
            + " per task but no node of the runtime offers that (in all: "
            + resources.total()
            + ")";
      }
    }
    Resources oneTask = Resources.cpus(1);
    if (!resources.total().fits(actors.plus(oneTask))) {
      return "the actor pools' minimum sizes need "
          + actors
          + ", which leaves no room for"
          + " the other operators' tasks in "
          + resources.total()
          + ": lower the pools' min or add resources";
    }
    return null;
  }
}
