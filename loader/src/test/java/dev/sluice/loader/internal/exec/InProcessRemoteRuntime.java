package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PlanFingerprint;
import dev.sluice.loader.runtime.ActorHandle;
import dev.sluice.loader.runtime.BlockLostException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.runtime.LocalRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.NodeBlocks;
import dev.sluice.loader.runtime.RemoteBlockMirror;
import dev.sluice.loader.runtime.RemoteExecution;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * A runtime whose every node is "another process" as the executor sees it, played in this JVM: each
 * node builds its half of an execution from the pipeline definition with a {@link NodeHost} of its
 * own (its own plan instance, its own allocator with the node's budget as a hard limit, its own
 * threads), refuses a plan whose fingerprint differs, and moves blocks only as copies, as the
 * cluster's transport does. What the cluster adds over this is the messaging.
 */
public final class InProcessRemoteRuntime implements ExecutionRuntime {
  private final List<Node> nodes;
  private final Map<String, RootAllocator> memory = new ConcurrentHashMap<>();
  private final Map<String, LocalRuntime> threads = new ConcurrentHashMap<>();
  private final Map<String, NodeHost> hosts = new ConcurrentHashMap<>();
  private final Map<String, Long> peaks = new ConcurrentHashMap<>();
  private final Sluice builder;
  private final java.util.concurrent.atomic.AtomicLong blockIds =
      new java.util.concurrent.atomic.AtomicLong();

  /** A definition parameter every node overrides, to make its plan differ (or not). */
  private volatile Map<String, String> overrides = Map.of();

  public InProcessRemoteRuntime(List<Node> nodes) {
    this.nodes = List.copyOf(nodes);
    for (Node n : nodes) {
      // Well above the budget: the scheduler's accounting bounds the memory, not this limit.
      memory.put(
          n.id(),
          new RootAllocator(
              RootAllocator.configBuilder()
                  .maxAllocation(8 * n.memoryBudget())
                  .roundingPolicy(dev.sluice.loader.memory.PageRoundingPolicy.INSTANCE)
                  .build()));
      threads.put(n.id(), new LocalRuntime(n));
    }
    // The context nodes build the pipeline in (its runtime runs nothing).
    this.builder = Sluice.builder().runtime(threads.get(nodes.get(0).id())).build();
  }

  /** Makes every node build the definition with these parameters changed. */
  public void overrideParameters(Map<String, String> changed) {
    this.overrides = Map.copyOf(changed);
  }

  /** The most bytes node {@code id} held at once, over every execution so far. */
  public long peak(String id) {
    long p = memory.get(id).getPeakMemoryAllocation();
    return Math.max(p, peaks.getOrDefault(id, 0L));
  }

  @Override
  public List<Node> nodes() {
    return nodes;
  }

  @Override
  public boolean isRemote(Node node) {
    return true;
  }

  @Override
  public RemoteNode openRemote(Node node, RemoteExecution ex) {
    Map<String, String> params = new java.util.TreeMap<>(ex.definition().parameters());
    params.putAll(overrides);
    var ds =
        builder.pipeline(
            new dev.sluice.loader.PipelineRef(ex.definition().className(), params),
            getClass().getClassLoader());
    NodeHost host =
        new NodeHost(
            ds,
            ex.epoch(),
            ex.options(),
            node,
            threads.get(node.id()),
            memory.get(node.id()),
            this::fetch,
            blockIds);
    String mismatch = host.fingerprint().firstDifference(new PlanFingerprint(ex.fingerprint()));
    if (mismatch != null) {
      host.close();
      throw new SluiceException(
          "node " + node.id() + " builds another plan than the trainer: " + mismatch,
          (Throwable) null);
    }
    hosts.put(node.id(), host);
    NodeBlocks mirror =
        new RemoteBlockMirror(
            node.id(),
            ex.fingerprint().size(),
            new RemoteBlockMirror.Transfer() {
              @Override
              public Taken take(BlockRef ref, BufferAllocator into) {
                Batch b = host.store().take(ref);
                try {
                  return Taken.alreadyDropped(b.slice(into, 0, b.rowCount()));
                } finally {
                  b.close();
                }
              }

              @Override
              public java.util.concurrent.CompletionStage<?> release(BlockRef ref) {
                host.store().release(ref);
                return java.util.concurrent.CompletableFuture.completedFuture(null);
              }

              @Override
              public void releaseAll() {
                host.store().closeAll();
              }
            });
    return new RemoteNode() {
      @Override
      public NodeAgent agent() {
        return host.agent();
      }

      @Override
      public NodeBlocks blocks() {
        return mirror;
      }

      @Override
      public void close() {
        hosts.remove(node.id());
        peaks.merge(node.id(), host.peakMemory(), Math::max);
        host.close();
      }
    };
  }

  /** A copy of a block another node holds, as the transport brings it. */
  private Batch fetch(BlockRef ref, BufferAllocator into) {
    NodeHost owner = hosts.get(ref.owner());
    if (owner == null || !owner.store().contains(ref)) {
      throw new BlockLostException(ref, owner == null);
    }
    Batch b = owner.store().get(ref);
    return b.slice(into, 0, b.rowCount());
  }

  @Override
  public <T> CompletableFuture<T> submit(Node node, String name, Callable<T> task) {
    throw new UnsupportedOperationException("every node is remote: tasks go through its agent");
  }

  @Override
  public <S> ActorHandle<S> startActor(Node node, String name, Callable<S> factory) {
    throw new UnsupportedOperationException("every node is remote: actors go through its agent");
  }

  @Override
  public Runnable addNodeListener(NodeListener listener) {
    return () -> {};
  }

  @Override
  public void close() {
    builder.close();
    List<RuntimeException> leaks = new ArrayList<>();
    for (LocalRuntime r : threads.values()) {
      r.close();
    }
    for (Map.Entry<String, RootAllocator> e : memory.entrySet()) {
      try {
        e.getValue().close();
      } catch (RuntimeException leak) {
        leaks.add(leak);
      }
    }
    if (!leaks.isEmpty()) {
      throw leaks.get(0);
    }
  }
}
