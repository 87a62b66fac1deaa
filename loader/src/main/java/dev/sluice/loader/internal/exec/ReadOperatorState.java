package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.SplitReader;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the splits of a source. Each task reads the next block of one split (opening its reader on
 * first use) and runs the fused functions over it, so a split streams through in blocks and one
 * task never holds more than a block. At most one task works on a split at a time; several splits
 * are read at once. In ordered mode splits are opened in plan order and outputs keyed (split
 * position, block number).
 */
final class ReadOperatorState extends OperatorState {
  private static final Logger LOG = LoggerFactory.getLogger(ReadOperatorState.class);

  private final ReadOp op;
  private final List<SourceSplit> splits;
  private int nextSplit;
  /** Open cursors by plan position; a cursor is either idle (here and not busy) or in a task. */
  private final TreeMap<Integer, Cursor> open = new TreeMap<>();

  /** One split being read. Mutated by the one task that holds it, handed over through events. */
  private static final class Cursor {
    final int position;
    final SourceSplit split;
    SplitReader reader;
    int blocks;
    boolean busy;

    Cursor(int position, SourceSplit split) {
      this.position = position;
      this.split = split;
    }
  }

  ReadOperatorState(int index, ReadOp op, List<SourceSplit> splits, ExecContext ctx, StreamingExecutor executor, BufferAllocator parent) {
    super(index, op.name(), ctx, executor, parent);
    this.op = op;
    this.splits = List.copyOf(splits);
    this.upstreamDone = true;
  }

  @Override
  boolean hasWork() {
    if (cancelled) {
      return false;
    }
    for (Cursor c : open.values()) {
      if (!c.busy) {
        return true;
      }
    }
    return nextSplit < splits.size() && open.size() < maxOpenSplits();
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

  @Override
  long provisionalEstimate() {
    return ctx.options().targetBlockBytes();
  }

  @Override
  boolean isDone() {
    return (cancelled || nextSplit >= splits.size()) && open.isEmpty() && running.isEmpty() && outputs.isEmpty();
  }

  @Override
  void launch() {
    Cursor cursor = null;
    for (Cursor c : open.values()) { // lowest position first: keeps ordered mode moving
      if (!c.busy) {
        cursor = c;
        break;
      }
    }
    if (cursor == null) {
      cursor = new Cursor(nextSplit, splits.get(nextSplit));
      nextSplit++;
      open.put(cursor.position, cursor);
    }
    Cursor c = cursor;
    c.busy = true;
    int blockNumber = c.blocks++;
    startTask(taskMemoryEstimate(), alloc -> read(c, alloc), new TaskCompletion() {
      @Override
      public void completed(TaskResult r, Batch output) {
        c.busy = false;
        outputs.add(c.position, blockNumber, output);
        if (r.exhausted()) {
          open.remove(c.position);
          outputs.finish(c.position, c.blocks);
        }
      }

      @Override
      public void failed(Throwable cause) {
        c.busy = false;
      }
    });
  }

  private TaskResult read(Cursor c, BufferAllocator alloc) throws Exception {
    try {
      if (c.reader == null) {
        c.reader = op.source().open(c.split, ctx.readContext());
      }
      Batch raw = c.reader.next(alloc);
      if (raw == null) {
        closeReader(c);
        return new TaskResult(null, 0, 0, 0, 0, 0, true);
      }
      if (raw.hosts().isEmpty()) {
        raw.setHosts(c.split.hosts()); // locality metadata for streamingSplit's router
      }
      long rows = raw.rowCount();
      long bytes = raw.sizeInBytes();
      Batch out = TaskBody.runChain(op.fused(), raw, true, alloc, ctx.badRecords(), name, ctx.epoch());
      return new TaskResult(out, rows, bytes, 0, 0, 0, false);
    } catch (SluiceException e) {
      closeReader(c);
      throw e.source() == null
          ? new SluiceException(e.reason(), e.operator() != null ? e.operator() : name, c.split.describe(), e.entry(), e)
          : e;
    } catch (Exception e) {
      closeReader(c);
      throw new SluiceException("reading failed: " + e.getMessage(), name, c.split.describe(), null, e);
    }
  }

  private static void closeReader(Cursor c) {
    if (c.reader != null) {
      try {
        c.reader.close();
      } catch (IOException | RuntimeException e) {
        LOG.warn("closing the reader of {} failed", c.split.describe(), e);
      }
      c.reader = null;
    }
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

  /** Called when a task finishes after cancellation: its cursor goes too. */
  void dropIdleCursors() {
    if (cancelled) {
      cancel();
    }
  }
}
