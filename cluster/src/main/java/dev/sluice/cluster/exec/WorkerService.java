package dev.sluice.cluster.exec;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import dev.sluice.cluster.ClusterException;
import dev.sluice.cluster.MemberInfo;
import dev.sluice.cluster.MemberStats;
import dev.sluice.cluster.transport.BlockSource;
import dev.sluice.cluster.transport.BlockTransport;
import dev.sluice.cluster.transport.BlockTransportException;
import dev.sluice.cluster.transport.CountsTraffic;
import dev.sluice.cluster.transport.TransportTraffic;
import dev.sluice.loader.Batch;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.exec.NodeHost;
import dev.sluice.loader.internal.plan.PlanFingerprint;
import dev.sluice.loader.memory.PageRoundingPolicy;
import dev.sluice.loader.runtime.AttemptSupersededException;
import dev.sluice.loader.runtime.BlockLostException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.LocalRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.RemoteExecution;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a worker does for the trainers' schedulers: for each execution opened on it, its half of the
 * execution ({@link NodeHost}: the plan built here from the pipeline's definition, the node's
 * blocks, its split readers and actors), run on the worker's own threads within its memory budget;
 * the blocks it holds served to other processes through the {@link BlockTransport} ({@link
 * BlockSource}), the blocks it reads from others fetched through it.
 *
 * <p>Memory: one Arrow allocator for the worker, whose limit is twice the budget it advertises: the
 * schedulers keep it within the budget by their accounting, the limit is the safety net. Thread-
 * safe: calls come on Hazelcast's executor threads, fetches on the transport's.
 */
public final class WorkerService implements BlockSource, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerService.class);

  /** Where a member's service is found in Hazelcast's user context. */
  static final String KEY = "dev.sluice.cluster.worker";

  /** The longest a task waits for a block another worker holds. */
  private static final long FETCH_TIMEOUT_SECONDS = 120;

  private final long memoryBudget;
  private final ClassLoader pipelines;
  private final RootAllocator memory;
  private final AtomicLong blockIds = new AtomicLong();
  private final MemberSampler sampler = new MemberSampler();
  private final Map<String, Execution> executions = new ConcurrentHashMap<>();
  private volatile HazelcastInstance hazelcast;
  private volatile BlockTransport transport;
  private volatile Node self;
  private volatile LocalRuntime threads;
  private volatile Sluice builder;

  /**
   * Blocks being sent by the transport, by id: how many sends are in flight, and whether the block
   * was released meanwhile. A block is closed only once no send reads it any more: closing it
   * closes the allocator of the task that made it, which must not happen while the transport still
   * holds references to its buffers.
   */
  private final Map<Long, Pin> pins = new java.util.HashMap<>();

  private static final class Pin {
    final Execution of;
    int sends;
    Execution releasedFrom;

    Pin(Execution of) {
      this.of = of;
    }
  }

  /** One execution's half on this worker. */
  private record Execution(NodeHost host, Map<String, NodeAgent.Actor> actors) {}

  /**
   * A service not yet attached to its member (the transport is built over it first, then the
   * member, whose attributes name the transport's address).
   *
   * @param memoryBudget the bytes of blocks and tasks the worker holds at most
   * @param pipelines where pipeline definitions are loaded from (the worker's {@code --classpath})
   */
  public WorkerService(long memoryBudget, ClassLoader pipelines) {
    this.memoryBudget = memoryBudget;
    this.pipelines = pipelines;
    this.memory = newAllocator(memoryBudget);
  }

  /**
   * The worker's allocator: its limit twice the budget, and allocations rounded up to whole pages
   * as the trainers' are ({@link PageRoundingPolicy}), not to Arrow's default next power of two,
   * which made a block of 1 MiB and a few bytes take 2 MiB here: half the budget lost, and a task's
   * memory no longer in proportion to its rows, which is how the scheduler scales its estimates.
   */
  static RootAllocator newAllocator(long memoryBudget) {
    return new RootAllocator(
        RootAllocator.configBuilder()
            .maxAllocation(memoryBudget >= Long.MAX_VALUE / 2 ? Long.MAX_VALUE : 2 * memoryBudget)
            .roundingPolicy(PageRoundingPolicy.INSTANCE)
            .build());
  }

  /**
   * Starts serving: the member's own node, the transport serving this service's blocks, and the
   * member's user context, where calls find the service.
   */
  public void attach(HazelcastInstance hazelcast, BlockTransport transport, Node self) {
    this.self = self;
    this.transport = transport;
    this.threads = new LocalRuntime(self);
    this.builder = Sluice.builder().runtime(threads).build();
    this.hazelcast = hazelcast;
    this.leases = SplitLeases.forWorker(hazelcast);
    hazelcast.getUserContext().put(KEY, this);
    attached.countDown();
  }

  /**
   * The service of the member a call runs on; a call that arrives while the worker is still
   * starting (it is a member before it serves) waits for it, at most {@value #ATTACH_WAIT_SECONDS}
   * s.
   */
  static WorkerService of(HazelcastInstance hazelcast) {
    Object s = hazelcast.getUserContext().get(KEY);
    if (!(s instanceof WorkerService w)) {
      throw new IllegalStateException(
          "member " + hazelcast.getCluster().getLocalMember() + " is not a Sluice worker");
    }
    try {
      if (!w.attached.await(ATTACH_WAIT_SECONDS, TimeUnit.SECONDS)) {
        throw new IllegalStateException(
            "worker "
                + hazelcast.getCluster().getLocalMember()
                + " did not finish starting within "
                + ATTACH_WAIT_SECONDS
                + " s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while the worker started", e);
    }
    return w;
  }

  private static final long ATTACH_WAIT_SECONDS = 60;

  private final java.util.concurrent.CountDownLatch attached =
      new java.util.concurrent.CountDownLatch(1);

  /** The node this worker is. */
  public Node node() {
    return self;
  }

  /** Bytes the worker holds now (blocks and running tasks, every execution). */
  public long allocatedMemory() {
    return memory.getAllocatedMemory();
  }

  /** The most bytes the worker held at once. */
  public long peakMemory() {
    return memory.getPeakMemoryAllocation();
  }

  /**
   * This worker's figures now: its process's CPU since the service started, its memory against its
   * budget (every execution's blocks and tasks), and what its transport moved, per peer.
   *
   * @throws IllegalStateException before {@link #attach}
   */
  public MemberStats stats() {
    HazelcastInstance hz = hazelcast;
    if (hz == null) {
      throw new IllegalStateException("the worker service is not attached to its member yet");
    }
    List<MemberInfo> members = new ArrayList<>();
    for (Member m : hz.getCluster().getMembers()) {
      try {
        members.add(MemberInfo.of(m));
      } catch (ClusterException notSluice) {
        // not a Sluice member: it moves no block
      }
    }
    TransportTraffic traffic =
        transport instanceof CountsTraffic c ? c.traffic() : TransportTraffic.NONE;
    return sampler.sample(
        MemberInfo.of(hz.getCluster().getLocalMember()),
        members,
        traffic,
        memory.getAllocatedMemory(),
        memory.getPeakMemoryAllocation(),
        memoryBudget);
  }

  /** Executions open here. */
  public int openExecutions() {
    return executions.size();
  }

  /**
   * Waits until no execution is open here, nor being closed (each closed by its trainer, or by the
   * loss of it), at most {@code timeout}.
   *
   * @return the executions still open, by id (empty when every one was closed)
   */
  public List<String> awaitNoExecutions(java.time.Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (closedOne) {
      while (!executions.isEmpty() || closing.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        closedOne.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
    return executions.keySet().stream().sorted().toList();
  }

  /** Notified whenever an execution closes here. */
  private final Object closedOne = new Object();

  // ---- calls

  void open(RemoteExecution ex) {
    Node self = bound();
    LocalRuntime threads = this.threads;
    if (executions.containsKey(ex.id())) {
      throw new IllegalStateException("execution " + ex.id() + " is open already on " + self);
    }
    Dataset ds;
    try {
      ds = builder.pipeline(ex.definition(), pipelines);
    } catch (RuntimeException e) {
      throw new SluiceException(
          "worker " + self + " cannot build pipeline " + ex.definition() + ": " + e.getMessage(),
          e);
    }
    NodeHost host =
        new NodeHost(
            ds, ex.epoch(), ex.options(), self, threads, memory, this::fetchInput, blockIds);
    String mismatch = host.fingerprint().firstDifference(new PlanFingerprint(ex.fingerprint()));
    if (mismatch != null) {
      host.close();
      throw new SluiceException(
          "worker "
              + self
              + " builds another plan from "
              + ex.definition()
              + " than the trainer (another jar, or a definition that depends on the member): "
              + mismatch,
          (Throwable) null);
    }
    if (!host.splitPlan().equals(ex.splits())) {
      host.close();
      throw new SluiceException(
          "worker "
              + self
              + " lists other splits for "
              + ex.definition()
              + " than the trainer: "
              + host.splitPlan()
              + " here, "
              + ex.splits()
              + " on the trainer. Every member must see the same files (a missing mount, another"
              + " copy of the data?)",
          (Throwable) null);
    }
    executions.put(ex.id(), new Execution(host, new ConcurrentHashMap<>()));
    LOG.debug("execution {} open on {}: plan {}", ex.id(), self, host.fingerprint().hash());
  }

  TaskOutcome run(String execution, TaskSpec spec) throws Exception {
    Execution ex = execution(execution);
    if (!(spec instanceof TaskSpec.ReadBlock read) || leases == null) {
      return await(ex.host().agent().run(spec).outcome());
    }
    // A read under an attempt the lease record has superseded is fenced off: not started, and
    // not handed in if the record moved on while it ran.
    AttemptSupersededException fenced = leases.fenced(execution, read.split(), read.attempt());
    if (fenced != null) {
      throw fenced;
    }
    TaskOutcome outcome = await(ex.host().agent().run(spec).outcome());
    fenced = leases.fenced(execution, read.split(), read.attempt());
    if (fenced != null) {
      if (outcome.output() != null) {
        ex.host().store().release(outcome.output());
      }
      throw fenced;
    }
    return outcome;
  }

  /** The cluster's split leases, followed (null until attached). */
  private volatile SplitLeases leases;

  /** The split leases as this worker follows them (null until attached). */
  SplitLeases leases() {
    return leases;
  }

  void startActor(String execution, int operator, String name) throws Exception {
    Execution ex = execution(execution);
    NodeAgent.Actor actor = ex.host().agent().startActor(operator, name);
    ex.actors().put(name, actor);
    try {
      await(actor.ready());
    } catch (Exception e) {
      ex.actors().remove(name);
      throw e;
    }
  }

  TaskOutcome callActor(String execution, String name, TaskSpec spec) throws Exception {
    NodeAgent.Actor actor = execution(execution).actors().get(name);
    if (actor == null) {
      throw new IllegalStateException("no actor " + name + " on " + self);
    }
    return await(actor.call(spec).outcome());
  }

  void stopActor(String execution, String name) throws Exception {
    NodeAgent.Actor actor = execution(execution).actors().remove(name);
    if (actor != null) {
      await(actor.stop());
    }
  }

  void closeReader(String execution, int split) {
    Execution ex = executions.get(execution);
    if (ex == null) {
      return; // closed already
    }
    if (split < 0) {
      ex.host().agent().closeReaders();
    } else {
      ex.host().agent().closeReader(split);
    }
  }

  void release(String execution, long[] ids, boolean all) {
    Execution ex = executions.get(execution);
    if (ex == null) {
      return;
    }
    if (all) {
      ex.host().store().closeAll();
      return;
    }
    for (long id : ids) {
      synchronized (pins) {
        Pin p = pins.get(id);
        if (p != null) {
          p.releasedFrom = ex; // closed when its last send ends
          continue;
        }
      }
      ex.host().store().releaseById(id);
    }
  }

  /**
   * This worker as the cluster knows it now: after it merged back into the cluster (a new member
   * id, see {@link dev.sluice.cluster.ClusterListener#merged}) it is bound to its new node first:
   * new threads and pipeline builder under the new id, and the executions of before (which its
   * trainers gave up with the old id) closed on a thread of the service's own. Checked on every
   * open, which may come before the merge is announced.
   */
  synchronized Node bound() {
    com.hazelcast.cluster.Member local = hazelcast.getCluster().getLocalMember();
    if (local.getUuid().toString().equals(self.id())) {
      return self;
    }
    Node before = self;
    Node after = dev.sluice.cluster.MemberInfo.of(local).toNode();
    LocalRuntime oldThreads = threads;
    Sluice oldBuilder = builder;
    List<String> stale = List.copyOf(executions.keySet());
    threads = new LocalRuntime(after);
    builder = Sluice.builder().runtime(threads).build();
    self = after;
    reaper()
        .execute(
            () -> {
              stale.forEach(this::close);
              oldBuilder.close();
              oldThreads.close();
              LOG.warn(
                  "{} merged back into the cluster as {}: its {} executions of before are closed",
                  before,
                  after.id(),
                  stale.size());
            });
    return self;
  }

  private synchronized java.util.concurrent.ExecutorService reaper() {
    if (reaper == null) {
      reaper =
          java.util.concurrent.Executors.newSingleThreadExecutor(
              r -> {
                Thread t = new Thread(r, "sluice-worker-reaper");
                t.setDaemon(true);
                return t;
              });
    }
    return reaper;
  }

  /**
   * A trainer left the cluster: the executions it scheduled are over, their halves here are closed
   * (on a thread of the service's own: closing waits for actors to stop), their memory returned.
   * Executions are named by their trainer's member id ({@code <id>/<execution>}).
   */
  void trainerLost(dev.sluice.cluster.MemberInfo trainer) {
    String prefix = trainer.id() + "/";
    List<String> orphans =
        executions.keySet().stream().filter(id -> id.startsWith(prefix)).sorted().toList();
    if (orphans.isEmpty()) {
      return;
    }
    reaper()
        .execute(
            () -> {
              long before = memory.getAllocatedMemory();
              orphans.forEach(this::close);
              LOG.warn(
                  "{}: {} left the cluster; its executions {} are closed here ({} returned)",
                  self,
                  trainer.describe(),
                  orphans,
                  dev.sluice.loader.DatasetStats.bytes(before - memory.getAllocatedMemory()));
            });
  }

  private java.util.concurrent.ExecutorService reaper;

  /** The execution is over here: its actors stop, its blocks and readers close. */
  void close(String execution) {
    closing.incrementAndGet();
    try {
      closeExecution(execution);
    } finally {
      closing.decrementAndGet();
      synchronized (closedOne) {
        closedOne.notifyAll();
      }
    }
  }

  /** Executions being closed (out of the map, their sends and memory not yet done with). */
  private final java.util.concurrent.atomic.AtomicInteger closing =
      new java.util.concurrent.atomic.AtomicInteger();

  private void closeExecution(String execution) {
    Execution ex = executions.remove(execution);
    if (ex == null) {
      return;
    }
    for (NodeAgent.Actor a : List.copyOf(ex.actors().values())) {
      try {
        a.stop().get(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        LOG.warn("an actor of execution {} did not stop cleanly on {}", execution, self, e);
      }
    }
    awaitSends(execution, ex);
    try {
      ex.host().close();
    } catch (RuntimeException leak) {
      LOG.error("execution {} left memory on {}: {}", execution, self, leak.getMessage());
    }
  }

  /**
   * Waits (at most 30 s) until the transport no longer sends a block of {@code ex}: closing the
   * execution closes the allocators of its blocks, which a send still reads (the consumer may have
   * the whole block, and the trainer have closed the execution, before the write's completion
   * reaches this side).
   */
  private void awaitSends(String execution, Execution ex) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    synchronized (pins) {
      while (pins.values().stream().anyMatch(p -> p.of == ex)) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          LOG.warn(
              "execution {} closes on {} while the transport still sends its blocks",
              execution,
              self);
          return;
        }
        try {
          pins.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }

  private Execution execution(String id) {
    Execution ex = executions.get(id);
    if (ex == null) {
      throw new IllegalStateException("execution " + id + " is not open on " + self);
    }
    return ex;
  }

  private static <T> T await(java.util.concurrent.CompletableFuture<T> f) throws Exception {
    try {
      return f.get();
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof Exception ex) {
        throw ex;
      }
      throw e;
    }
  }

  // ---- blocks

  /** A copy of a block another worker holds, for a task of this one. */
  private Batch fetchInput(BlockRef ref, BufferAllocator into) {
    InetSocketAddress owner = transportOf(hazelcast, ref.owner());
    if (owner == null) {
      throw new BlockLostException(ref, true);
    }
    try {
      return transport
          .fetch(owner, ref.id(), false, into)
          .get(FETCH_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SluiceException("interrupted while fetching " + ref, e);
    } catch (TimeoutException e) {
      throw new SluiceException(
          "no answer for " + FETCH_TIMEOUT_SECONDS + " s fetching " + ref + " from " + owner, e);
    } catch (ExecutionException e) {
      throw lostOrFailed(ref, e.getCause());
    }
  }

  /**
   * What a failed fetch means for the scheduler: a block its owner no longer holds, or whose owner
   * is unreachable, is lost (made again from its lineage); anything else fails the task.
   */
  static RuntimeException lostOrFailed(BlockRef ref, Throwable cause) {
    if (cause instanceof BlockTransportException t) {
      switch (t.reason()) {
        case NOT_FOUND:
          return withCause(new BlockLostException(ref, false), t);
        case CONNECTION:
        case TIMEOUT:
          return withCause(new BlockLostException(ref, true), t);
        default:
          break;
      }
    }
    return new SluiceException("fetching " + ref + " failed: " + cause, cause);
  }

  private static RuntimeException withCause(RuntimeException e, Throwable cause) {
    e.initCause(cause);
    return e;
  }

  /** The data-plane address of member {@code nodeId}, or null when it is not in the cluster. */
  static InetSocketAddress transportOf(HazelcastInstance hazelcast, String nodeId) {
    for (Member m : hazelcast.getCluster().getMembers()) {
      if (m.getUuid().toString().equals(nodeId)) {
        String t = m.getAttribute(MemberInfo.TRANSPORT);
        if (t == null) {
          return null;
        }
        int colon = t.lastIndexOf(':');
        return new InetSocketAddress(
            t.substring(0, colon), Integer.parseInt(t.substring(colon + 1)));
      }
    }
    return null;
  }

  /** The block, pinned until {@link #sent}: a release meanwhile waits for the send to end. */
  @Override
  public Batch get(long blockId) {
    synchronized (pins) {
      for (Execution ex : executions.values()) {
        Batch b = ex.host().store().getById(blockId);
        if (b != null) {
          Pin p = pins.computeIfAbsent(blockId, k -> new Pin(ex));
          if (p.releasedFrom == null) {
            p.sends++;
            return b;
          }
        }
      }
    }
    throw new NoSuchElementException("worker " + self + " holds no block " + blockId);
  }

  /** A send ended: a take drops the block; the block closes once its last send ended. */
  @Override
  public void sent(long blockId, boolean take) {
    Execution release = null;
    synchronized (pins) {
      Pin p = pins.get(blockId);
      if (p == null) {
        return;
      }
      if (--p.sends == 0) {
        pins.remove(blockId);
        release = p.releasedFrom;
        pins.notifyAll(); // an execution closing may wait for its sends
      }
      if (take && release == null) {
        if (p.sends == 0) {
          release = owner(blockId);
        } else {
          p.releasedFrom = owner(blockId);
        }
      }
    }
    if (release != null) {
      release.host().store().releaseById(blockId);
    }
  }

  private Execution owner(long blockId) {
    for (Execution ex : executions.values()) {
      if (ex.host().store().getById(blockId) != null) {
        return ex;
      }
    }
    return null;
  }

  /**
   * Closes every execution still open (their trainers are gone or did not close them), the threads
   * and the memory. The transport and the member are closed by whoever started them.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (reaper != null) {
        reaper.shutdown();
        try {
          if (!reaper.awaitTermination(60, TimeUnit.SECONDS)) {
            LOG.warn("{}: closing a lost trainer's executions took over 60 s", self);
            reaper.shutdownNow();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          reaper.shutdownNow();
        }
      }
    }
    for (String id : List.copyOf(executions.keySet())) {
      close(id);
    }
    if (hazelcast != null && hazelcast.getLifecycleService().isRunning()) {
      hazelcast.getUserContext().remove(KEY, this);
      if (leases != null) {
        leases.close();
      }
    }
    if (builder != null) {
      builder.close();
    }
    if (threads != null) {
      threads.close();
    }
    try {
      memory.close();
    } catch (RuntimeException leak) {
      LOG.error("worker {} left memory: {}", self, leak.getMessage());
    }
  }

  /** The budget this worker advertises. */
  public long memoryBudget() {
    return memoryBudget;
  }
}
