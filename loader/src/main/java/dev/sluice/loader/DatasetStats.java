package dev.sluice.loader;

import java.util.List;
import java.util.Locale;

/**
 * What one execution of a dataset did: per operator, and for the consumer. A snapshot; obtained
 * from {@link Dataset#stats()} after (or during) consumption.
 *
 * @param plan the DAG as logged at the start
 * @param operators per-operator figures, upstream first
 * @param wallNanos time from the start of execution to its end (or to now while running)
 * @param firstBatchNanos time from the start to the first batch handed to the consumer, or -1
 * @param consumerWaitNanos time the consumer spent waiting in {@code next()} for data
 * @param rowsOut rows handed to the consumer
 * @param memoryBudget the budget
 * @param peakMemory the execution allocator's peak (every block of the execution counts)
 * @param badRecords bad records skipped under the allowance
 * @param consumerPeakMemory the peak of the consumer side's own copies (re-batched batches); part
 *     of {@code peakMemory}
 * @param events what the execution did about its cluster (nodes lost and joined, splits read again,
 *     blocks made again), in order; empty when nothing happened
 */
public record DatasetStats(
    String plan,
    List<OperatorStats> operators,
    long wallNanos,
    long firstBatchNanos,
    long consumerWaitNanos,
    long rowsOut,
    long memoryBudget,
    long peakMemory,
    long badRecords,
    long consumerPeakMemory,
    List<ExecutionEvent> events) {

  public DatasetStats {
    events = List.copyOf(events);
  }

  /** Figures of an execution that saw no event. */
  public DatasetStats(
      String plan,
      List<OperatorStats> operators,
      long wallNanos,
      long firstBatchNanos,
      long consumerWaitNanos,
      long rowsOut,
      long memoryBudget,
      long peakMemory,
      long badRecords,
      long consumerPeakMemory) {
    this(
        plan,
        operators,
        wallNanos,
        firstBatchNanos,
        consumerWaitNanos,
        rowsOut,
        memoryBudget,
        peakMemory,
        badRecords,
        consumerPeakMemory,
        List.of());
  }

  /** The events of one kind, in order. */
  public List<ExecutionEvent> events(ExecutionEvent.Kind kind) {
    return events.stream().filter(e -> e.kind() == kind).toList();
  }

  /** A multi-line report in the spirit of Ray Data's {@code ds.stats()}. */
  public String format() {
    StringBuilder sb = new StringBuilder();
    sb.append(plan).append('\n');
    for (OperatorStats o : operators) {
      sb.append(
          String.format(
              Locale.ROOT,
              "Operator %s: %d tasks, %d rows in -> %d rows out, %s in -> %s out, wall %.2f s, cpu %.2f s, held back %.2f s, peak queued %s, peak per task %s%s%s%n",
              o.name(),
              o.tasks(),
              o.rowsIn(),
              o.rowsOut(),
              bytes(o.bytesIn()),
              bytes(o.bytesOut()),
              o.wallNanos() / 1e9,
              o.cpuNanos() / 1e9,
              o.backpressureNanos() / 1e9,
              bytes(o.peakQueuedBytes()),
              bytes(o.peakTaskBytes()),
              o.bytesOutPerRowIn() >= 0
                  ? ", up to " + bytes((long) Math.ceil(o.bytesOutPerRowIn())) + " out per row in"
                  : "",
              o.peakActors() > 0
                  ? ", actors " + o.actorsStarted() + " started, " + o.peakActors() + " at most"
                  : ""));
    }
    double wall = wallNanos / 1e9;
    sb.append(
        String.format(
            Locale.ROOT,
            "Dataset: %d rows in %.2f s (%.0f rows/s), first batch after %.3f s, consumer waited %.2f s (%.1f%%), memory peak %s of %s budget (consumer's copies: %s)%s",
            rowsOut,
            wall,
            wall > 0 ? rowsOut / wall : 0.0,
            firstBatchNanos / 1e9,
            consumerWaitNanos / 1e9,
            wallNanos > 0 ? 100.0 * consumerWaitNanos / wallNanos : 0.0,
            bytes(peakMemory),
            bytes(memoryBudget),
            bytes(consumerPeakMemory),
            badRecords > 0 ? ", " + badRecords + " bad records skipped" : ""));
    appendRecovery(sb);
    return sb.toString();
  }

  /**
   * What the execution did about its cluster, one line per node lost, joined or leaving (when, and
   * what followed until the next such event: splits given back, or handed over, and re-issued, the
   * first re-issue's delay, blocks made again, tasks run again, when a leaving node was let go) and
   * per consumer lost with its trainer; empty when nothing happened. The lines {@link #format()}
   * ends with.
   */
  public String formatRecovery() {
    StringBuilder sb = new StringBuilder();
    appendRecovery(sb);
    return sb.length() == 0 ? "" : sb.substring(System.lineSeparator().length());
  }

  private void appendRecovery(StringBuilder sb) {
    for (int i = 0; i < events.size(); i++) {
      ExecutionEvent e = events.get(i);
      if (e.kind() == ExecutionEvent.Kind.CONSUMER_LOST) {
        sb.append(
            String.format(
                Locale.ROOT,
                "%nConsumer lost at %.2f s: %s",
                e.sinceStartNanos() / 1e9,
                e.detail()));
        continue;
      }
      if (e.kind() != ExecutionEvent.Kind.NODE_LOST
          && e.kind() != ExecutionEvent.Kind.NODE_JOINED
          && e.kind() != ExecutionEvent.Kind.NODE_LEAVING) {
        continue;
      }
      int given = 0;
      int reissued = 0;
      int remade = 0;
      int retried = 0;
      long firstReissue = -1;
      long letGo = -1;
      for (int j = i + 1; j < events.size(); j++) {
        ExecutionEvent f = events.get(j);
        if (f.kind() == ExecutionEvent.Kind.NODE_LOST
            || f.kind() == ExecutionEvent.Kind.NODE_JOINED
            || f.kind() == ExecutionEvent.Kind.NODE_LEAVING) {
          break;
        }
        if (f.kind() == ExecutionEvent.Kind.NODE_LEFT && f.node().equals(e.node())) {
          letGo = f.sinceStartNanos() - e.sinceStartNanos();
        }
        switch (f.kind()) {
          case SPLIT_GIVEN_BACK -> given++;
          case SPLIT_REISSUED -> {
            reissued++;
            if (firstReissue < 0) {
              firstReissue = f.sinceStartNanos() - e.sinceStartNanos();
            }
          }
          case BLOCK_REMADE -> remade++;
          case TASK_RETRIED -> retried++;
          default -> {}
        }
      }
      sb.append(
          String.format(
              Locale.ROOT,
              "%nNode %s %s at %.2f s",
              e.node(),
              switch (e.kind()) {
                case NODE_LOST -> "lost";
                case NODE_LEAVING -> "leaving";
                default -> "joined";
              },
              e.sinceStartNanos() / 1e9));
      if (e.kind() == ExecutionEvent.Kind.NODE_LEAVING) {
        sb.append(
            String.format(
                Locale.ROOT,
                ": %d splits handed over, %d re-issued%s, %d blocks made again, %s",
                given,
                reissued,
                firstLater(firstReissue),
                remade,
                letGo >= 0
                    ? String.format(Locale.ROOT, "let go %.0f ms later", letGo / 1e6)
                    : "not let go"));
      } else if (e.kind() == ExecutionEvent.Kind.NODE_LOST) {
        sb.append(
            String.format(
                Locale.ROOT,
                ": %d splits given back, %d re-issued%s, %d blocks made again, %d tasks run again",
                given,
                reissued,
                firstLater(firstReissue),
                remade,
                retried));
      }
    }
  }

  /** " (the first N ms later)" for a delay, empty for none (negative). */
  private static String firstLater(long nanos) {
    return nanos >= 0 ? String.format(Locale.ROOT, " (the first %.0f ms later)", nanos / 1e6) : "";
  }

  /** Bytes in binary units, for reports. */
  public static String bytes(long b) {
    if (b < 1024) {
      return b + " B";
    }
    if (b < 1L << 20) {
      return String.format(Locale.ROOT, "%.1f KiB", b / 1024.0);
    }
    if (b < 1L << 30) {
      return String.format(Locale.ROOT, "%.1f MiB", b / (double) (1L << 20));
    }
    return String.format(Locale.ROOT, "%.2f GiB", b / (double) (1L << 30));
  }

  @Override
  public String toString() {
    return format();
  }
}
