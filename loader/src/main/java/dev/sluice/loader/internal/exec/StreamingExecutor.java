package dev.sluice.loader.internal.exec;

import dev.sluice.loader.concurrent.Uninterruptibly;
import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.OperatorStats;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.internal.plan.PhysicalOp.LimitOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.internal.plan.PhysicalOp.TaskMapOp;
import dev.sluice.loader.internal.plan.Planner;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.runtime.Runtime;
import dev.sluice.loader.source.ReadContext;
import dev.sluice.sharding.SourceSplit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a physical plan with every operator at once, admitting new tasks only while the memory
 * budget and the resources allow.
 *
 * <p>One scheduling thread owns all state. It waits for an event (a task finished, an actor is
 * ready, the consumer took or freed a block, a timer fired), applies it, then runs {@link
 * #step()}: hand finished outputs downstream, let actor pools scale, and repeatedly launch one task
 * of the eligible operator holding the least memory (downstream first on ties) until none is
 * eligible. When nothing runs, nothing is eligible and the consumer has nothing to read, one task
 * is launched anyway (liveness). The thread never sleeps and never blocks but on its inbox.
 *
 * <p>Memory: every block lives in an Arrow allocator: one per execution (with a hard limit of
 * {@code hardLimitFactor} x the budget, the safety net), one child per operator (its outputs,
 * wherever they are), one grandchild per task. Blocks handed to the consumer stay in the last
 * operator's allocator until the consumer closes them.
 */
public final class StreamingExecutor implements BlockStream {
  private static final Logger LOG = LoggerFactory.getLogger(StreamingExecutor.class);
  private static final AtomicInteger EXECUTIONS = new AtomicInteger();
  private static final long OBSERVE_EVERY_NANOS = 100_000_000L;

  /** Items in the consumer's channel besides batches. */
  private enum Marker { END }

  private record Failure(SluiceException error) {}

  private final List<PhysicalOp> plan;
  private final ExecutionOptions options;
  private final int epoch;
  private final Runtime runtime;
  private final BufferAllocator executionAllocator;
  private final BufferAllocator consumerAllocator;
  private final List<BackpressurePolicy> policies;
  private final ExecutionObserver observer;
  private final BlockingQueue<Runnable> inbox = new LinkedBlockingQueue<>();
  private final BlockingQueue<Object> channel = new LinkedBlockingQueue<>();
  private final List<OperatorState> ops = new ArrayList<>();
  private final List<Batch> bulkHeld = new ArrayList<>();
  private final ScheduledExecutorService timer;
  private final Thread thread;
  private final String id;
  private final BadRecords badRecords;
  private final CompletableFuture<Void> terminated = new CompletableFuture<>();
  private final AtomicInteger outstandingDelivered = new AtomicInteger();
  private final AtomicInteger consumersWaiting = new AtomicInteger();
  /** Users of prefetching consumers waiting for a batch (see {@link #userWaiting}). */
  private final AtomicInteger usersWaiting = new AtomicInteger();
  /** Bytes of delivered blocks not yet closed (they stay in the last operator's allocator). */
  private final java.util.concurrent.atomic.AtomicLong outstandingDeliveredBytes = new java.util.concurrent.atomic.AtomicLong();
  /** Rows the consumers said they may allocate in one go (the batch each re-batches into). */
  private final java.util.concurrent.atomic.AtomicLong consumerRows = new java.util.concurrent.atomic.AtomicLong();
  private long deliveredBytes;
  private final Resources totalResources;
  private Resources usedResources = Resources.NONE;
  private SluiceException failure;
  private boolean stopRequested;
  private boolean endDelivered;
  private long rowsTotal = -1;
  private final long startNanos = System.nanoTime();
  private volatile long endNanos = -1;
  private volatile long closedNanos = -1;
  private volatile long firstBatchNanos = -1;
  private volatile long rowsOut;
  private final java.util.concurrent.atomic.AtomicLong consumerWaitNanos = new java.util.concurrent.atomic.AtomicLong();
  private volatile List<OperatorStats> lastStats = List.of();
  private long lastObserved;
  private boolean allocatorsClosed;
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
  public StreamingExecutor(List<PhysicalOp> plan, ExecutionOptions options, int epoch, Runtime runtime,
      BufferAllocator storeAllocator, ExecutionObserver observer) {
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
    }
    this.epoch = epoch;
    this.plan = List.copyOf(plan);
    this.options = options;
    this.runtime = runtime;
    this.observer = observer;
    this.id = "x" + EXECUTIONS.incrementAndGet();
    boolean bulk = options.mode() == ExecutionOptions.Mode.BULK;
    long hardLimit = bulk ? Long.MAX_VALUE : (long) Math.min(Long.MAX_VALUE / 2, options.memoryBudget() * options.hardLimitFactor());
    this.executionAllocator = storeAllocator.newChildAllocator("execution-" + id, 0, hardLimit);
    this.consumerAllocator = executionAllocator.newChildAllocator("consumer-" + id, 0, Long.MAX_VALUE);
    this.policies = bulk ? Policies.bulk() : Policies.streamingDefaults();
    this.badRecords = new BadRecords(options.badRecordAllowance());
    this.totalResources = options.resources() != null ? options.resources() : runtime.totalResources();
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "sluice-timer-" + id);
      t.setDaemon(true);
      return t;
    });
    this.thread = new Thread(this::loop, "sluice-scheduler-" + id);
    this.thread.setDaemon(true);
  }

  /** Plans splits, builds operator states, logs the DAG and starts the scheduling thread. */
  public void start() {
    ExecContext ctx = new ExecContext(runtime, options, badRecords,
        new ReadContext(options.targetBlockRows(), options.targetBlockBytes(), badRecords), inbox::add, timer, epoch);
    try {
      for (int i = 0; i < plan.size(); i++) {
        ops.add(createState(i, plan.get(i), ctx));
      }
      checkResources();
    } catch (RuntimeException e) {
      releaseAfterFailedStart();
      throw e;
    }
    LOG.info("Execution {}: {}", id, Planner.describe(plan));
    thread.start();
    inbox.add(() -> ops.forEach(OperatorState::start));
  }

  private OperatorState createState(int i, PhysicalOp op, ExecContext ctx) {
    if (op instanceof ReadOp r) {
      List<SourceSplit> splits = EpochSplits.plan(r, epoch);
      long rows = 0;
      for (SourceSplit s : splits) {
        rows = (rows < 0 || s.estimatedRows() < 0) ? -1 : rows + s.estimatedRows();
      }
      rowsTotal = rows;
      return new ReadOperatorState(i, r, splits, ctx, this, executionAllocator);
    }
    if (op instanceof TaskMapOp t) {
      return new MapOperatorState(i, t.name(), t.chain(), t.resources(), t.batchSize(), t.concurrency(), ctx, this, executionAllocator);
    }
    if (op instanceof ActorMapOp a) {
      return new ActorPoolOperatorState(i, a, ctx, this, executionAllocator);
    }
    if (op instanceof LimitOp l) {
      rowsTotal = rowsTotal < 0 ? -1 : Math.min(rowsTotal, l.rows());
      return new LimitOperatorState(i, l.rows(), ctx, this, executionAllocator);
    }
    throw new IllegalArgumentException("unknown operator " + op);
  }

  private void checkResources() {
    Resources actors = Resources.NONE;
    for (PhysicalOp op : plan) {
      if (op instanceof ActorMapOp a) {
        actors = actors.plus(new Resources(a.resources().cpus() * a.pool().min(), a.resources().gpus() * a.pool().min()));
      }
    }
    for (PhysicalOp op : plan) {
      Resources need = op instanceof ReadOp r ? r.resources() : op instanceof TaskMapOp t ? t.resources()
          : op instanceof ActorMapOp a ? a.resources() : Resources.NONE;
      if (!totalResources.fits(need)) {
        throw new SluiceException("operator asks for " + need + " per task but the runtime offers " + totalResources,
            op.name(), null, null, null);
      }
    }
    Resources oneTask = Resources.cpus(1);
    if (!totalResources.fits(actors.plus(oneTask))) {
      throw new SluiceException("the actor pools' minimum sizes need " + actors + ", which leaves no room for"
          + " the other operators' tasks in " + totalResources + ": lower the pools' min or add resources", null, null, null, null);
    }
  }

  // ---- the scheduling thread

  private void loop() {
    try {
      while (true) {
        Runnable event = inbox.take();
        event.run();
        for (Runnable more; (more = inbox.poll()) != null; ) {
          more.run();
        }
        if (step()) {
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

  /** One scheduling step; returns true when the execution is over and every task has ended. */
  boolean step() {
    if (failure != null || stopRequested) {
      ops.forEach(OperatorState::cancel);
      for (OperatorState op : ops) {
        if (op instanceof ActorPoolOperatorState a) {
          a.stopAll();
        }
      }
      return quiescent();
    }
    moveOutputs();
    for (OperatorState op : ops) {
      op.maintain();
    }
    launchEligible();
    liveness();
    observe(false);
    if (ops.get(ops.size() - 1).isDone() && bulkHeld.isEmpty()) {
      deliverEnd();
      return quiescent();
    }
    return false;
  }

  private boolean quiescent() {
    for (OperatorState op : ops) {
      if (!op.running.isEmpty() || (op instanceof ActorPoolOperatorState a && a.liveActors() > 0)) {
        return false;
      }
    }
    return usedResources.cpus() < 1e-9 && usedResources.gpus() < 1e-9;
  }

  private void moveOutputs() {
    boolean bulk = options.mode() == ExecutionOptions.Mode.BULK;
    for (int i = 0; i < ops.size(); i++) {
      OperatorState op = ops.get(i);
      for (Batch b : op.outputs.takeReady()) {
        if (i + 1 < ops.size()) {
          ops.get(i + 1).addInput(b);
        } else if (bulk) {
          bulkHeld.add(b);
        } else {
          deliver(b);
        }
      }
      if (i + 1 < ops.size()) {
        ops.get(i + 1).upstreamDone = op.isDone();
      }
    }
    if (bulk && ops.get(ops.size() - 1).isDone()) {
      bulkHeld.forEach(this::deliver);
      bulkHeld.clear();
    }
  }

  private void launchEligible() {
    List<OperatorState> taskOps = taskOperators();
    View view = new View(taskOps);
    while (true) {
      OperatorState best = null;
      long now = System.nanoTime();
      for (OperatorState op : taskOps) {
        if (!op.hasWork() || !fits(op.taskResources())) {
          clearHeldBack(op, now);
          continue;
        }
        boolean allowed = true;
        for (BackpressurePolicy p : policies) {
          if (!p.canLaunch(op, view)) {
            allowed = false;
            break;
          }
        }
        if (!allowed) {
          if (op.heldBackSince < 0) {
            op.heldBackSince = now;
          }
          continue;
        }
        clearHeldBack(op, now);
        if (best == null || op.memoryUsage() < best.memoryUsage()
            || (op.memoryUsage() == best.memoryUsage() && op.index > best.index)) {
          best = op;
        }
      }
      if (best == null) {
        return;
      }
      best.launch();
    }
  }

  private static void clearHeldBack(OperatorState op, long now) {
    if (op.heldBackSince >= 0) {
      op.backpressureNanos += now - op.heldBackSince;
      op.heldBackSince = -1;
    }
  }

  private void liveness() {
    for (OperatorState op : ops) {
      if (!op.running.isEmpty() || op.hasPendingStartup()) {
        return;
      }
    }
    if (!channel.isEmpty()) {
      return;
    }
    // A consumer still holding batches will free memory when it closes them (which wakes us up);
    // only when it holds none, or waits for more while holding some, is the pipeline stuck. (A
    // prefetching consumer waits for more while its user still holds a batch: that is not stuck.)
    // So: stuck when the consumer waits for a block and, if it prefetches, its user waits too.
    boolean consumerHolds = outstandingDelivered.get() > 0 || consumerAllocator.getAllocatedMemory() > 0;
    boolean stuck = consumersWaiting.get() > 0 && (countWaitInTake || usersWaiting.get() > 0);
    if (consumerHolds && !stuck) {
      return;
    }
    List<OperatorState> taskOps = taskOperators();
    for (int i = taskOps.size() - 1; i >= 0; i--) {
      OperatorState op = taskOps.get(i);
      if (op.hasWork() && fits(op.taskResources())
          && (options.mode() == ExecutionOptions.Mode.STREAMING || op.upstreamDone)) {
        LOG.debug("liveness: launching a task of {} within the budget's headroom", op.name);
        op.launch();
        return;
      }
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

  private List<OperatorState> taskOperators() {
    List<OperatorState> out = new ArrayList<>();
    for (OperatorState op : ops) {
      if (!(op instanceof LimitOperatorState)) {
        out.add(op);
      }
    }
    return out;
  }

  private void deliver(Batch b) {
    if (firstBatchNanos < 0) {
      firstBatchNanos = System.nanoTime() - startNanos;
    }
    rowsOut += b.rowCount();
    long bytes = b.sizeInBytes();
    deliveredBytes += bytes;
    outstandingDelivered.incrementAndGet();
    outstandingDeliveredBytes.addAndGet(bytes);
    b.onClose(() -> deliveredClosed(bytes));
    channel.add(b);
  }

  private void deliveredClosed(long bytes) {
    outstandingDeliveredBytes.addAndGet(-bytes);
    inbox.add(() -> {});
    if (outstandingDelivered.decrementAndGet() == 0) {
      closeAllocatorsIfDone();
    }
  }

  private void deliverEnd() {
    if (!endDelivered) {
      endDelivered = true;
      endNanos = System.nanoTime();
      channel.add(Marker.END);
    }
  }

  /** Fails the execution (first failure wins): everything stops, the consumer sees the error. */
  void fail(Throwable error) {
    if (failure != null) {
      return;
    }
    failure = error instanceof SluiceException s ? s : new SluiceException(String.valueOf(error), error);
    LOG.debug("execution {} failed", id, error);
    for (Object o; (o = channel.poll()) != null; ) {
      if (o instanceof Batch b) {
        b.close();
      }
    }
    bulkHeld.forEach(Batch::close);
    bulkHeld.clear();
    endNanos = System.nanoTime();
    channel.add(new Failure(failure));
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

  void acquire(Resources r) {
    usedResources = usedResources.plus(r);
  }

  void release(Resources r) {
    usedResources = usedResources.minus(r);
  }

  boolean fits(Resources r) {
    return totalResources.minus(usedResources).fits(r);
  }

  /**
   * Whether {@code r} fits while still leaving room for one task of every other unfinished task
   * operator, so that a growing actor pool never takes the resources its own upstream needs.
   */
  boolean fitsLeavingRoomForOthers(OperatorState asking, Resources r) {
    Resources need = r;
    for (OperatorState op : ops) {
      if (op != asking && !(op instanceof LimitOperatorState) && !(op instanceof ActorPoolOperatorState)
          && !op.isDone() && op.running.isEmpty()) {
        need = need.plus(op.taskResources());
      }
    }
    return fits(need);
  }

  private void finish() {
    for (OperatorState op : ops) {
      try {
        op.close();
      } catch (RuntimeException e) {
        LOG.warn("closing operator {} failed", op.name, e);
      }
    }
    observe(true);
    observer.close();
    timer.shutdownNow();
    if (!endDelivered && failure == null) {
      // Stopped by the consumer: nothing more will come.
      channel.add(Marker.END);
    }
    if (endNanos < 0) {
      endNanos = System.nanoTime();
    }
    terminated.complete(null);
    closeAllocatorsIfDone();
  }

  private void observe(boolean force) {
    long now = System.nanoTime();
    if (!force && now - lastObserved < OBSERVE_EVERY_NANOS) {
      return;
    }
    lastObserved = now;
    List<OperatorStats> stats = new ArrayList<>();
    List<ExecutionObserver.OperatorLine> lines = new ArrayList<>();
    for (OperatorState op : ops) {
      stats.add(op.snapshot());
      lines.add(new ExecutionObserver.OperatorLine(op.name, op.running.size(),
          op instanceof ActorPoolOperatorState a ? a.liveActors() : 0, op.rowsOut, op.queuedBytes, op.memoryUsage()));
    }
    lastStats = List.copyOf(stats);
    observer.update(new ExecutionObserver.Snapshot(usedResources.cpus(), totalResources.cpus(), usedResources.gpus(),
        totalResources.gpus(), executionAllocator.getAllocatedMemory(), options.memoryBudget(), rowsOut, rowsTotal, lines));
  }

  // ---- the consumer's side (any thread)

  /**
   * The next batch for the consumer, waiting for it; null at the end. The batch belongs to the
   * caller. Throws the execution's failure.
   */
  @Override
  public Batch take() throws InterruptedException {
    long t0 = System.nanoTime();
    Object o = channel.poll();
    if (o == null) {
      consumersWaiting.incrementAndGet();
      inbox.add(() -> {});
      try {
        o = channel.take();
      } finally {
        consumersWaiting.decrementAndGet();
      }
    }
    if (countWaitInTake) {
      consumerWaitNanos.addAndGet(System.nanoTime() - t0);
    }
    if (o instanceof Batch b) {
      return b;
    }
    // END and failures stay in the channel so that every later call sees them too.
    channel.add(o);
    if (o instanceof Failure f) {
      throw SluiceException.rethrown(f.error());
    }
    return null;
  }

  /** The allocator the consumer re-batches into (a child of the execution's). */
  @Override
  public BufferAllocator consumerAllocator() {
    return consumerAllocator;
  }

  /** Adds time the consumer spent waiting outside {@link #take()} (a prefetching iterator). */
  @Override
  public void addConsumerWait(long nanos) {
    consumerWaitNanos.addAndGet(nanos);
  }

  private volatile boolean countWaitInTake = true;

  @Override
  public void userWaiting(boolean waiting) {
    if (waiting) {
      usersWaiting.incrementAndGet();
      inbox.add(() -> {});
    } else {
      usersWaiting.decrementAndGet();
    }
  }

  @Override
  public void consumerHolds(long rows) {
    if (rows < 0) {
      throw new IllegalArgumentException("rows must be >= 0: " + rows);
    }
    consumerRows.addAndGet(rows);
    inbox.add(() -> {});
  }

  /**
   * The memory the consumer side claims: what it holds now (its re-batched copies and the delivered
   * blocks it has not closed), plus what it said it may allocate in one go, at the bytes per row
   * delivered so far (the last task operator's, before any delivery).
   */
  long consumerClaim() {
    long held = consumerAllocator.getAllocatedMemory() + outstandingDeliveredBytes.get();
    long rows = consumerRows.get();
    double perRow = 0;
    if (rowsOut > 0) {
      perRow = deliveredBytes / (double) rowsOut;
    } else {
      List<OperatorState> taskOps = taskOperators();
      OperatorState last = taskOps.get(taskOps.size() - 1);
      if (last.rowsOut > 0) {
        perRow = last.bytesOut / (double) last.rowsOut;
      }
    }
    return held + (long) Math.ceil(rows * perRow);
  }

  /** Bytes the execution holds now. */
  long allocatedMemory() {
    return executionAllocator.getAllocatedMemory();
  }

  @Override
  public SluiceException consumerOutOfMemory(int batchRows, org.apache.arrow.memory.OutOfMemoryException e) {
    long rows = rowsOut;
    return MemoryAdvice.forConsumer(batchRows, e, options, executionAllocator.getAllocatedMemory(),
        rows > 0 ? deliveredBytes / (double) rows : -1);
  }

  /** The consumer side's peak of re-batched copies (its own allocator). */
  long consumerPeak() {
    return consumerAllocator.getPeakMemoryAllocation();
  }

  /**
   * Says that the consumer's waiting is measured outside {@link #take()} (a prefetching iterator
   * measures its own queue), so that it is not counted twice.
   */
  @Override
  public void measureConsumerWaitOutside() {
    countWaitInTake = false;
  }

  /**
   * Stops the execution (if still running), waits for the scheduling thread to end, closes batches
   * not yet taken, and closes the allocators once the consumer has closed every batch it took.
   */
  @Override
  public void close() {
    closedNanos = System.nanoTime();
    inbox.add(() -> stopRequested = true);
    // Not cut short by an interrupt: a closing prefetch thread is interrupted to stop it, and tasks
    // still running would allocate after this returned.
    if (!Uninterruptibly.await(terminated, 60, TimeUnit.SECONDS)) {
      LOG.error("execution {} did not stop within 60 s", id);
    }
    for (Object o; (o = channel.poll()) != null; ) {
      if (o instanceof Batch b) {
        b.close();
      }
    }
    synchronized (this) {
      closeRequested = true;
    }
    closeAllocatorsIfDone();
  }

  private synchronized void closeAllocatorsIfDone() {
    if (allocatorsClosed || !closeRequested || !terminated.isDone() || outstandingDelivered.get() > 0) {
      return;
    }
    allocatorsClosed = true;
    try {
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

  private void releaseAfterFailedStart() {
    ops.forEach(OperatorState::close);
    for (OperatorState op : ops) {
      op.allocator.close();
    }
    consumerAllocator.close();
    executionAllocator.close();
    timer.shutdownNow();
    allocatorsClosed = true;
  }

  /** Whether the scheduling thread has ended. */
  public boolean isTerminated() {
    return terminated.isDone();
  }

  /**
   * Statistics now: taken on the scheduling thread while it runs (waiting at most a second for
   * it), or the final figures once the execution has ended.
   */
  @Override
  public DatasetStats stats() {
    if (!terminated.isDone()) {
      CompletableFuture<Void> fresh = new CompletableFuture<>();
      inbox.add(() -> {
        observe(true);
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
    // The execution's wall time runs until the consumer is done with it (it may drain after the end).
    long end = endNanos < 0 ? System.nanoTime() : Math.max(endNanos, closedNanos);
    return new DatasetStats(Planner.describe(plan), lastStats, end - startNanos, firstBatchNanos, consumerWaitNanos.get(),
        rowsOut, options.memoryBudget(), executionAllocator.getPeakMemoryAllocation(), badRecords.skipped(),
        consumerAllocator.getPeakMemoryAllocation());
  }

  /** The execution allocator's peak so far (every block of the execution counts). */
  @Override
  public long peakMemory() {
    return executionAllocator.getPeakMemoryAllocation();
  }

  /** The scheduling thread's name, for tests that check threads end. */
  public String threadName() {
    return thread.getName();
  }

  /** What the policies see of the execution. */
  private final class View implements BackpressurePolicy.ExecutionView {
    private final List<OperatorState> taskOps;

    View(List<OperatorState> taskOps) {
      this.taskOps = taskOps;
    }

    /**
     * The budget the policies plan with: the configured one less a headroom of one task (the
     * largest measured), which the liveness rule may use when nothing else can run. So even a
     * liveness launch keeps the execution within the configured budget.
     */
    @Override
    public long memoryBudget() {
      long largestTask = 0;
      for (OperatorState op : taskOps) {
        if (op.estimateKnown()) {
          largestTask = Math.max(largestTask, op.estimate);
        }
      }
      return Math.max(options.memoryBudget() / 2, options.memoryBudget() - largestTask);
    }

    @Override
    public List<? extends BackpressurePolicy.OperatorView> operators() {
      return taskOps;
    }

    /**
     * The consumer side's claim beyond what the operators' usage already counts (delivered blocks
     * stay in the last operator's allocator until closed).
     */
    @Override
    public long consumerMemoryUsage() {
      return Math.max(0, consumerClaim() - outstandingDeliveredBytes.get());
    }

    @Override
    public double reservedShare() {
      return options.reservedShare();
    }
  }
}
