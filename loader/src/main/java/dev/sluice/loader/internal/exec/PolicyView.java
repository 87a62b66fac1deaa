package dev.sluice.loader.internal.exec;

import dev.sluice.loader.ExecutionOptions;
import java.util.List;
import java.util.function.LongSupplier;

/** What the backpressure policies see of an execution during one round of launches. */
final class PolicyView implements BackpressurePolicy.ExecutionView {
  private final ExecutionOptions options;
  private final List<OperatorState> taskOps;
  private final LongSupplier consumerUsage;

  /**
   * @param consumerUsage the consumer side's claim beyond what the operators' usage already counts
   *     (delivered blocks stay in the last operator's allocator until closed), read at each call
   */
  PolicyView(ExecutionOptions options, List<OperatorState> taskOps, LongSupplier consumerUsage) {
    this.options = options;
    this.taskOps = taskOps;
    this.consumerUsage = consumerUsage;
  }

  /**
   * The budget the policies plan with: the configured one less a headroom of one task (the largest
   * measured), which the liveness rule may use when nothing else can run. So even a liveness launch
   * keeps the execution within the configured budget.
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

  @Override
  public long consumerMemoryUsage() {
    return consumerUsage.getAsLong();
  }

  @Override
  public double reservedShare() {
    return options.reservedShare();
  }
}
