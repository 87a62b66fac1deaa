package dev.sluice.loader.internal.exec;

import java.util.List;

/** Watches an execution (the progress line). Called on the scheduling thread, throttled. */
public interface ExecutionObserver {

  /** A moment of the execution. */
  record Snapshot(
      double cpusUsed,
      double cpusTotal,
      double gpusUsed,
      double gpusTotal,
      long memoryUsed,
      long memoryBudget,
      long rowsOut,
      long rowsTotal,
      List<OperatorLine> operators) {}

  /** One operator's line. */
  record OperatorLine(
      String name,
      int tasksInFlight,
      int actors,
      long rowsOut,
      long queuedBytes,
      long memoryUsage) {}

  /** Called as the execution progresses (about every 100 ms at most). */
  void update(Snapshot snapshot);

  /** Called once when the execution ends. */
  void close();

  /** An observer that shows nothing. */
  ExecutionObserver NONE =
      new ExecutionObserver() {
        @Override
        public void update(Snapshot snapshot) {}

        @Override
        public void close() {}
      };
}
