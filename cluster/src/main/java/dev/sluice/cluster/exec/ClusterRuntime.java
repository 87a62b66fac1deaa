package dev.sluice.cluster.exec;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.ExecutionCallback;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceNotActiveException;
import com.hazelcast.core.IExecutorService;
import com.hazelcast.core.MemberLeftException;
import com.hazelcast.spi.exception.TargetNotMemberException;
import dev.sluice.cluster.ClusterListener;
import dev.sluice.cluster.SluiceMember;
import dev.sluice.cluster.transport.BlockTransport;
import dev.sluice.cluster.wire.ExecutionCodec;
import dev.sluice.cluster.wire.SpecCodec;
import dev.sluice.loader.Batch;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.runtime.ActorHandle;
import dev.sluice.loader.runtime.BlockLostException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.NodeBlocks;
import dev.sluice.loader.runtime.NodeLostException;
import dev.sluice.loader.runtime.RemoteBlockMirror;
import dev.sluice.loader.runtime.RemoteExecution;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The runtime of a trainer in a cluster: the workers are its nodes, each another process. The
 * scheduler runs in the trainer; for each execution every worker builds its half from the
 * pipeline's definition ({@link WorkerService}), tasks and actor calls go to it as Hazelcast
 * executor calls carrying task specs, outcomes come back as block references, and the blocks the
 * consumer takes come through the {@link BlockTransport}, straight from the worker that made them.
 * A worker that leaves the cluster is a node lost: what ran there fails with {@link
 * NodeLostException} and the scheduler's listeners are told.
 *
 * <p>Use: {@code Sluice.builder().runtime(new ClusterRuntime(trainer, transport))}, with datasets
 * built by {@code sluice.pipeline(Definition.class, parameters)}. The runtime does not own the
 * member or the transport.
 */
public final class ClusterRuntime implements ExecutionRuntime {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterRuntime.class);

  /** The Hazelcast executor Sluice's calls run on, on every member. */
  public static final String EXECUTOR = "sluice";

  private final SluiceMember member;
  private final BlockTransport transport;
  private final Duration openTimeout;
  private final Duration takeTimeout;
  private volatile ClusterSplitExchange exchange;

  /**
   * @param member this trainer's member of the cluster
   * @param transport this trainer's transport (it fetches the blocks the consumer takes)
   */
  public ClusterRuntime(SluiceMember member, BlockTransport transport) {
    this(member, transport, Duration.ofSeconds(60), Duration.ofSeconds(120));
  }

  /**
   * @param member this trainer's member of the cluster
   * @param transport this trainer's transport
   * @param openTimeout how long a worker may take to build its half of an execution
   * @param takeTimeout how long the consumer waits for a block it takes
   */
  public ClusterRuntime(
      SluiceMember member, BlockTransport transport, Duration openTimeout, Duration takeTimeout) {
    this.member = member;
    this.transport = transport;
    this.openTimeout = openTimeout;
    this.takeTimeout = takeTimeout;
    this.leases = SplitLeases.forTrainer(member.hazelcast(), () -> member.self().id());
  }

  private final SplitLeases leases;

  /** The cluster's record of split leases (see {@link SplitLeases}). */
  @Override
  public dev.sluice.loader.runtime.LeaseLedger leaseLedger() {
    return leases;
  }

  /** Shares streaming splits with the other trainers (set by {@link ClusterTrainer}). */
  void exchange(ClusterSplitExchange exchange) {
    this.exchange = exchange;
  }

  /**
   * The trainers' split exchange (the coordinator hosts; the others attach), or null for a runtime
   * made without a {@link ClusterTrainer}.
   */
  @Override
  public dev.sluice.loader.runtime.SplitExchange splitExchange() {
    return exchange;
  }

  /** The workers now, in the same stable order on every member. */
  @Override
  public List<Node> nodes() {
    return member.workers();
  }

  @Override
  public boolean isRemote(Node node) {
    return true;
  }

  @Override
  public boolean isLeaving(Node node) {
    return member.isLeaving(java.util.UUID.fromString(node.id()));
  }

  @Override
  public RemoteNode openRemote(Node node, RemoteExecution execution) {
    // Unique in the cluster: this member's id and the scheduler's own.
    RemoteExecution ex =
        new RemoteExecution(
            member.self().id() + "/" + execution.id(),
            execution.definition(),
            execution.epoch(),
            execution.options(),
            execution.fingerprint(),
            execution.splits());
    Member target = memberOf(node);
    try {
      call(node, target, new WorkerCalls.Open(ex), in -> null)
          .get(openTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SluiceException("interrupted while opening the execution on " + node, e);
    } catch (TimeoutException e) {
      throw new SluiceException(
          "worker " + node + " did not open the execution within " + openTimeout, e);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException r
          ? r
          : new SluiceException("opening the execution on " + node + " failed", e.getCause());
    }
    return new Remote(node, target, ex);
  }

  /** A worker's half of one execution, as the scheduler reaches it. */
  private final class Remote implements RemoteNode, NodeAgent, RemoteBlockMirror.Transfer {
    private final Node node;
    private final Member target;
    private final String id;
    private final RemoteBlockMirror blocks;

    Remote(Node node, Member target, RemoteExecution ex) {
      this.node = node;
      this.target = target;
      this.id = ex.id();
      this.blocks = new RemoteBlockMirror(node.id(), ex.fingerprint().size(), this);
    }

    @Override
    public NodeAgent agent() {
      return this;
    }

    @Override
    public NodeBlocks blocks() {
      return blocks;
    }

    @Override
    public void close() {
      send(new WorkerCalls.Close(id));
    }

    // ---- NodeAgent

    @Override
    public Node node() {
      return node;
    }

    @Override
    public Task run(TaskSpec spec) {
      CompletableFuture<TaskOutcome> f =
          call(node, target, new WorkerCalls.Run(id, spec), SpecCodec::readOutcome);
      return remoteTask(f);
    }

    @Override
    public Actor startActor(int operator, String name) {
      CompletableFuture<Void> ready =
          call(node, target, new WorkerCalls.StartActor(id, operator, name), in -> null);
      return new Actor() {
        @Override
        public CompletableFuture<Void> ready() {
          return ready;
        }

        @Override
        public Task call(TaskSpec spec) {
          return remoteTask(
              ClusterRuntime.this.call(
                  node, target, new WorkerCalls.CallActor(id, name, spec), SpecCodec::readOutcome));
        }

        @Override
        public CompletableFuture<Void> stop() {
          return ClusterRuntime.this.call(
              node, target, new WorkerCalls.StopActor(id, name), in -> null);
        }
      };
    }

    @Override
    public void closeReader(int split) {
      send(new WorkerCalls.CloseReader(id, split));
    }

    @Override
    public void closeReaders() {
      send(new WorkerCalls.CloseReader(id, -1));
    }

    // ---- RemoteBlockMirror.Transfer

    @Override
    public Taken take(BlockRef ref, BufferAllocator into) {
      InetSocketAddress owner = WorkerService.transportOf(member.hazelcast(), ref.owner());
      if (owner == null) {
        throw new BlockLostException(ref, true);
      }
      try {
        BlockTransport.Taken t = transport.take(owner, ref.id(), into);
        Batch b = t.block().get(takeTimeout.toMillis(), TimeUnit.MILLISECONDS);
        // Without the worker's word (its connection lost after the block came), it may still hold
        // the block: the release call drops it there if so, and answers either way.
        return new Taken(
            b,
            t.dropped()
                .handle((v, e) -> e)
                .thenCompose(
                    e ->
                        e == null
                            ? CompletableFuture.completedFuture(null)
                            : release(ref).thenApply(x -> null)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new SluiceException("interrupted while taking " + ref, e);
      } catch (TimeoutException e) {
        throw new SluiceException("no answer for " + takeTimeout + " taking " + ref, e);
      } catch (ExecutionException e) {
        throw WorkerService.lostOrFailed(ref, e.getCause());
      }
    }

    @Override
    public java.util.concurrent.CompletionStage<?> release(BlockRef ref) {
      return send(new WorkerCalls.Release(id, new long[] {ref.id()}, false));
    }

    @Override
    public void releaseAll() {
      send(new WorkerCalls.Release(id, new long[0], true));
    }

    private CompletableFuture<Object> send(WorkerCalls.Call c) {
      return call(node, target, c, in -> null)
          .whenComplete(
              (v, e) -> {
                if (e != null && !(unwrap(e) instanceof NodeLostException)) {
                  LOG.warn("{} on {} failed", c.getClass().getSimpleName(), node, e);
                }
              });
    }
  }

  private static NodeAgent.Task remoteTask(CompletableFuture<TaskOutcome> f) {
    return new NodeAgent.Task() {
      @Override
      public CompletableFuture<TaskOutcome> outcome() {
        return f;
      }

      /** Another process: the scheduler counts the memory it reserved for the task. */
      @Override
      public long allocatedBytes() {
        return -1;
      }
    };
  }

  /** Sends a call to a worker; the future completes with its reply, read by {@code reader}. */
  private <T> CompletableFuture<T> call(
      Node node, Member target, Callable<byte[]> c, ExecutionCodec.PayloadReader<T> reader) {
    CompletableFuture<T> f = new CompletableFuture<>();
    String where = "worker " + node;
    try {
      executor()
          .submitToMember(
              c,
              target,
              new ExecutionCallback<byte[]>() {
                @Override
                public void onResponse(byte[] reply) {
                  try {
                    f.complete(ExecutionCodec.read(reply, reader, where));
                  } catch (IOException | RuntimeException e) {
                    f.completeExceptionally(e);
                  }
                }

                @Override
                public void onFailure(Throwable t) {
                  f.completeExceptionally(lostOr(node, t));
                }
              });
    } catch (RuntimeException e) {
      f.completeExceptionally(lostOr(node, e));
    }
    return f;
  }

  /** A failure that means the worker is gone becomes {@link NodeLostException}. */
  private static Throwable lostOr(Node node, Throwable t) {
    Throwable e = unwrap(t);
    if (e instanceof MemberLeftException
        || e instanceof TargetNotMemberException
        || e instanceof HazelcastInstanceNotActiveException) {
      return new NodeLostException(node, "worker left the cluster: " + e.getMessage());
    }
    return e;
  }

  private static Throwable unwrap(Throwable t) {
    Throwable e = t;
    while ((e instanceof ExecutionException
            || e instanceof java.util.concurrent.CompletionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }

  private IExecutorService executor() {
    return member.hazelcast().getExecutorService(EXECUTOR);
  }

  private Member memberOf(Node node) {
    HazelcastInstance hz = member.hazelcast();
    for (Member m : hz.getCluster().getMembers()) {
      if (m.getUuid().toString().equals(node.id())) {
        return m;
      }
    }
    throw new NodeLostException(node, "worker is not in the cluster");
  }

  @Override
  public <T> CompletableFuture<T> submit(Node node, String name, Callable<T> task) {
    throw new UnsupportedOperationException(
        "every node of a cluster runtime is another process: tasks go through its agent");
  }

  @Override
  public <S> ActorHandle<S> startActor(Node node, String name, Callable<S> factory) {
    throw new UnsupportedOperationException(
        "every node of a cluster runtime is another process: actors go through its agent");
  }

  @Override
  public Runnable addNodeListener(NodeListener listener) {
    return member.addListener(
        new ClusterListener() {
          @Override
          public void workerLost(Node worker) {
            listener.nodeLost(worker, "worker " + worker + " left the cluster");
          }

          @Override
          public void workerJoined(Node worker) {
            listener.nodeJoined(worker);
          }

          @Override
          public void workerLeaving(Node worker) {
            listener.nodeLeaving(worker);
          }
        });
  }

  /** Nothing to stop: the member and the transport belong to whoever started them. */
  @Override
  public void close() {}
}
