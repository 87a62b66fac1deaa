package dev.sluice.loader.internal.exec;

import dev.sluice.loader.internal.exec.SharedBlock.Segment;
import dev.sluice.loader.internal.plan.PhysicalOp.NamedFunction;
import dev.sluice.loader.runtime.BlockLostException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.NodeLostException;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Runs a chain of functions over input bundles: whole blocks as they come, or exactly {@code
 * batchSize} rows cut from the queue (copying) when a batch size is set. Subclassed by the actor
 * pool, which runs the same body on actors.
 */
class MapOperatorState extends OperatorState {
  final List<NamedFunction> chain;
  final Resources resources;
  final int batchSize;
  final int concurrency;
  private long nextSeq;

  /**
   * A task lost with a node, to run again with the same input and output key, not before {@code
   * notBefore} (clock nanos).
   */
  record Retry(long seq, List<Segment> bundle, long notBefore) {
    boolean ready(long now) {
      if (now < notBefore) {
        return false;
      }
      for (Segment s : bundle) {
        if (!s.block().ready()) {
          return false;
        }
      }
      return true;
    }
  }

  /**
   * How many times one task may be lost before the execution fails: far more than node losses can
   * explain (each loss is heard within the failure detection time, and then the task's inputs are
   * made again), so that an input the scheduler believes held but its node does not have fails with
   * a message instead of being retried for ever.
   */
  static final int MAX_LOST_TRIES = 60;

  /** The first pause before a lost task runs again; it doubles on each loss, up to the maximum. */
  static final long FIRST_RETRY_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  static final long MAX_RETRY_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

  /** Tasks lost with a node, run again before new bundles. */
  final java.util.ArrayDeque<Retry> retries = new java.util.ArrayDeque<>();

  /** How many times each task (by sequence number) was lost so far. */
  private final java.util.Map<Long, Integer> lostTries = new java.util.HashMap<>();

  MapOperatorState(
      int index,
      String name,
      List<NamedFunction> chain,
      Resources resources,
      int batchSize,
      int concurrency,
      ExecContext ctx,
      StreamingExecutor executor,
      BufferAllocator parent) {
    super(index, name, ctx, executor, parent);
    this.chain = chain;
    this.resources = resources;
    this.batchSize = batchSize;
    this.concurrency = concurrency;
  }

  @Override
  int batchSizeSetting() {
    return batchSize;
  }

  @Override
  boolean hasWork() {
    if (cancelled) {
      return false;
    }
    if (!remakeQueue.isEmpty()) {
      return true;
    }
    if (!retries.isEmpty()) {
      return retries.peek().ready(ctx.clock().getAsLong());
    }
    if (inputQueue.isEmpty()) {
      return false;
    }
    return (batchSize == 0 || queuedRows >= batchSize || upstreamDone) && nextBundleReady();
  }

  /** Whether the blocks the next bundle takes can be read (none is lost and being made again). */
  private boolean nextBundleReady() {
    int need = batchSize > 0 ? batchSize : 1;
    for (SharedBlock b : inputQueue) {
      if (!b.ready()) {
        return false;
      }
      need -= b.rows() - b.offset;
      if (need <= 0) {
        return true;
      }
    }
    return true;
  }

  @Override
  boolean isDone() {
    return super.isDone() && retries.isEmpty();
  }

  @Override
  boolean remakes() {
    return true;
  }

  @Override
  List<BlockRef> heldRefs() {
    List<BlockRef> refs = super.heldRefs();
    for (Retry r : retries) {
      for (Segment s : r.bundle()) {
        refs.add(s.block().ref());
      }
    }
    return refs;
  }

  @Override
  void cancel() {
    super.cancel();
    remakeQueue.clear();
    for (Retry r; (r = retries.poll()) != null; ) {
      for (Segment s : r.bundle()) {
        s.block().release();
      }
    }
  }

  /**
   * Queues a lost task's bundle to run again, having its lost inputs made again. The first time at
   * once; again after a pause that doubles each time (the task may have failed on an input whose
   * node is gone before the runtime says so: until then the input looks held, and running the task
   * at once would fail the same way). Fails the execution once the task was lost {@value
   * #MAX_LOST_TRIES} times.
   */
  final boolean retry(long seq, List<Segment> bundle, Throwable cause) {
    int tries = lostTries.merge(seq, 1, Integer::sum);
    if (tries > MAX_LOST_TRIES) {
      executor.fail(
          new dev.sluice.loader.SluiceException(
              name
                  + ": a task was lost "
                  + MAX_LOST_TRIES
                  + " times without its inputs' node being lost; last: "
                  + cause.getMessage(),
              cause));
      return false;
    }
    long pause =
        tries == 1
            ? 0
            : Math.min(MAX_RETRY_PAUSE_NANOS, FIRST_RETRY_PAUSE_NANOS << Math.min(tries - 2, 20));
    retries.add(new Retry(seq, bundle, ctx.clock().getAsLong() + pause));
    if (pause > 0) {
      ctx.timer().schedule(() -> ctx.post().accept(() -> {}), pause, TimeUnit.NANOSECONDS);
    }
    for (Segment s : bundle) {
      executor.remakeIfLost(s.block().ref());
    }
    return true;
  }

  @Override
  public int concurrencyCap() {
    return concurrency;
  }

  @Override
  Resources taskResources() {
    return resources;
  }

  @Override
  long provisionalEstimate() {
    // Before any task completed, assume the output is as large as the input.
    SharedBlock head = inputQueue.peek();
    if (head == null || head.rows() == 0) {
      return 0;
    }
    return head.bytes() * rowsWanted(head) / head.rows();
  }

  /**
   * Rows of a bundle without a batch size: sized by output bytes (actor pools take whole blocks).
   */
  int bundleRows(int available) {
    return rowsForTarget(available);
  }

  /**
   * Rows the next bundle asks for when {@code first} heads the queue: the user's batch size, else
   * (part of) that block, sized by output bytes.
   */
  private int rowsWanted(SharedBlock first) {
    return batchSize > 0 ? batchSize : bundleRows(first.rows() - first.offset);
  }

  /** Input rows of a bundle. */
  static long rowsOf(List<Segment> bundle) {
    long rows = 0;
    for (Segment s : bundle) {
      rows += s.rows();
    }
    return rows;
  }

  /**
   * Rows of the task {@link #launch} starts next: a lost block made again as many as it holds, a
   * task run again its bundle's, a new one what {@link #takeBundle} would cut now.
   */
  @Override
  long nextTaskRows() {
    if (!remakeQueue.isEmpty()) {
      return super.nextTaskRows();
    }
    Retry retry = retries.peek();
    if (retry != null) {
      return rowsOf(retry.bundle());
    }
    SharedBlock first = inputQueue.peek();
    if (first == null) {
      return -1;
    }
    return Math.min(rowsWanted(first), queuedRows);
  }

  /** Cuts the next bundle off the input queue (scheduling thread). */
  final List<Segment> takeBundle() {
    List<Segment> bundle = new ArrayList<>();
    // Without a batch size of the user's, a bundle is (part of) one block, sized by output bytes.
    SharedBlock first = inputQueue.peek();
    int need = first == null ? 0 : rowsWanted(first);
    while (need > 0 && !inputQueue.isEmpty()) {
      SharedBlock head = inputQueue.peek();
      int available = head.rows() - head.offset;
      int take = Math.min(available, need);
      head.retain();
      bundle.add(new Segment(head, head.offset, head.offset + take));
      head.offset += take;
      queuedRows -= take;
      if (head.offset == head.rows()) {
        inputQueue.poll();
        queuedBytes -= head.bytes();
        head.release();
      }
      if (batchSize == 0) {
        break;
      }
      need -= take;
    }
    return bundle;
  }

  @Override
  void launch() {
    if (!remakeQueue.isEmpty()) {
      launchRemake();
      return;
    }
    Retry retry = retries.poll();
    List<Segment> bundle = retry != null ? retry.bundle() : takeBundle();
    long seq = retry != null ? retry.seq() : nextSeq++;
    long reserve = taskMemoryEstimate(rowsOf(bundle));
    TaskSpec.MapBundle spec = specOf(bundle);
    Node node = place(spec, reserve);
    if (node == null) {
      throw new IllegalStateException(name + ": launched a task that fits no node");
    }
    launchTask(
        reserve,
        node,
        () -> releasingInputs(bundle, executor.agent(node).run(spec)),
        new BundleCompletion(seq, bundle));
  }

  /**
   * The end of a task over a bundle: its output is named by the bundle's slices and keyed by the
   * task's sequence number; a task lost with a node runs again with the same bundle.
   */
  class BundleCompletion implements TaskCompletion {
    private final long seq;
    private final List<Segment> bundle;

    BundleCompletion(long seq, List<Segment> bundle) {
      this.seq = seq;
      this.bundle = bundle;
    }

    @Override
    public void completed(TaskOutcome r, BlockRef output) {
      lostTries.remove(seq);
      outputs.add(seq, 0, output);
      outputs.finish(seq, 1);
      if (output != null && !executor.blocks().ready(output)) {
        // Made on a node lost before it ended (the loss was heard first): made again by lineage.
        executor.remakeIfLost(output);
      }
    }

    @Override
    public void failed(Throwable cause) {
      lostTries.remove(seq);
    }

    @Override
    public boolean lost(Throwable cause) {
      return retry(seq, bundle, cause);
    }
  }

  /**
   * Where a task over {@code spec} runs: on a node holding its inputs when one has room (they are
   * read in place there, not moved over the network), else by the hosts its data was read from.
   */
  final Node place(TaskSpec.MapBundle spec, long reserve) {
    if (!ctx.options().locality()) {
      return executor.resources().place(taskResources(), List.of(), reserve);
    }
    java.util.Set<String> holders = new java.util.LinkedHashSet<>();
    for (TaskSpec.Input in : spec.inputs()) {
      String h = executor.resources().hostOf(in.block().owner());
      if (h != null) {
        holders.add(h);
      }
    }
    Node n = executor.resources().place(taskResources(), holders, reserve);
    if (n != null && !holders.contains(n.host())) {
      n = executor.resources().place(taskResources(), NodeWorker.hostsOf(spec.inputs()), reserve);
    }
    return n;
  }

  /** The bundle as a task spec: the operator and the rows of each input block. */
  final TaskSpec.MapBundle specOf(List<Segment> bundle) {
    List<TaskSpec.Input> inputs = new ArrayList<>(bundle.size());
    for (Segment s : bundle) {
      // The block as it now lives: made again elsewhere if its node was lost.
      inputs.add(new TaskSpec.Input(s.block().current(), s.from(), s.to()));
    }
    return new TaskSpec.MapBundle(index, inputs);
  }

  /**
   * {@code task}, with the bundle's inputs released as soon as it ends (on the node's thread, so
   * that their memory comes back before the scheduler hears of the end), unless the task was lost
   * with a node (its own, or one holding an input): then it runs again with the same inputs.
   */
  static NodeAgent.Task releasingInputs(List<Segment> bundle, NodeAgent.Task task) {
    // The outcome is seen only after the release (whenComplete's future completes after it).
    CompletableFuture<TaskOutcome> released =
        task.outcome()
            .whenComplete(
                (r, e) -> {
                  if (e == null || !lost(e)) {
                    for (Segment s : bundle) {
                      s.block().release();
                    }
                  }
                });
    return new NodeAgent.Task() {
      @Override
      public CompletableFuture<TaskOutcome> outcome() {
        return released;
      }

      @Override
      public long allocatedBytes() {
        return task.allocatedBytes();
      }
    };
  }

  private static boolean lost(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BlockLostException || t instanceof NodeLostException) {
        return true;
      }
    }
    return false;
  }
}
