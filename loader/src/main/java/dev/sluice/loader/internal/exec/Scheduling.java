package dev.sluice.loader.internal.exec;

import java.util.List;

/**
 * The scheduler's decisions, as small functions of the execution's state that return what to do (in
 * the shape of Ray Data's {@code streaming_executor_state.py}): which operator launches a task
 * next, and which one runs a task anyway when the pipeline would otherwise stall. They change
 * nothing but the operators' held-back clocks (statistics); the executor applies the decisions.
 */
final class Scheduling {
  private Scheduling() {}

  /**
   * The operator to launch one task of now, or null: among the task operators that have work, room
   * in their output buffer, the resources free and every policy's consent, the one holding the
   * least memory (downstream first on ties, so that the pipeline drains). Operators that have work
   * and resources but are refused by a policy start (or keep) their held-back clock.
   */
  static OperatorState selectOperatorToRun(
      List<OperatorState> taskOps,
      List<BackpressurePolicy> policies,
      BackpressurePolicy.ExecutionView view,
      ResourceLedger resources,
      long now) {
    OperatorState best = null;
    for (OperatorState op : taskOps) {
      if (!canRun(op, resources)) {
        op.clearHeldBack(now);
        continue;
      }
      if (!allowed(op, policies, view)) {
        op.holdBack(now);
        continue;
      }
      op.clearHeldBack(now);
      if (best == null
          || op.memoryUsage() < best.memoryUsage()
          || (op.memoryUsage() == best.memoryUsage() && op.index > best.index)) {
        best = op;
      }
    }
    return best;
  }

  /**
   * The operator to run one task of although the policies refuse, or null: only when nothing runs,
   * no actor is starting, and the consumer will neither take a block nor free memory by itself
   * (without this the execution would wait forever). The most downstream operator that can run goes
   * first; in bulk mode only one whose upstream is done.
   */
  static OperatorState livenessPick(
      List<OperatorState> ops,
      ConsumerChannel consumer,
      ResourceLedger resources,
      boolean streaming) {
    for (OperatorState op : ops) {
      if (!op.running.isEmpty() || op.hasPendingStartup()) {
        return null;
      }
    }
    if (consumer.consumerWillProgress()) {
      return null;
    }
    for (int i = ops.size() - 1; i >= 0; i--) {
      OperatorState op = ops.get(i);
      if (op.runsTasks() && canRun(op, resources) && (streaming || op.upstreamDone)) {
        return op;
      }
    }
    return null;
  }

  /** Work to do, room for its output, and the resources for one task. */
  private static boolean canRun(OperatorState op, ResourceLedger resources) {
    return op.hasWork() && op.outputHasRoom() && resources.fits(op.taskResources());
  }

  private static boolean allowed(
      OperatorState op, List<BackpressurePolicy> policies, BackpressurePolicy.ExecutionView view) {
    for (BackpressurePolicy p : policies) {
      if (!p.canLaunch(op, view)) {
        return false;
      }
    }
    return true;
  }
}
