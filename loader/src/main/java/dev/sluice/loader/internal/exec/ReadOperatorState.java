package dev.sluice.loader.internal.exec;

import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import dev.sluice.sharding.EpochPlan;
import dev.sluice.sharding.SourceSplit;
import dev.sluice.sharding.SplitEnumerator;
import dev.sluice.sharding.SplitLease;
import dev.sluice.sharding.SplitResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the splits of a source. Each task reads the next block of one split (opening its reader on
 * first use) and runs the fused functions over it, so a split streams through in blocks and one
 * task never holds more than a block. At most one task works on a split at a time; several splits
 * are read at once.
 *
 * <p>Splits come from sharding's {@link SplitEnumerator} over the epoch's {@link EpochPlan}: a node
 * with room asks for one (each node is a consumer of the enumerator) and gets a split held on its
 * host if there is one, else the next in plan order; the split's reader then stays on that node
 * (every task of the split runs there, as a reader is a live object of one process), and the lease
 * is completed when the split ends. Outputs are keyed (split position in the plan, block number),
 * so that ordered mode hands them on in plan order, and named by {@link Lineage.Read} (split,
 * attempt, block number, rows of the split). With fused functions, a split is cut into blocks by
 * what its own earlier blocks taught (output bytes per row), never by what other splits' tasks
 * happened to finish first, so a split read again is cut, and named, the same way.
 */
final class ReadOperatorState extends OperatorState {
  private static final Logger LOG = LoggerFactory.getLogger(ReadOperatorState.class);

  private final ReadOp op;
  private final EpochPlan plan;
  private final SplitEnumerator enumerator;

  /** Each node's consumer id at the enumerator, in the order nodes first asked. */
  private final Map<String, Integer> consumerIds = new HashMap<>();

  /** Open cursors by plan position; a cursor is either idle (here and not busy) or in a task. */
  private final TreeMap<Integer, Cursor> open = new TreeMap<>();

  /** Where the reader of a split lost with its node stood, by plan position, until re-leased. */
  private final Map<Integer, Resume> resumes = new HashMap<>();

  /** The state of a split's reading that outlives its reader (kept on the scheduling side). */
  private record Resume(long rowsRead, int blocks, double bytesOutPerRow) {}

  /** The source's splits by their index (for blocks made again from their lineage). */
  private final Map<Integer, SourceSplit> splitsByIndex = new HashMap<>();

  /** One split being read, on one node. Mutated by the one task that holds it. */
  private static final class Cursor {
    final int position;
    final SourceSplit split;
    final SplitLease lease;
    final Node node;
    int blocks;
    boolean busy;

    /** Rows of the split read by the tasks that ended (where the next block starts). */
    long rowsRead;

    /** The most output bytes per input row of this split's blocks so far; -1 before the first. */
    double bytesOutPerRow = -1;

    /** Lost with its node: its lease was given back; a task still out on it is dropped. */
    boolean lost;

    /** Its node is leaving: handed over once its task in flight ends. */
    boolean handOver;

    Cursor(SplitLease lease, Node node) {
      this.position = lease.planPosition();
      this.split = lease.split();
      this.lease = lease;
      this.node = node;
    }
  }

  ReadOperatorState(
      int index,
      ReadOp op,
      EpochPlan plan,
      ExecContext ctx,
      StreamingExecutor executor,
      BufferAllocator parent) {
    super(index, op.name(), ctx, executor, parent);
    this.op = op;
    this.plan = plan;
    this.enumerator = new SplitEnumerator(plan);
    this.upstreamDone = true;
    for (SourceSplit s : plan.splits()) {
      splitsByIndex.put(s.index(), s);
    }
  }

  /**
   * An idle split whose node has room for a task (lowest position first: keeps ordered mode
   * moving), or null.
   */
  private Cursor idleCursorWithRoom() {
    for (Cursor c : open.values()) {
      if (!c.busy && executor.resources().fitsOn(c.node, op.resources())) {
        return c;
      }
    }
    return null;
  }

  @Override
  boolean hasWork() {
    if (cancelled) {
      return false;
    }
    if (!remakeQueue.isEmpty() || idleCursorWithRoom() != null) {
      return true;
    }
    return enumerator.freeSplits() > 0 && open.size() < maxOpenSplits();
  }

  /** The source's splits by their index (what a node's worker reads by). */
  Map<Integer, SourceSplit> splitsByIndex() {
    return Map.copyOf(splitsByIndex);
  }

  /** The splits being read, by plan position, and the node each one's reader is on (for tests). */
  Map<Integer, String> openSplitNodes() {
    Map<Integer, String> out = new TreeMap<>();
    open.forEach((position, c) -> out.put(position, c.node.id()));
    return out;
  }

  private int maxOpenSplits() {
    return op.concurrency() > 0 ? op.concurrency() : Integer.MAX_VALUE;
  }

  @Override
  public int concurrencyCap() {
    return op.concurrency();
  }

  @Override
  Resources taskResources() {
    return op.resources();
  }

  /** The splits' estimated rows, or -1 when one of them does not know. */
  @Override
  long plannedRows(long upstream) {
    long rows = 0;
    for (SourceSplit s : plan.splits()) {
      if (s.estimatedRows() < 0) {
        return -1;
      }
      rows += s.estimatedRows();
    }
    return rows;
  }

  @Override
  long provisionalEstimate() {
    return ctx.options().targetBlockBytes();
  }

  /**
   * Input rows of the next read: not known for a plain read (the source sizes its blocks, whole
   * from the first); with fused functions the most an open split's next task takes (one row for a
   * split not read yet: the slow start).
   */
  @Override
  long nextTaskRows() {
    if (!remakeQueue.isEmpty()) {
      return super.nextTaskRows();
    }
    if (op.fused().isEmpty()) {
      return -1;
    }
    long rows = 1;
    for (Cursor c : open.values()) {
      rows = Math.max(rows, rowsOfNextBlock(c));
    }
    return rows;
  }

  /** Rows the next fused read of split {@code c} takes at most. */
  private long rowsOfNextBlock(Cursor c) {
    return rowsForTarget(ctx.options().targetBlockRows(), c.bytesOutPerRow);
  }

  @Override
  boolean isDone() {
    return (cancelled || enumerator.freeSplits() == 0)
        && open.isEmpty()
        && running.isEmpty()
        && remakeQueue.isEmpty()
        && outputs.isEmpty();
  }

  @Override
  boolean remakes() {
    return true;
  }

  /**
   * The splits read on a lost node go back to the enumerator (a new lease, attempt one higher, on
   * another node); the next reader starts where the lost one stood: at the rows its finished tasks
   * had read, under the next block number, cutting as it did.
   */
  @Override
  void nodeLost(Node node) {
    for (Cursor c : new ArrayList<>(open.values())) {
      if (!c.node.id().equals(node.id())) {
        continue;
      }
      open.remove(c.position);
      c.lost = true;
      resumes.put(c.position, new Resume(c.rowsRead, c.blocks, c.bytesOutPerRow));
      if (!c.busy) {
        closeReader(c);
      }
      executor.decided(
          "give back split " + c.split.index() + " from row " + c.rowsRead + " of " + node.id());
      executor.event(
          dev.sluice.loader.ExecutionEvent.Kind.SPLIT_GIVEN_BACK,
          node.id(),
          "split " + c.split.index() + " from row " + c.rowsRead);
    }
    Integer consumer = consumerIds.get(node.id());
    if (consumer != null) {
      enumerator.addSplitsBack(consumer);
    }
  }

  /**
   * A leaving node's splits are handed over: an idle one at once, one in a task when the task ends.
   * Each goes back to the enumerator (a new lease, attempt one higher, on another node), read on
   * from the row where its reader stood, under the next block number, cut as before; the blocks it
   * made stay valid and are consumed as usual.
   */
  @Override
  void nodeLeaving(Node node) {
    for (Cursor c : new ArrayList<>(open.values())) {
      if (!c.node.id().equals(node.id())) {
        continue;
      }
      if (c.busy) {
        c.handOver = true;
      } else {
        handOver(c);
      }
    }
  }

  private void handOver(Cursor c) {
    open.remove(c.position);
    closeReader(c);
    if (!enumerator.giveBack(c.lease)) {
      throw new IllegalStateException(name + ": handing over a stale lease " + c.lease);
    }
    resumes.put(c.position, new Resume(c.rowsRead, c.blocks, c.bytesOutPerRow));
    executor.decided(
        "hand over split " + c.split.index() + " from row " + c.rowsRead + " of " + c.node.id());
    executor.event(
        dev.sluice.loader.ExecutionEvent.Kind.SPLIT_GIVEN_BACK,
        c.node.id(),
        "split " + c.split.index() + " from row " + c.rowsRead + " (handed over)");
  }

  @Override
  boolean holdsOn(Node node) {
    for (Cursor c : open.values()) {
      if (c.node.id().equals(node.id())) {
        return true;
      }
    }
    return super.holdsOn(node);
  }

  @Override
  void launch() {
    if (!remakeQueue.isEmpty()) {
      launchRemake();
      return;
    }
    // A split given back by a lost node is taken up before the open splits go on: the epoch ends
    // only once its rows are read, and every other split already has a reader.
    boolean takeUpGivenBack =
        !resumes.isEmpty() && enumerator.freeSplits() > 0 && open.size() < maxOpenSplits();
    Cursor cursor = takeUpGivenBack ? null : idleCursorWithRoom();
    if (cursor == null) {
      Node node = executor.resources().place(op.resources(), List.of(), taskMemoryEstimate());
      SplitResponse response =
          enumerator.handleSplitRequest(
              consumerIds.computeIfAbsent(node.id(), k -> consumerIds.size()),
              ctx.options().locality() ? node.host() : null);
      if (!(response instanceof SplitLease lease)) {
        throw new IllegalStateException(name + ": no split for a launch: " + response);
      }
      cursor = new Cursor(lease, node);
      executor.leased(lease.split().index(), lease.attempt(), node);
      Resume resume = resumes.remove(lease.planPosition());
      if (lease.attempt() > 0) {
        executor.event(
            dev.sluice.loader.ExecutionEvent.Kind.SPLIT_REISSUED,
            node.id(),
            "split "
                + lease.split().index()
                + " attempt "
                + lease.attempt()
                + " from row "
                + (resume == null ? 0 : resume.rowsRead()));
      }
      if (resume != null) {
        cursor.rowsRead = resume.rowsRead();
        cursor.blocks = resume.blocks();
        cursor.bytesOutPerRow = resume.bytesOutPerRow();
      }
      open.put(cursor.position, cursor);
    }
    Cursor c = cursor;
    c.busy = true;
    int blockNumber = c.blocks++;
    TaskSpec.ReadBlock spec =
        new TaskSpec.ReadBlock(
            index, c.split.index(), c.lease.attempt(), blockNumber, c.rowsRead, c.bytesOutPerRow);
    startTaskOn(
        c.node,
        taskMemoryEstimate(op.fused().isEmpty() ? -1 : rowsOfNextBlock(c)),
        spec,
        new TaskCompletion() {
          @Override
          public void completed(TaskOutcome r, BlockRef output) {
            c.busy = false;
            if (c.lost) {
              // Done on a node declared lost: the split is being read again from before this.
              closeReader(c);
              if (output != null) {
                executor.release(output);
              }
              return;
            }
            c.rowsRead += r.rowsIn();
            if (!op.fused().isEmpty() && r.rowsIn() > 0) {
              // The split's own output bytes per row, which cuts its next blocks.
              double perRow = output == null ? 0 : output.bytes() / (double) r.rowsIn();
              c.bytesOutPerRow = Math.max(c.bytesOutPerRow, perRow);
            }
            if (cancelled) {
              dropCursor(c);
              return;
            }
            outputs.add(c.position, blockNumber, output);
            if (r.exhausted()) {
              open.remove(c.position);
              enumerator.complete(c.lease);
              outputs.finish(c.position, c.blocks);
            } else if (c.handOver) {
              handOver(c);
            }
          }

          @Override
          public void failed(Throwable cause) {
            c.busy = false;
            dropCursor(c);
          }

          @Override
          public boolean lost(Throwable cause) {
            c.busy = false;
            closeReader(c);
            if (!c.lost) {
              // The task failed with a node that still serves: read the block again elsewhere.
              nodeLost(c.node);
            }
            return true;
          }
        });
  }

  /** Closes the split's reader on its node (when no task holds it). */
  private void closeReader(Cursor c) {
    executor.agent(c.node).closeReader(c.split.index());
  }

  @Override
  void cancel() {
    super.cancel();
    for (Cursor c : new ArrayList<>(open.values())) {
      if (!c.busy) {
        closeReader(c);
        open.remove(c.position);
      }
    }
  }

  @Override
  void close() {
    cancel();
  }

  /** Closes a cursor whose task ended after a cancellation or a failure, and forgets it. */
  private void dropCursor(Cursor c) {
    closeReader(c);
    open.remove(c.position);
  }
}
