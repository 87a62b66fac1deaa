package dev.sluice.loader.internal.exec;

/**
 * Decides whether an operator may start one more task now. The streaming executor launches a task
 * only when every policy allows it (policies combine by AND). Policies are called on the scheduling
 * thread only, must be fast and must not block.
 */
@FunctionalInterface
public interface BackpressurePolicy {

  /**
   * Whether {@code op} may launch one more task.
   *
   * @param op the operator asking
   * @param execution the whole execution, for global figures
   */
  boolean canLaunch(OperatorView op, ExecutionView execution);

  /** What a policy sees of one operator. */
  interface OperatorView {
    /** Position in the plan, 0 = the read. */
    int index();

    /** The operator's name. */
    String name();

    /** Tasks in flight. */
    int tasksInFlight();

    /** The cap on tasks in flight the user set, or 0. */
    int concurrencyCap();

    /**
     * Bytes the operator holds or may soon hold: the blocks it produced that are still alive
     * (queued downstream, in flight there, or held by the consumer) plus the remaining estimated
     * peak of its running tasks.
     */
    long memoryUsage();

    /** The estimated peak memory of one more task (the largest seen so far, or a first guess). */
    long taskMemoryEstimate();

    /** Whether the estimate comes from completed tasks (false before the first completes). */
    boolean estimateKnown();

    /**
     * How many tasks may be in flight before the first completes and the estimate is known: one for
     * task pools; one per ready actor for actor pools (each holds its call's input anyway).
     */
    default int tasksWhileEstimating() {
      return 1;
    }

    /** Whether every upstream operator has finished. */
    boolean upstreamDone();
  }

  /** What a policy sees of the execution. */
  interface ExecutionView {
    /** The memory budget. */
    long memoryBudget();

    /** Operators with tasks (reads and maps), upstream first. */
    java.util.List<? extends OperatorView> operators();

    /** Bytes held outside operators (the consumer's re-batching buffers). */
    long consumerMemoryUsage();

    /** The share of the budget reserved evenly across operators. */
    double reservedShare();
  }
}
