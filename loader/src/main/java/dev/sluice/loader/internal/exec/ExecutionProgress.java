package dev.sluice.loader.internal.exec;

import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.OperatorStats;
import dev.sluice.loader.runtime.Resources;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import org.apache.arrow.memory.BufferAllocator;

/**
 * An execution's running account: each operator's statistics (kept for {@code stats()}) and the
 * progress display's snapshot, taken at most every 100 ms unless forced. Scheduling thread only,
 * but for {@link #lastStats()}. {@code ops} is the execution's own list, filled when it starts.
 */
final class ExecutionProgress {
  private static final long OBSERVE_EVERY_NANOS = 100_000_000L;

  private final List<OperatorState> ops;
  private final ResourceLedger resources;
  private final BufferAllocator executionAllocator;
  private final ExecutionOptions options;
  private final ConsumerChannel consumer;
  private final ExecutionObserver observer;
  private final LongSupplier rowsTotal;
  private volatile List<OperatorStats> lastStats = List.of();
  private long lastObserved;

  ExecutionProgress(
      List<OperatorState> ops,
      ResourceLedger resources,
      BufferAllocator executionAllocator,
      ExecutionOptions options,
      ConsumerChannel consumer,
      ExecutionObserver observer,
      LongSupplier rowsTotal) {
    this.ops = ops;
    this.resources = resources;
    this.executionAllocator = executionAllocator;
    this.options = options;
    this.consumer = consumer;
    this.observer = observer;
    this.rowsTotal = rowsTotal;
  }

  /** Takes the operators' statistics and updates the display (now, if {@code force}). */
  void observe(boolean force) {
    long now = System.nanoTime();
    if (!force && now - lastObserved < OBSERVE_EVERY_NANOS) {
      return;
    }
    lastObserved = now;
    List<OperatorStats> stats = new ArrayList<>();
    List<ExecutionObserver.OperatorLine> lines = new ArrayList<>();
    for (OperatorState op : ops) {
      stats.add(op.snapshot());
      lines.add(
          new ExecutionObserver.OperatorLine(
              op.name,
              op.running.size(),
              op.liveActors(),
              op.rowsOut,
              op.queuedBytes,
              op.memoryUsage()));
    }
    lastStats = List.copyOf(stats);
    Resources used = resources.used();
    Resources total = resources.total();
    observer.update(
        new ExecutionObserver.Snapshot(
            used.cpus(),
            total.cpus(),
            used.gpus(),
            total.gpus(),
            executionAllocator.getAllocatedMemory(),
            options.memoryBudget(),
            consumer.rowsDelivered(),
            rowsTotal.getAsLong(),
            lines));
  }

  /** The operators' statistics as last taken (any thread). */
  List<OperatorStats> lastStats() {
    return lastStats;
  }
}
