package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.BlockStore;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.runtime.Resources;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Keeps the first {@code limit} rows that arrive and then asks the executor to stop everything
 * upstream. Runs on the scheduling thread: whole blocks pass by reference; only the one block cut
 * at the limit is copied.
 */
final class LimitOperatorState extends OperatorState {
  private final long limit;
  private long remaining;

  LimitOperatorState(
      int index, long limit, ExecContext ctx, StreamingExecutor executor, BufferAllocator parent) {
    super(index, "Limit[" + limit + "]", ctx, executor, parent);
    this.limit = limit;
    this.remaining = limit;
  }

  @Override
  void addInput(BlockRef ref) {
    if (remaining == 0 || cancelled) {
      executor.release(ref);
      return;
    }
    rowsIn += ref.rows();
    if (ref.rows() <= remaining) {
      remaining -= ref.rows();
      rowsOut += ref.rows();
      outputs.add(0, 0, ref);
    } else {
      // The cut is made where the block is, and named by the rows it keeps.
      if (!(executor.store(ref.owner()) instanceof BlockStore store)) {
        throw new SluiceException(
            "a limit that cuts a block held by another process is not supported yet: "
                + ref
                + " (limit the rows in the pipeline definition instead, or take fewer batches)",
            name,
            null,
            null,
            null);
      }
      int keep = (int) remaining;
      Batch cut = store.get(ref).slice(allocator, 0, keep);
      store.release(ref);
      rowsOut += keep;
      remaining = 0;
      Lineage lineage =
          new Lineage.Derived(
              index, name, List.of(new Lineage.Slice(ref.lineage(), 0, keep, ref.rows())));
      outputs.add(0, 0, store.put(cut, lineage, ref.hosts()));
    }
    if (remaining == 0) {
      executor.cancelUpstreamOf(index);
    }
  }

  @Override
  long plannedRows(long upstream) {
    return upstream < 0 ? -1 : Math.min(upstream, limit);
  }

  @Override
  boolean acceptsInput() {
    return !boundedBuffers || outputs.readyCount() < OUTPUT_BLOCKS;
  }

  @Override
  boolean runsTasks() {
    return false;
  }

  @Override
  boolean keysOutputs() {
    return false;
  }

  @Override
  boolean isDone() {
    return (upstreamDone || remaining == 0 || cancelled) && outputs.isEmpty();
  }

  @Override
  boolean hasWork() {
    return false;
  }

  @Override
  Resources taskResources() {
    return Resources.NONE;
  }

  @Override
  void launch() {
    throw new IllegalStateException("a limit runs no tasks");
  }

  @Override
  long provisionalEstimate() {
    return 0;
  }

  @Override
  public int concurrencyCap() {
    return 0;
  }
}
