package dev.sluice.loader.internal.exec;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.PipelineRef;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.concurrent.Uninterruptibly;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp.LimitOp;
import dev.sluice.loader.internal.plan.Planner;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.runtime.LeaseLedger;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.NodeBlocks;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.ReadContext;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a physical plan with every operator at once, admitting new tasks only while the memory
 * budget and the resources allow.
 *
 * <p>One scheduling thread owns all state. It waits for an event (a task finished, an actor is
 * ready, the consumer took or freed a block, a timer fired), applies every event waiting, then
 * takes one step ({@link #runOnce()}): hand released outputs downstream as far as the next queue
 * (or the consumer's bounded channel) accepts them, let actor pools scale, launch tasks while
 * {@link Scheduling#selectOperatorToRun} names one, and, when nothing runs and the consumer will
 * not move by itself, one task anyway ({@link Scheduling#livenessPick}). The thread never sleeps
 * and never blocks but on its inbox. A test can build an execution without the thread ({@link
 * #stepped}) and take the steps itself, reading each step's decisions.
 *
 * <p>Memory: every block lives in an Arrow allocator: one per execution (with a hard limit of
 * {@code hardLimitFactor} x the budget, the safety net), one child per operator (its outputs,
 * wherever they are), one grandchild per task. Blocks handed to the consumer stay in the last
 * operator's allocator until the consumer closes them. Resources are in a {@link ResourceLedger},
 * the consumer's side in a {@link ConsumerChannel}.
 */
public final class StreamingExecutor implements BlockStream {
  private static final Logger LOG = LoggerFactory.getLogger(StreamingExecutor.class);
  private static final AtomicInteger EXECUTIONS = new AtomicInteger();

  /** Blocks the consumer's channel holds before the last operator keeps them. */
  static final int CHANNEL_BLOCKS = 64;

  /** What one scheduling step did: its decisions in order, and whether the execution is over. */
  record Step(List<String> decisions, boolean over) {}

  private final List<PhysicalOp> plan;
  private final ExecutionOptions options;
  private final int epoch;
  private final ExecutionRuntime runtime;
  private final BufferAllocator executionAllocator;
  private final BufferAllocator consumerAllocator;
  private final List<BackpressurePolicy> policies;
  private final ExecutionObserver observer;
  private final BlockingQueue<Runnable> inbox = new LinkedBlockingQueue<>();
  private final ConsumerChannel consumer;
  private final List<OperatorState> ops = new ArrayList<>();

  /** The operators that run tasks (all but limits), upstream first; set at start. */
  private List<OperatorState> taskOps = List.of();

  private final ArrayDeque<BlockRef> bulkHeld = new ArrayDeque<>();

  /** Each node's block store, and the blocks made again in place of lost ones. */
  private final BlockDirectory blocks;

  /** The epoch's splits, when the plan reads a source (null otherwise). */
  private final dev.sluice.sharding.EpochPlan readPlan;

  /** The nodes that are other processes: their halves of this execution, by node id. */
  private final Map<String, ExecutionRuntime.RemoteNode> remotes;

  /** Each node's agent, by node id: what runs task specs and actors there; set at start. */
  private final Map<String, NodeAgent> agents = new java.util.HashMap<>();

  /** What happens when a node is lost. */
  private final NodeLossRecovery recovery;

  private final NodeHandOver handOver;

  private final ScheduledExecutorService timer;

  /** Opens the halves of nodes that join while the execution runs (made at the first join). */
  private java.util.concurrent.ExecutorService joiner;

  /** What the plan was built from (remote nodes build theirs from it), or null. */
  private final PipelineRef definition;

  /** The scheduling thread; null when a test steps the execution ({@link #runOnce()}). */
  private final Thread thread;

  private final LongSupplier clock;
  private final String id;
  private final BadRecords badRecords;
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  private final ResourceLedger resources;
  private List<String> decisions = new ArrayList<>();

  /** Stops the runtime telling this execution of lost nodes. */
  private Runnable stopListening = () -> {};

  private SluiceException failure;
  private boolean stopRequested;
  private boolean endDelivered;

  /** Rows the plan will deliver, or -1 when unknown (the progress line's total). */
  private long rowsTotal = -1;

  private final long startNanos = System.nanoTime();

  /** The start on the execution's clock (events are timed on it). */
  private long startClock;

  private volatile long endNanos = -1;
  private volatile long closedNanos = -1;
  private final ExecutionProgress progress;
  private boolean allocatorsClosed;
  private boolean remotesClosed;
  private boolean closeRequested;

  /**
   * Prepares an execution of epoch {@code epoch}; {@link #start()} runs it.
   *
   * @param plan the physical plan (a read first)
   * @param options budget, mode, order, allowance, block targets
   * @param epoch the epoch, from 0: the read's seeded shuffles draw from (seed, epoch)
   * @param runtime where tasks and actors run (not owned)
   * @param storeAllocator the process's block-store allocator; the execution takes a child of it
   * @param observer progress display, closed at the end
   */
  public StreamingExecutor(
      List<PhysicalOp> plan,
      ExecutionOptions options,
      int epoch,
      ExecutionRuntime runtime,
      BufferAllocator storeAllocator,
      ExecutionObserver observer) {
    this(plan, null, options, epoch, runtime, storeAllocator, observer);
  }

  /**
   * As {@link #StreamingExecutor(List, ExecutionOptions, int, ExecutionRuntime, BufferAllocator,
   * ExecutionObserver)}, for a plan that {@code definition} builds: the runtime's nodes that are
   * other processes build it themselves (see {@link ExecutionRuntime#openRemote}).
   *
   * @param definition what built the plan, or null (then every node must be in this process)
   */
  public StreamingExecutor(
      List<PhysicalOp> plan,
      PipelineRef definition,
      ExecutionOptions options,
      int epoch,
      ExecutionRuntime runtime,
      BufferAllocator storeAllocator,
      ExecutionObserver observer) {
    this(
        plan,
        definition,
        options,
        epoch,
        runtime,
        storeAllocator,
        observer,
        System::nanoTime,
        true);
  }

  /**
   * An execution without a scheduling thread, for tests: the test drives it with {@link #runOnce()}
   * (usually over a runtime whose tasks finish when the test says) and reads each step's decisions;
   * {@code clock} times actors' idleness and backpressure.
   */
  static StreamingExecutor stepped(
      List<PhysicalOp> plan,
      ExecutionOptions options,
      ExecutionRuntime runtime,
      BufferAllocator storeAllocator,
      LongSupplier clock) {
    return new StreamingExecutor(
        plan, null, options, 0, runtime, storeAllocator, ExecutionObserver.NONE, clock, false);
  }

  private StreamingExecutor(
      List<PhysicalOp> plan,
      PipelineRef definition,
      ExecutionOptions options,
      int epoch,
      ExecutionRuntime runtime,
      BufferAllocator storeAllocator,
      ExecutionObserver observer,
      LongSupplier clock,
      boolean ownThread) {
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
    }
    this.epoch = epoch;
    this.plan = List.copyOf(plan);
    this.options = options;
    this.definition = definition;
    this.runtime = runtime;
    this.observer = observer;
    this.clock = clock;
    this.startClock = clock.getAsLong();
    this.id = "x" + EXECUTIONS.incrementAndGet();
    boolean bulk = options.mode() == ExecutionOptions.Mode.BULK;
    long hardLimit =
        bulk
            ? Long.MAX_VALUE
            : (long)
                Math.min(Long.MAX_VALUE / 2, options.memoryBudget() * options.hardLimitFactor());
    this.executionAllocator = storeAllocator.newChildAllocator("execution-" + id, 0, hardLimit);
    this.consumerAllocator =
        executionAllocator.newChildAllocator("consumer-" + id, 0, Long.MAX_VALUE);
    List<Node> listed = ExecutionPlanning.nodes(runtime, options);
    List<Node> nodes;
    try {
      // The epoch's splits, listed once: the read leases them, and remote nodes check theirs.
      this.readPlan =
          this.plan.get(0) instanceof PhysicalOp.ReadOp r ? EpochSplits.plan(r, epoch) : null;
      this.remotes =
          new java.util.concurrent.ConcurrentHashMap<>(
              ExecutionPlanning.openRemotes(
                  runtime,
                  listed,
                  this.plan,
                  definition,
                  epoch,
                  options,
                  id,
                  readPlan == null ? "" : EpochSplits.describe(readPlan)));
      nodes = ExecutionPlanning.opened(runtime, listed, remotes);
    } catch (RuntimeException e) {
      consumerAllocator.close();
      executionAllocator.close();
      throw e;
    }
    this.blocks = ExecutionPlanning.blocks(nodes, remotes);
    this.consumer =
        new ConsumerChannel(
            CHANNEL_BLOCKS,
            blocks,
            consumerAllocator,
            () -> inbox.add(() -> {}),
            this::closeAllocatorsIfDone,
            ref -> inbox.add(() -> remakeForConsumer(ref)));
    this.policies = bulk ? Policies.bulk() : Policies.streamingDefaults();
    this.badRecords = new BadRecords(options.badRecordAllowance());
    this.resources = new ResourceLedger(nodes, this::memoryInUse);
    this.recovery = new NodeLossRecovery(this, this.plan, ops, resources, blocks, agents);
    this.handOver = new NodeHandOver(this, id, this.plan, ops, resources, blocks, clock);
    this.progress =
        new ExecutionProgress(
            ops, resources, executionAllocator, options, consumer, observer, () -> rowsTotal);
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "sluice-timer-" + id);
              t.setDaemon(true);
              return t;
            });
    this.thread = ownThread ? new Thread(this::loop, "sluice-scheduler-" + id) : null;
    if (thread != null) {
      thread.setDaemon(true);
    }
  }

  /** A node is gone: see {@link NodeLossRecovery}. */
  void nodeLost(Node node, String reason) {
    List<BlockRef> heldElsewhere = new ArrayList<>(bulkHeld);
    heldElsewhere.addAll(consumer.waitingRefs());
    recovery.nodeLost(node, reason, heldElsewhere);
  }

  /** A node says it is leaving: see {@link NodeHandOver}. */
  void nodeLeaving(Node node) {
    handOver.nodeLeaving(node);
  }

  /** A leaving node holds nothing of the execution any more: its half there is closed. */
  private void letGo(Node node) {
    ExecutionRuntime.RemoteNode r;
    synchronized (this) {
      r = remotesClosed ? null : remotes.remove(node.id());
    }
    if (r != null) {
      r.close();
    }
  }

  /**
   * A node joined the runtime while the execution runs: its half is opened on a thread of the
   * execution's own (a round trip to the node), then the scheduler adds it (see {@link #joined}). A
   * node of this process, or one that cannot open, takes no part.
   */
  private synchronized void openJoined(Node node) {
    if (remotesClosed || !runtime.isRemote(node) || definition == null) {
      return;
    }
    if (joiner == null) {
      joiner =
          Executors.newSingleThreadExecutor(
              r -> {
                Thread t = new Thread(r, "sluice-joiner-" + id);
                t.setDaemon(true);
                return t;
              });
    }
    joiner.execute(
        () -> {
          ExecutionRuntime.RemoteNode r;
          try {
            r =
                ExecutionPlanning.openRemote(
                    runtime,
                    node,
                    plan,
                    definition,
                    epoch,
                    options,
                    id,
                    readPlan == null ? "" : EpochSplits.describe(readPlan));
          } catch (RuntimeException e) {
            LOG.warn("execution {}: {} joined but cannot take part: {}", id, node, e.toString());
            return;
          }
          inbox.add(() -> joined(node, r));
        });
  }

  /** A node that joined had its half opened: from now on work is placed on it too. */
  private void joined(Node node, ExecutionRuntime.RemoteNode r) {
    synchronized (this) {
      if (remotesClosed || failure != null || stopRequested || remotes.containsKey(node.id())) {
        r.close();
        return;
      }
      remotes.put(node.id(), r);
    }
    blocks.addStore(node.id(), r.blocks());
    agents.put(node.id(), r.agent());
    resources.add(node);
    decided("node " + node.id() + " joined");
    event(dev.sluice.loader.ExecutionEvent.Kind.NODE_JOINED, node.id(), node.toString());
    LOG.info("execution {}: {} joined and takes work from now on", id, node);
  }

  /**
   * The consumer found a block lost as it took it: made again if the consumer still waits for it
   * (not if it already took the block made again in the meantime).
   */
  private void remakeForConsumer(BlockRef ref) {
    if (consumer.awaitsRemake(ref)) {
      remakeIfLost(ref);
    }
  }

  /** Records a split's lease where the runtime keeps them (see {@link LeaseLedger}). */
  void leased(int split, int attempt, Node node) {
    try {
      runtime.leaseLedger().leased(id, split, attempt, node.id());
    } catch (RuntimeException e) {
      LOG.warn("execution {}: recording the lease of split {} failed", id, split, e);
    }
  }

  /** Has a lost block made again (see {@link NodeLossRecovery#remakeIfLost}). */
  void remakeIfLost(BlockRef ref) {
    recovery.remakeIfLost(ref);
  }

  /** A lost block was made again: its holders now read {@code remade}. */
  void remade(BlockRef lost, BlockRef remade) {
    recovery.remade(lost, remade);
  }

  private long memoryInUse(String nodeId) {
    return recovery.memoryInUse(nodeId);
  }

  /** Plans splits, builds operator states, logs the DAG and starts the scheduling thread. */
  public void start() {
    ExecContext ctx =
        new ExecContext(
            runtime,
            options,
            badRecords,
            new ReadContext(options.targetBlockRows(), options.targetBlockBytes(), badRecords),
            inbox::add,
            timer,
            epoch,
            clock);
    try {
      for (int i = 0; i < plan.size(); i++) {
        OperatorState state =
            ExecutionPlanning.createState(i, plan.get(i), ctx, this, executionAllocator);
        ops.add(state);
        rowsTotal = state.plannedRows(rowsTotal);
      }
      ExecutionPlanning.checkResources(plan, resources);
      taskOps = ops.stream().filter(OperatorState::runsTasks).toList();
      agents.putAll(ExecutionPlanning.agents(plan, ops, ctx, blocks, remotes));
    } catch (RuntimeException e) {
      releaseAfterFailedStart();
      throw e;
    }
    LOG.info("Execution {}: {}", id, Planner.describe(plan));
    stopListening =
        runtime.addNodeListener(
            new ExecutionRuntime.NodeListener() {
              @Override
              public void nodeLost(Node node, String reason) {
                inbox.add(() -> StreamingExecutor.this.nodeLost(node, reason));
              }

              @Override
              public void nodeJoined(Node node) {
                openJoined(node);
              }

              @Override
              public void nodeLeaving(Node node) {
                inbox.add(() -> StreamingExecutor.this.nodeLeaving(node));
              }
            });
    // A node that said it leaves before the listener was there.
    for (Node n : resources.nodes()) {
      if (runtime.isLeaving(n)) {
        inbox.add(() -> nodeLeaving(n));
      }
    }
    inbox.add(() -> ops.forEach(OperatorState::start));
    if (thread != null) {
      thread.start();
    }
  }

  // ---- the scheduling thread

  private void loop() {
    try {
      while (true) {
        inbox.take().run();
        if (runOnce().over()) {
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Throwable t) {
      LOG.error("scheduler of execution {} failed", id, t);
      fail(t instanceof SluiceException s ? s : new SluiceException("scheduler failed: " + t, t));
      drainAfterFailure();
    } finally {
      finish();
    }
  }

  /**
   * Applies every event waiting (tasks finished, actors ready, the consumer took or closed a
   * block), then takes one scheduling step. On the scheduling thread; a stepped execution's test
   * calls it instead (and the execution finishes when a step says it is over).
   *
   * @return the step's decisions, and whether the execution is over and every task has ended
   */
  Step runOnce() {
    decisions = new ArrayList<>();
    for (Runnable e; (e = inbox.poll()) != null; ) {
      e.run();
    }
    boolean over = step();
    Step done = new Step(List.copyOf(decisions), over);
    if (over && thread == null && !terminated.isDone()) {
      finish();
    }
    return done;
  }

  /** Records a decision of the current step (see {@link Step}). */
  /**
   * Records what the execution did about its cluster (see {@link
   * dev.sluice.loader.ExecutionEvent}); at most {@value #MAX_EVENTS} are kept.
   */
  void event(dev.sluice.loader.ExecutionEvent.Kind kind, String node, String detail) {
    if (events.size() < MAX_EVENTS) {
      events.add(
          new dev.sluice.loader.ExecutionEvent(
              java.time.Instant.now(), clock.getAsLong() - startClock, kind, node, detail));
    }
  }

  static final int MAX_EVENTS = 10_000;

  private final List<dev.sluice.loader.ExecutionEvent> events =
      new java.util.concurrent.CopyOnWriteArrayList<>();

  void decided(String decision) {
    decisions.add(decision);
    if (LOG.isDebugEnabled()) {
      LOG.debug("execution {}: {}", id, decision);
    }
  }

  /** One scheduling step; returns true when the execution is over and every task has ended. */
  private boolean step() {
    if (failure != null || stopRequested) {
      for (OperatorState op : ops) {
        op.cancel();
        op.stopAllActors();
      }
      return quiescent();
    }
    Scheduling.moveOutputs(
        ops, consumer, bulkHeld, options.mode() == ExecutionOptions.Mode.BULK, blocks);
    for (OperatorState op : ops) {
      op.maintain();
    }
    launchEligible();
    if (handOver.any()) {
      handOver.letGoOfIdle(this::letGo);
    }
    liveness();
    progress.observe(false);
    if (ops.get(ops.size() - 1).isDone() && bulkHeld.isEmpty()) {
      deliverEnd();
      // With nodes in other processes, the execution goes on (listening for lost nodes, able to
      // make blocks again) until the consumer has taken every block out of its node.
      return quiescent() && (remotes.isEmpty() || consumer.allTaken());
    }
    return false;
  }

  /** Whether {@code node} is another process. */
  boolean isRemote(Node node) {
    return remotes.containsKey(node.id());
  }

  /** The agent of {@code node}. */
  NodeAgent agent(Node node) {
    NodeAgent a = agents.get(node.id());
    if (a == null) {
      throw new IllegalArgumentException("no node " + node.id() + " in this execution");
    }
    return a;
  }

  /** The blocks of node {@code nodeId}. */
  NodeBlocks store(String nodeId) {
    return blocks.store(nodeId);
  }

  /** Where blocks are found, also after their node was lost. */
  BlockDirectory blocks() {
    return blocks;
  }

  /** Releases a block nobody will read (its store closes it). */
  void release(BlockRef ref) {
    blocks.release(ref);
  }

  private boolean quiescent() {
    return Scheduling.quiescent(ops, resources);
  }

  private void launchEligible() {
    PolicyView view =
        new PolicyView(
            options, taskOps, () -> Math.max(0, consumerClaim() - consumer.outstandingBytes()));
    for (OperatorState op;
        (op = Scheduling.selectOperatorToRun(taskOps, policies, view, resources, clock.getAsLong()))
            != null; ) {
      decided("launch " + op.name);
      op.launch();
    }
  }

  private void liveness() {
    OperatorState op =
        Scheduling.livenessPick(
            ops, consumer, resources, options.mode() == ExecutionOptions.Mode.STREAMING);
    if (op != null) {
      LOG.debug("liveness: launching a task of {} within the budget's headroom", op.name);
      decided("liveness " + op.name);
      op.launch();
    }
  }

  int taskOperatorCount() {
    int n = 0;
    for (PhysicalOp op : plan) {
      if (!(op instanceof LimitOp)) {
        n++;
      }
    }
    return n;
  }

  private void deliverEnd() {
    if (!endDelivered) {
      endDelivered = true;
      endNanos = System.nanoTime();
      consumer.end();
    }
  }

  /** Whether the execution has failed. */
  boolean failed() {
    return failure != null;
  }

  /** Fails the execution (first failure wins): everything stops, the consumer sees the error. */
  void fail(Throwable error) {
    if (failure != null) {
      return;
    }
    failure =
        error instanceof SluiceException s ? s : new SluiceException(String.valueOf(error), error);
    LOG.debug("execution {} failed", id, error);
    bulkHeld.forEach(this::release);
    bulkHeld.clear();
    endNanos = System.nanoTime();
    blocks.fail(failure);
    consumer.fail(failure);
  }

  private void drainAfterFailure() {
    // The loop died: wait for the tasks in flight so that their memory comes back.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    try {
      while (!quiescent() && System.nanoTime() < deadline) {
        Runnable e = inbox.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
        if (e != null) {
          e.run();
        }
        ops.forEach(OperatorState::cancel);
      }
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException again) {
      LOG.error("execution {}: cleanup after failure failed", id, again);
    }
  }

  /** Stops upstream of a limit that has all its rows. */
  void cancelUpstreamOf(int index) {
    for (int i = 0; i < index; i++) {
      ops.get(i).cancel();
    }
  }

  /** The execution's resources (what tasks and actors hold). */
  ResourceLedger resources() {
    return resources;
  }

  /** See {@link Scheduling#fitsLeavingRoomForOthers}. */
  boolean fitsLeavingRoomForOthers(OperatorState asking, Resources r) {
    return Scheduling.fitsLeavingRoomForOthers(ops, asking, r, resources);
  }

  private void finish() {
    stopListening.run();
    for (OperatorState op : ops) {
      try {
        op.close();
      } catch (RuntimeException e) {
        LOG.warn("closing operator {} failed", op.name, e);
      }
    }
    if (quiescent()) {
      agents.values().forEach(NodeAgent::closeReaders); // no task reads any more
    }
    progress.observe(true);
    observer.close();
    timer.shutdownNow();
    stopJoiner();
    // Stopped by the consumer (or over): nothing more will come.
    consumer.end();
    if (endNanos < 0) {
      endNanos = System.nanoTime();
    }
    try {
      runtime.leaseLedger().ended(id);
    } catch (RuntimeException e) {
      LOG.warn("execution {}: dropping its lease records failed", id, e);
    }
    terminated.complete(null);
    closeAllocatorsIfDone();
  }

  // ---- the consumer's side (any thread)

  /**
   * The next batch for the consumer, waiting for it; null at the end. The batch belongs to the
   * caller. Throws the execution's failure.
   */
  @Override
  public Batch take() throws InterruptedException {
    ConsumerChannel.Delivered d = consumer.take();
    return d == null ? null : d.batch();
  }

  /**
   * As {@link #take()}, with the block's reference: its name (lineage), the node that made it and
   * the hosts its rows came from.
   */
  ConsumerChannel.Delivered takeDelivered() throws InterruptedException {
    return consumer.take();
  }

  /**
   * The next delivered block's reference, the block left in its store; null at the end (see {@link
   * ConsumerChannel#takeRef}). For a streaming split whose consumers are in other processes.
   */
  BlockRef takeRef() throws InterruptedException {
    return consumer.takeRef();
  }

  /** Takes a block {@link #takeRef} gave out of its store, for a consumer of this process. */
  Batch open(BlockRef ref) {
    try {
      return consumer.openRef(ref).batch();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SluiceException("interrupted while taking " + ref, e);
    }
  }

  /** A block {@link #takeRef} gave was taken by a consumer in another process. */
  void handedOff(BlockRef ref) {
    consumer.handedOff(ref);
  }

  /** A block {@link #takeRef} gave is dropped unread. */
  void releaseRef(BlockRef ref) {
    consumer.releaseRef(ref);
  }

  /** The epoch's splits as this execution listed them (null when the plan reads none). */
  dev.sluice.sharding.EpochPlan readPlan() {
    return readPlan;
  }

  /** The reference a block {@link #takeRef} gave now lives under (made again, if it was lost). */
  BlockRef where(BlockRef ref) {
    return blocks.current(ref);
  }

  /** Whether a block {@link #takeRef} gave is held by a node in another process. */
  boolean isRemote(BlockRef ref) {
    return blocks.isRemote(ref);
  }

  /** The next block if one waits, else null; never blocks (for a test stepping the execution). */
  Batch poll() {
    ConsumerChannel.Delivered d = consumer.poll();
    return d == null ? null : d.batch();
  }

  /** As {@link #poll()}, with the block's reference. */
  ConsumerChannel.Delivered pollDelivered() {
    return consumer.poll();
  }

  /** The operators' states, upstream first (for tests that step the execution). */
  List<OperatorState> operators() {
    return List.copyOf(ops);
  }

  /** Asks the execution to stop, as {@link #close()} does, without waiting. */
  void requestStop() {
    inbox.add(() -> stopRequested = true);
  }

  /** The allocator the consumer re-batches into (a child of the execution's). */
  @Override
  public BufferAllocator consumerAllocator() {
    return consumerAllocator;
  }

  /** Adds time the consumer spent waiting outside {@link #take()} (a prefetching iterator). */
  @Override
  public void addConsumerWait(long nanos) {
    consumer.addWait(nanos);
  }

  @Override
  public void userWaiting(boolean waiting) {
    consumer.userWaiting(waiting);
  }

  @Override
  public void consumerHolds(long rows) {
    consumer.claimRows(rows);
  }

  /**
   * The memory the consumer side claims (see {@link ConsumerChannel#claim}); before any delivery,
   * at the bytes per row of the last task operator's outputs.
   */
  long consumerClaim() {
    OperatorState last = taskOps.get(taskOps.size() - 1);
    return consumer.claim(last.rowsOut > 0 ? last.bytesOut / (double) last.rowsOut : 0);
  }

  /** Bytes the execution holds now. */
  long allocatedMemory() {
    return executionAllocator.getAllocatedMemory();
  }

  @Override
  public SluiceException consumerOutOfMemory(
      int batchRows, org.apache.arrow.memory.OutOfMemoryException e) {
    return MemoryAdvice.forConsumer(
        batchRows,
        e,
        options,
        executionAllocator.getAllocatedMemory(),
        consumer.bytesPerRowDelivered());
  }

  /**
   * Says that the consumer's waiting is measured outside {@link #take()} (a prefetching iterator
   * measures its own queue), so that it is not counted twice.
   */
  @Override
  public void measureConsumerWaitOutside() {
    consumer.measureWaitOutside();
  }

  /**
   * Stops the execution (if still running), waits for the scheduling thread to end, closes batches
   * not yet taken, and closes the allocators once the consumer has closed every batch it took. A
   * stepped execution is stepped to its end here, which needs every task it launched finished.
   */
  @Override
  public void close() {
    closedNanos = System.nanoTime();
    inbox.add(() -> stopRequested = true);
    if (thread == null) {
      while (!terminated.isDone()) {
        if (!runOnce().over() && inbox.isEmpty()) {
          throw new IllegalStateException(
              "execution " + id + " cannot stop: tasks or actors it started still run");
        }
      }
    } else if (!Uninterruptibly.await(terminated, 60, TimeUnit.SECONDS)) {
      // Not cut short by an interrupt: a closing prefetch thread is interrupted to stop it, and
      // tasks still running would allocate after this returned.
      LOG.error("execution {} did not stop within 60 s", id);
    }
    consumer.closeWaiting();
    // Only now is no block of the nodes in other processes to be taken any more: they may drop
    // what they hold of the execution (the scheduler's end comes before the consumer's).
    closeRemotes();
    synchronized (this) {
      closeRequested = true;
    }
    closeAllocatorsIfDone();
  }

  private synchronized void closeAllocatorsIfDone() {
    if (allocatorsClosed || !closeRequested || !terminated.isDone() || consumer.outstanding() > 0) {
      return;
    }
    allocatorsClosed = true;
    try {
      for (NodeBlocks store : blocks.stores()) {
        if (store.size() > 0) {
          throw new IllegalStateException(
              store.size()
                  + " blocks of node "
                  + store.owner()
                  + " were never released: "
                  + store.heldNames(5));
        }
      }
      for (OperatorState op : ops) {
        op.allocator.close();
      }
      consumerAllocator.close();
      executionAllocator.close();
    } catch (IllegalStateException leak) {
      LOG.error("execution {} leaked Arrow memory: {}", id, leak.getMessage());
      throw leak;
    }
  }

  private synchronized void stopJoiner() {
    if (joiner != null) {
      joiner.shutdownNow();
    }
  }

  private synchronized void closeRemotes() {
    if (!remotesClosed) {
      remotesClosed = true;
      remotes.values().forEach(ExecutionRuntime.RemoteNode::close);
    }
  }

  private void releaseAfterFailedStart() {
    ops.forEach(OperatorState::close);
    closeRemotes();
    for (OperatorState op : ops) {
      op.allocator.close();
    }
    consumerAllocator.close();
    executionAllocator.close();
    timer.shutdownNow();
    stopJoiner();
    allocatorsClosed = true;
  }

  /** Whether the scheduling thread has ended. */
  public boolean isTerminated() {
    return terminated.isDone();
  }

  /**
   * Statistics now: taken on the scheduling thread while it runs (waiting at most a second for it),
   * or the final figures once the execution has ended.
   */
  @Override
  public DatasetStats stats() {
    if (thread == null && !terminated.isDone()) {
      progress.observe(true); // a stepped execution: the caller is the scheduling thread
    } else if (!terminated.isDone()) {
      CompletableFuture<Void> fresh = new CompletableFuture<>();
      inbox.add(
          () -> {
            progress.observe(true);
            fresh.complete(null);
          });
      try {
        CompletableFuture.anyOf(fresh, terminated).get(1, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
        LOG.debug("stats of execution {} not refreshed", id);
      }
    }
    // The execution's wall time runs until the consumer is done with it (it may drain after the
    // end).
    long end = endNanos < 0 ? System.nanoTime() : Math.max(endNanos, closedNanos);
    return new DatasetStats(
        Planner.describe(plan),
        progress.lastStats(),
        end - startNanos,
        consumer.firstBlockNanos(),
        consumer.waitNanos(),
        consumer.rowsDelivered(),
        options.memoryBudget(),
        executionAllocator.getPeakMemoryAllocation(),
        badRecords.skipped(),
        consumerAllocator.getPeakMemoryAllocation(),
        events);
  }

  /** The execution allocator's peak so far (every block of the execution counts). */
  @Override
  public long peakMemory() {
    return executionAllocator.getPeakMemoryAllocation();
  }

  /** The scheduling thread's name, for tests that check threads end. */
  public String threadName() {
    return thread == null ? "(stepped by the caller)" : thread.getName();
  }
}
