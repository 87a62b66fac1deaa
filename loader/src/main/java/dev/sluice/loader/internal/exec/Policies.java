package dev.sluice.loader.internal.exec;

import dev.sluice.loader.internal.exec.BackpressurePolicy.ExecutionView;
import dev.sluice.loader.internal.exec.BackpressurePolicy.OperatorView;
import java.util.List;

/** The built-in backpressure policies. */
public final class Policies {
  private Policies() {}

  /** The default set for streaming: the concurrency cap and the memory reservation. */
  public static List<BackpressurePolicy> streamingDefaults() {
    return List.of(concurrencyCap(), memoryReservation());
  }

  /** Bulk mode: an operator runs only after everything upstream has finished; no memory limit. */
  public static List<BackpressurePolicy> bulk() {
    return List.of(concurrencyCap(), (op, exec) -> op.upstreamDone());
  }

  /** Caps tasks in flight at the operator's concurrency setting (when set). */
  public static BackpressurePolicy concurrencyCap() {
    return (op, exec) -> op.concurrencyCap() <= 0 || op.tasksInFlight() < op.concurrencyCap();
  }

  /**
   * The memory reservation, in the shape of Ray Data's reservation allocator: {@code reservedShare}
   * of the budget is reserved evenly across operators (each reservation at least one task's
   * estimated peak, so that every operator can always run one task); the rest is shared. An
   * operator may launch when the task fits in its own reservation, or when the memory it would take
   * beyond its reservation is free: neither used nor reserved by any operator. So the invariant
   * {@code consumer + sum(max(usage, reservation)) <= budget} is kept, and an operator's unused
   * reservation is always there for it: a fast upstream fills only its own reservation and the free
   * part, never a slow downstream's reservation. Memory an operator's outputs hold counts against
   * it until their consumer releases them. Always, the whole execution stays within the budget.
   * While an operator's task size is unknown, it runs one task at a time (one per ready actor for
   * actor pools).
   */
  public static BackpressurePolicy memoryReservation() {
    return Policies::reservationAllows;
  }

  /**
   * An operator's reservation: its even share, or one task's measured peak if larger (guesses do
   * not count).
   */
  static long reservation(OperatorView o, long evenShare) {
    return o.estimateKnown() ? Math.max(evenShare, o.taskMemoryEstimate()) : evenShare;
  }

  static boolean reservationAllows(OperatorView op, ExecutionView exec) {
    if (!op.estimateKnown() && op.tasksInFlight() >= op.tasksWhileEstimating()) {
      return false;
    }
    List<? extends OperatorView> ops = exec.operators();
    long budget = exec.memoryBudget();
    long evenShare = ops.isEmpty() ? budget : (long) (budget * exec.reservedShare() / ops.size());
    long consumer = exec.consumerMemoryUsage();
    long total = consumer;
    long claimed = consumer;
    long ownReservation = 0;
    long ownUsage = 0;
    for (OperatorView o : ops) {
      long reservation = reservation(o, evenShare);
      long usage = o.memoryUsage();
      total += usage;
      claimed += Math.max(usage, reservation);
      if (o.index() == op.index()) {
        ownReservation = reservation;
        ownUsage = usage;
      }
    }
    long task = op.taskMemoryEstimate();
    if (total + task > budget) {
      return false;
    }
    if (ownUsage + task <= ownReservation) {
      return true;
    }
    long free = budget - claimed;
    long extra = Math.max(ownUsage + task, ownReservation) - Math.max(ownUsage, ownReservation);
    return extra <= free;
  }
}
