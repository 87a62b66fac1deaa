package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.runtime.Resources;
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
  void addInput(Batch batch) {
    if (remaining == 0 || cancelled) {
      batch.close();
      return;
    }
    rowsIn += batch.rowCount();
    if (batch.rowCount() <= remaining) {
      remaining -= batch.rowCount();
      rowsOut += batch.rowCount();
      outputs.add(0, 0, batch);
    } else {
      Batch cut = batch.slice(allocator, 0, (int) remaining);
      batch.close();
      rowsOut += cut.rowCount();
      remaining = 0;
      outputs.add(0, 0, cut);
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
    return outputs.readyCount() < OUTPUT_BLOCKS;
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
