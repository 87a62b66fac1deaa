package dev.sluice.loader.internal.exec;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.internal.plan.DatasetPlans;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.internal.plan.PlanFingerprint;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.BlockStore;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.source.ReadContext;
import dev.sluice.sharding.SourceSplit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A node's half of an execution in a process of its own (a cluster worker): the plan built there
 * from the same {@link dev.sluice.loader.PipelineDefinition} as the trainer's, the epoch's splits,
 * the node's block store and an agent that runs the scheduler's task specs on the runtime's threads
 * (the worker's own). The scheduler, in the trainer, reaches it through a proxy of {@link
 * NodeAgent}; blocks the node holds leave it through the transport, and blocks it reads from other
 * nodes come in through {@code remote}.
 *
 * <p>Memory: one allocator per execution (a child of the worker's, whose limit is the worker's
 * budget), one child per operator, one grandchild per task, as in one JVM. Closing the host closes
 * the readers, drops the blocks still held and closes the allocators.
 */
public final class NodeHost implements AutoCloseable {
  private final Node node;
  private final List<PhysicalOp> plan;
  private final PlanFingerprint fingerprint;
  private final String splitPlan;
  private final BufferAllocator allocator;
  private final List<BufferAllocator> operatorAllocators = new ArrayList<>();
  private final BlockStore store;
  private final BadRecords badRecords;
  private final LocalNodeAgent agent;

  /**
   * @param dataset the dataset as the definition built it on this node
   * @param epoch the epoch the execution runs
   * @param options the execution's options (targets, allowance), the trainer's
   * @param node this node
   * @param runtime whose threads run the node's tasks and actors (not owned)
   * @param parent the worker's allocator; the host takes a child of it
   * @param remote where blocks held by other nodes are fetched (into the task's allocator)
   * @param blockIds where the ids of the blocks the node makes come from (shared by the process's
   *     hosts, so that an id names one block in the process)
   */
  public NodeHost(
      Dataset dataset,
      int epoch,
      ExecutionOptions options,
      Node node,
      ExecutionRuntime runtime,
      BufferAllocator parent,
      RemoteBlocks remote,
      java.util.concurrent.atomic.AtomicLong blockIds) {
    this.node = node;
    this.plan = DatasetPlans.plan(dataset);
    this.fingerprint = PlanFingerprint.of(plan);
    this.store = new BlockStore(node.id(), blockIds);
    this.badRecords = new BadRecords(options.badRecordAllowance());
    Map<Integer, SourceSplit> splits = new HashMap<>();
    if (plan.get(0) instanceof ReadOp read) {
      dev.sluice.sharding.EpochPlan listed = EpochSplits.plan(read, epoch);
      this.splitPlan = EpochSplits.describe(listed);
      for (SourceSplit s : listed.splits()) {
        splits.put(s.index(), s);
      }
    } else {
      this.splitPlan = "";
    }
    this.allocator = parent.newChildAllocator("node-" + node.id(), 0, Long.MAX_VALUE);
    List<String> names = new ArrayList<>(plan.size());
    for (int i = 0; i < plan.size(); i++) {
      PhysicalOp op = plan.get(i);
      names.add(op.name());
      operatorAllocators.add(
          allocator.newChildAllocator("op" + i + "-" + op.name(), 0, Long.MAX_VALUE));
    }
    ExecContext ctx =
        new ExecContext(
            runtime,
            options,
            badRecords,
            new ReadContext(options.targetBlockRows(), options.targetBlockBytes(), badRecords),
            event -> {
              throw new IllegalStateException("a node host has no scheduler");
            },
            null,
            epoch,
            System::nanoTime);
    InputBlocks inputs =
        (ref, taskAllocator) ->
            ref.owner().equals(node.id())
                ? new InputBlocks.Opened(store.get(ref), false)
                : new InputBlocks.Opened(remote.fetch(ref, taskAllocator), true);
    NodeWorker worker =
        new NodeWorker(node.id(), plan, names, ctx, inputs, splits, operatorAllocators::get);
    this.agent =
        new LocalNodeAgent(node, runtime, worker, store, plan, names, operatorAllocators::get);
  }

  /** Fetches a block another node holds. */
  @FunctionalInterface
  public interface RemoteBlocks {
    /**
     * A copy of the block in {@code into}, owned by the caller.
     *
     * @throws dev.sluice.loader.runtime.BlockLostException when its node no longer has it
     */
    dev.sluice.loader.Batch fetch(BlockRef ref, BufferAllocator into);
  }

  /** The node. */
  public Node node() {
    return node;
  }

  /**
   * The epoch's splits as listed here ({@code "<count> splits, <digest>"}, empty without a read):
   * they must be the trainer's.
   */
  public String splitPlan() {
    return splitPlan;
  }

  /** The plan's fingerprint here: the trainer compares it with its own before any task runs. */
  public PlanFingerprint fingerprint() {
    return fingerprint;
  }

  /** Runs the scheduler's task specs and actors on this node. */
  public NodeAgent agent() {
    return agent;
  }

  /** The blocks this node holds. */
  public BlockStore store() {
    return store;
  }

  /** Bad records skipped on this node. */
  public long badRecordsSkipped() {
    return badRecords.skipped();
  }

  /** Bytes the node's tasks and blocks hold now. */
  public long allocatedMemory() {
    return allocator.getAllocatedMemory();
  }

  /** The most bytes the node's tasks and blocks held at once. */
  public long peakMemory() {
    return allocator.getPeakMemoryAllocation();
  }

  /**
   * Closes the readers, drops the blocks still held and closes the allocators; call once no task or
   * actor of the execution runs here any more.
   *
   * @throws IllegalStateException when memory is still held (a leak, named by the allocator)
   */
  @Override
  public void close() {
    agent.closeReaders();
    store.closeAll();
    for (BufferAllocator a : operatorAllocators) {
      a.close();
    }
    allocator.close();
  }
}
