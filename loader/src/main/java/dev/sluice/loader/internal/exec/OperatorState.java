package dev.sluice.loader.internal.exec;

import dev.sluice.loader.OperatorStats;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.runtime.BlockLostException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.NodeLostException;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.function.LongSupplier;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The executor's state of one physical operator: its input queue, its tasks in flight, its finished
 * outputs, its memory estimate and its statistics. Every method runs on the scheduling thread;
 * tasks run elsewhere and come back through {@link ExecContext#post}.
 */
abstract class OperatorState implements BackpressurePolicy.OperatorView {

  final int index;
  final String name;
  final ExecContext ctx;
  final StreamingExecutor executor;
  final BufferAllocator allocator;
  final OutputBuffer outputs;
  final ArrayDeque<SharedBlock> inputQueue = new ArrayDeque<>();
  final Map<Long, Running> running = new LinkedHashMap<>();

  /** Lost blocks this operator is to make again from their lineage (see {@link #remakes()}). */
  final ArrayDeque<BlockRef> remakeQueue = new ArrayDeque<>();

  long queuedBytes;
  long queuedRows;
  boolean upstreamDone;
  boolean cancelled;
  long estimate = -1;

  /**
   * The most input rows a completed task had, and the highest peak among the tasks that had that
   * many: what a task of more rows is scaled from (see {@link #taskMemoryEstimate(long)}).
   */
  long mostRowsIn;

  long peakAtMostRowsIn;

  /** The most output bytes a task produced per input row so far; -1 before any task ended. */
  double bytesOutPerRowIn = -1;

  private long nextTaskId;

  long tasks;
  long rowsIn;
  long rowsOut;
  long bytesIn;
  long bytesOut;
  long wallNanos;
  long cpuNanos;
  long backpressureNanos;
  long heldBackSince = -1;
  long peakQueuedBytes;

  /**
   * Blocks an operator's output buffer holds (released, plus one per task in flight) before it
   * stops launching tasks; a guard beside the memory budget, which is the real bound.
   */
  static final int OUTPUT_BLOCKS = 64;

  /** Blocks an input queue takes before upstream keeps them (unless a batch needs more rows). */
  static final int INPUT_BLOCKS = 64;

  /** Whether the block-count bounds apply (streaming; bulk mode holds everything by definition). */
  final boolean boundedBuffers;

  /** A task in flight: where it runs, and the memory and resources reserved for it at launch. */
  record Running(
      long id,
      long reserve,
      Resources resources,
      Node node,
      LongSupplier allocated,
      boolean remote) {}

  OperatorState(
      int index, String name, ExecContext ctx, StreamingExecutor executor, BufferAllocator parent) {
    this.index = index;
    this.name = name;
    this.ctx = ctx;
    this.executor = executor;
    this.allocator = parent.newChildAllocator("op" + index + "-" + name, 0, Long.MAX_VALUE);
    this.outputs = new OutputBuffer(ctx.options().preserveOrder() && keysOutputs());
    this.boundedBuffers = ctx.options().mode() == dev.sluice.loader.ExecutionOptions.Mode.STREAMING;
  }

  /** The batch size the user set for the operator's functions; 0 when none. */
  int batchSizeSetting() {
    return 0;
  }

  /** Whether outputs carry keys to order by (a limit passes on arrival order). */
  boolean keysOutputs() {
    return true;
  }

  /** Whether a task could be formed now, ignoring resources and policies. */
  abstract boolean hasWork();

  /** The resources one more task needs. */
  abstract Resources taskResources();

  /** Launches one task; only called when {@link #hasWork()} and resources and policies allow. */
  abstract void launch();

  /** A first guess of a task's peak memory, before any task has completed. */
  abstract long provisionalEstimate();

  /** Whether the operator will produce nothing more (and has handed everything on). */
  boolean isDone() {
    return (upstreamDone || cancelled)
        && inputQueue.isEmpty()
        && running.isEmpty()
        && remakeQueue.isEmpty()
        && outputs.isEmpty();
  }

  // ---- node loss

  /** Whether the operator makes lost blocks again (a read's, a task map's, a limit's upstream). */
  boolean remakes() {
    return false;
  }

  /** Queues a lost block to be made again by one of this operator's tasks. */
  final void queueRemake(BlockRef lost) {
    remakeQueue.add(lost);
  }

  /** Forgets what was on a lost node (a read's cursors, a pool's actors). */
  void nodeLost(Node node) {}

  /**
   * Hands over what the operator keeps on a leaving node (a read's splits, a pool's actors): it
   * places nothing new there already (the ledger sees to that); tasks running there end as usual.
   */
  void nodeLeaving(Node node) {}

  /** Whether the operator still has something on {@code node}: a task, a reader, an actor. */
  boolean holdsOn(Node node) {
    for (Running r : running.values()) {
      if (r.node().id().equals(node.id())) {
        return true;
      }
    }
    return false;
  }

  /** Every block reference the operator holds: queued inputs, finished outputs. */
  List<BlockRef> heldRefs() {
    List<BlockRef> refs = new java.util.ArrayList<>();
    for (SharedBlock b : inputQueue) {
      refs.add(b.ref());
    }
    refs.addAll(outputs.refs());
    return refs;
  }

  /** Launches a task that makes the next queued lost block again, under its name. */
  final void launchRemake() {
    BlockRef lost = remakeQueue.poll();
    startTask(
        taskMemoryEstimate(lost.rows()), lost.hosts(), remakeSpec(lost), remakeCompletion(lost));
  }

  /** The spec of a task that makes {@code lost} again. */
  final TaskSpec.Remake remakeSpec(BlockRef lost) {
    return new TaskSpec.Remake(index, lost.lineage(), lost.hosts());
  }

  /**
   * The end of a task that made {@code lost} again: its holders read the new block; made with other
   * rows, the execution fails (a function is not deterministic); lost again, it is queued again.
   */
  final TaskCompletion remakeCompletion(BlockRef lost) {
    return new TaskCompletion() {
      @Override
      public boolean counts() {
        return false;
      }

      @Override
      public void completed(TaskOutcome r, BlockRef output) {
        int rows = output == null ? 0 : output.rows();
        if (cancelled) {
          return; // nothing was kept
        }
        if (rows != lost.rows()) {
          if (output != null) {
            executor.release(output);
          }
          executor.fail(
              new SluiceException(
                  "made again, "
                      + lost.lineage()
                      + " has "
                      + rows
                      + " rows, not "
                      + lost.rows()
                      + ": a function is not deterministic",
                  name,
                  null,
                  null,
                  null));
          return;
        }
        if (!executor.blocks().ready(output)) {
          queueRemake(lost); // its node was lost too before the task ended
          return;
        }
        executor.decided("remade " + lost.lineage().dedupKey() + " on " + output.owner());
        executor.remade(lost, output);
      }

      @Override
      public boolean lost(Throwable cause) {
        queueRemake(lost);
        return true;
      }
    };
  }

  /**
   * Whether a task's output would find room in the output buffer. Bulk mode has no block bounds: it
   * holds everything an operator makes until the operator is done, by definition.
   */
  boolean outputHasRoom() {
    return !boundedBuffers || outputs.readyCount() + running.size() < OUTPUT_BLOCKS;
  }

  /**
   * Whether {@link #addInput} takes one more block now (offer semantics: upstream keeps the block
   * otherwise): the queue holds fewer than {@link #INPUT_BLOCKS} blocks, or fewer rows than one
   * batch needs.
   */
  boolean acceptsInput() {
    return !boundedBuffers || inputQueue.size() < INPUT_BLOCKS || queuedRows < batchSizeSetting();
  }

  /**
   * The rows the plan delivers up to this operator, from what it delivers up to the one before
   * ({@code upstream}, -1 when unknown): the same for most operators.
   */
  long plannedRows(long upstream) {
    return upstream;
  }

  /** Whether the operator runs tasks (a limit works on the scheduling thread). */
  boolean runsTasks() {
    return true;
  }

  /** Whether each task takes its resources (an actor pool's actors hold theirs for their life). */
  boolean resourcesPerTask() {
    return true;
  }

  /** Actors alive (started and not stopped). */
  int liveActors() {
    return 0;
  }

  /** Stops every actor regardless of state (shutdown after a failure or a stop). */
  void stopAllActors() {}

  /** Starts the held-back clock (a policy refused a task that could otherwise run). */
  final void holdBack(long now) {
    if (heldBackSince < 0) {
      heldBackSince = now;
    }
  }

  /** Stops the held-back clock, adding the time to the operator's backpressure time. */
  final void clearHeldBack(long now) {
    if (heldBackSince >= 0) {
      backpressureNanos += now - heldBackSince;
      heldBackSince = -1;
    }
  }

  /** Starts any operator-specific machinery (actors). */
  void start() {}

  /** Periodic housekeeping on each scheduling step (actor pool scaling). */
  void maintain() {}

  /** Whether the operator waits on something other than tasks (actors starting). */
  boolean hasPendingStartup() {
    return false;
  }

  /** Accepts one block from upstream (its reference passes to this operator's queue). */
  void addInput(BlockRef ref) {
    if (cancelled || ref.rows() == 0) {
      executor.release(ref);
      return;
    }
    SharedBlock b = new SharedBlock(ref, executor.blocks());
    inputQueue.add(b);
    queuedBytes += b.bytes();
    queuedRows += b.rows();
    peakQueuedBytes = Math.max(peakQueuedBytes, queuedBytes);
  }

  /** Stops producing: drops queued inputs and outputs; tasks in flight finish and are discarded. */
  void cancel() {
    cancelled = true;
    for (SharedBlock b : inputQueue) {
      b.release();
    }
    inputQueue.clear();
    queuedBytes = 0;
    queuedRows = 0;
    outputs.releaseAll(executor::release);
  }

  /** Closes what the operator still holds; called once every task has finished. */
  void close() {
    cancel();
  }

  /**
   * Runs {@code spec} as a task on a node of the runtime (one whose host holds {@code hosts}, the
   * task's input, when it has room), reserving {@code reserve} bytes of the budget for it; the
   * outcome comes back to {@link #onTaskDone} on the scheduling thread.
   */
  final void startTask(
      long reserve, Collection<String> hosts, TaskSpec spec, TaskCompletion completion) {
    Node node = executor.resources().place(taskResources(), hosts, reserve);
    if (node == null) {
      throw new IllegalStateException(name + ": launched a task that fits no node");
    }
    startTaskOn(node, reserve, spec, completion);
  }

  /** Runs {@code spec} as a task on {@code node} (see {@link #startTask}). */
  final void startTaskOn(Node node, long reserve, TaskSpec spec, TaskCompletion completion) {
    launchTask(reserve, node, () -> executor.agent(node).run(spec), completion);
  }

  /**
   * Runs a task on {@code node} wherever {@code launcher} puts it there (an actor pool runs it on
   * one of its actors).
   */
  final void launchTask(long reserve, Node node, TaskLauncher launcher, TaskCompletion completion) {
    long id = nextTaskId++;
    Resources res = taskResources();
    executor.resources().acquire(node, res);
    NodeAgent.Task task = launcher.launch();
    running.put(
        id, new Running(id, reserve, res, node, task::allocatedBytes, executor.isRemote(node)));
    task.outcome()
        .whenComplete((r, e) -> ctx.post().accept(() -> onTaskDone(id, r, e, completion)));
  }

  /** Starts a task on its node; see {@link #launchTask}. */
  @FunctionalInterface
  interface TaskLauncher {
    NodeAgent.Task launch();
  }

  private void onTaskDone(long id, TaskOutcome r, Throwable e, TaskCompletion completion) {
    Running run = running.remove(id);
    executor.resources().release(run.node(), run.resources());
    if (e != null) {
      Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      if (!cancelled && lostWork(cause, run, completion)) {
        return;
      }
      completion.failed(cause);
      org.apache.arrow.memory.OutOfMemoryException oom = MemoryAdvice.find(cause);
      if (oom != null) {
        executor.fail(
            MemoryAdvice.forTask(
                name,
                cause,
                oom,
                ctx.options(),
                executor.allocatedMemory(),
                bytesOutPerRowIn,
                batchSizeSetting()));
        return;
      }
      executor.fail(
          cause instanceof SluiceException s
              ? s
              : new SluiceException("task failed: " + cause, name, null, null, cause));
      return;
    }
    BlockRef ref = r.output();
    if (ref != null) {
      executor.blocks().arrived(ref);
    }
    if (completion.counts()) {
      tasks++;
      rowsIn += r.rowsIn();
      bytesIn += r.bytesIn();
      wallNanos += r.wallNanos();
      cpuNanos += r.cpuNanos();
      estimate = Math.max(estimate, r.peakBytes());
      if (r.rowsIn() > mostRowsIn) {
        mostRowsIn = r.rowsIn();
        peakAtMostRowsIn = r.peakBytes();
      } else if (r.rowsIn() == mostRowsIn) {
        peakAtMostRowsIn = Math.max(peakAtMostRowsIn, r.peakBytes());
      }
      if (ref != null) {
        rowsOut += ref.rows();
        bytesOut += ref.bytes();
      }
      if (r.rowsIn() > 0) {
        bytesOutPerRowIn =
            Math.max(bytesOutPerRowIn, ref == null ? 0 : ref.bytes() / (double) r.rowsIn());
      }
    }
    if (cancelled && ref != null) {
      executor.release(ref);
      ref = null;
    }
    completion.completed(r, ref);
  }

  /**
   * Whether a task failed because its node, or a node holding its input, was lost; then the loss is
   * handled (the executor may hear of it here first) and the task is run again or given up by its
   * completion.
   */
  private boolean lostWork(Throwable cause, Running run, TaskCompletion completion) {
    NodeLostException nodeLost = find(cause, NodeLostException.class);
    BlockLostException blockLost = find(cause, BlockLostException.class);
    dev.sluice.loader.runtime.AttemptSupersededException superseded =
        find(cause, dev.sluice.loader.runtime.AttemptSupersededException.class);
    if (superseded != null && nodeLost == null && blockLost == null) {
      // Fenced off by the lease record: the split is read elsewhere under a higher attempt.
      executor.decided(name + ": " + superseded.getMessage());
      return completion.lost(cause);
    }
    if (nodeLost == null && blockLost == null) {
      return false;
    }
    if (nodeLost != null) {
      executor.nodeLost(nodeLost.node(), nodeLost.reason());
    }
    if (executor.failed()) {
      return false;
    }
    executor.event(
        dev.sluice.loader.ExecutionEvent.Kind.TASK_RETRIED,
        run.node().id(),
        name + ": " + (nodeLost != null ? nodeLost.getMessage() : blockLost.getMessage()));
    executor.decided(
        "retry a task of "
            + name
            + " on "
            + run.node().id()
            + ": "
            + (nodeLost != null ? nodeLost.getMessage() : blockLost.getMessage()));
    return completion.lost(cause);
  }

  private static <T extends Throwable> T find(Throwable e, Class<T> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
    }
    return null;
  }

  /**
   * How many of {@code available} input rows the next task should take so that its output stays
   * near {@link dev.sluice.loader.ExecutionOptions#targetOutputBytes()}, from the bytes per input
   * row earlier tasks produced: one row while nothing is known (a slow start: the function may
   * expand a row a thousandfold), at least one row, at most all.
   */
  final int rowsForTarget(int available) {
    return rowsForTarget(available, bytesOutPerRowIn);
  }

  /** As {@link #rowsForTarget(int)}, from {@code bytesPerRow} (-1: nothing known yet). */
  final int rowsForTarget(int available, double bytesPerRow) {
    return rowsForTarget(available, bytesPerRow, ctx.options().targetOutputBytes());
  }

  /** As {@link #rowsForTarget(int)}, from {@code bytesPerRow} and the output target. */
  static int rowsForTarget(int available, double bytesPerRow, long targetOutputBytes) {
    if (bytesPerRow < 0) {
      return Math.min(available, 1);
    }
    if (bytesPerRow == 0) {
      return available;
    }
    // Up to a quarter over the target, so that rows of exactly target / n bytes (plus a few bytes
    // of other columns) still make blocks of n rows.
    double rows = targetOutputBytes * 1.25 / bytesPerRow;
    return (int) Math.max(1, Math.min(available, rows));
  }

  // ---- BackpressurePolicy.OperatorView

  @Override
  public int index() {
    return index;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public int tasksInFlight() {
    return running.size();
  }

  @Override
  public long memoryUsage() {
    // Tasks allocate concurrently: read their allocations before the operator's total, so that an
    // allocation landing in between is counted twice (safe), never missed.
    long unallocatedReserves = 0;
    for (Running r : running.values()) {
      long allocated = r.allocated().getAsLong();
      if (r.remote()) {
        // Nothing of it is in this process's allocators: its reserve, or more if it says so.
        unallocatedReserves += Math.max(r.reserve(), allocated);
      } else {
        unallocatedReserves += Math.max(0, r.reserve() - allocated);
      }
    }
    // Blocks this operator made in other processes are counted from their references.
    return allocator.getAllocatedMemory()
        + executor.blocks().remoteBytesOf(index)
        + unallocatedReserves;
  }

  /**
   * The memory the next task is expected to take at its peak: {@link #taskMemoryEstimate(long)}.
   */
  @Override
  public long taskMemoryEstimate() {
    return taskMemoryEstimate(nextTaskRows());
  }

  /**
   * Input rows of the task {@link #launch} starts next, or -1 when that is not known here (the
   * estimate is then not scaled to it).
   */
  long nextTaskRows() {
    // A lost block is made again from as many rows as it holds (for a read or a map).
    return remakeQueue.isEmpty() ? -1 : remakeQueue.peek().rows();
  }

  /**
   * The memory a task of {@code rows} input rows (-1: not known) is expected to take at its peak:
   * the highest peak measured so far, and for a task of more rows than any completed one, the peak
   * of the largest ones scaled to its rows. The first tasks of a map take one row each (the slow
   * start of {@link #rowsForTarget}); without the scaling the tasks after them, of whole blocks,
   * would be reserved the memory of one row. Before any task completed, a first guess, but at least
   * the operator's even share of the reserved budget, so that a first task that expands its input
   * more than guessed still fits the memory claimed for it.
   */
  final long taskMemoryEstimate(long rows) {
    if (estimate >= 0) {
      if (rows > mostRowsIn && mostRowsIn > 0) {
        return Math.max(estimate, (long) Math.ceil(peakAtMostRowsIn * (double) rows / mostRowsIn));
      }
      return estimate;
    }
    long even =
        (long)
            (ctx.options().memoryBudget()
                * ctx.options().reservedShare()
                / Math.max(1, executor.taskOperatorCount()));
    return Math.max(provisionalEstimate(), even);
  }

  @Override
  public boolean estimateKnown() {
    return estimate >= 0;
  }

  @Override
  public boolean upstreamDone() {
    return upstreamDone;
  }

  OperatorStats snapshot(int actorsStarted, int peakActors, int actorsAlive) {
    long held =
        backpressureNanos + (heldBackSince >= 0 ? ctx.clock().getAsLong() - heldBackSince : 0);
    return new OperatorStats(
        name,
        tasks,
        rowsIn,
        rowsOut,
        bytesIn,
        bytesOut,
        wallNanos,
        cpuNanos,
        held,
        peakQueuedBytes,
        Math.max(estimate, 0),
        0,
        actorsStarted,
        peakActors,
        running.size(),
        actorsAlive,
        bytesOutPerRowIn);
  }

  OperatorStats snapshot() {
    return snapshot(0, 0, 0);
  }

  /** What to do on the scheduling thread when a task ends. */
  interface TaskCompletion {
    /**
     * The task succeeded; {@code output} (maybe null), in the store of the task's node, now belongs
     * to the callee.
     */
    void completed(TaskOutcome result, BlockRef output);

    /** Whether the task counts in the operator's statistics (a block made again does not). */
    default boolean counts() {
      return true;
    }

    /**
     * The task was lost with a node (its own, or one holding its input); returns whether it will be
     * run again (else the execution fails).
     */
    default boolean lost(Throwable cause) {
      return false;
    }

    /** The task failed (the executor fails the execution right after). */
    default void failed(Throwable cause) {}
  }
}
