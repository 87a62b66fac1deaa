package dev.sluice.loader.internal.exec;

import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Resources;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The scheduler's step, as small functions of the execution's state (in the shape of Ray Data's
 * {@code streaming_executor_state.py}): move finished outputs downstream as far as queues accept
 * them ({@link #moveOutputs}, the one function that changes the topology), then decide which
 * operator launches a task next and which one runs a task anyway when the pipeline would otherwise
 * stall. The deciding functions change nothing but the operators' held-back clocks (statistics);
 * the executor applies the decisions.
 */
final class Scheduling {
  private Scheduling() {}

  /**
   * Hands released outputs downstream while the next operator accepts them (and the last operator's
   * to the consumer while its channel has room, or, in bulk mode, into {@code bulkHeld} until the
   * last operator is done); what is refused stays where it is and holds its producer back.
   */
  static void moveOutputs(
      List<OperatorState> ops,
      ConsumerChannel consumer,
      ArrayDeque<BlockRef> bulkHeld,
      boolean bulk,
      BlockDirectory blocks) {
    for (int i = 0; i < ops.size(); i++) {
      OperatorState op = ops.get(i);
      if (i + 1 < ops.size()) {
        OperatorState next = ops.get(i + 1);
        // A limit cuts blocks on this thread: it takes none that is lost and being made again.
        while (op.outputs.peekReady() != null
            && next.acceptsInput()
            && (next.runsTasks() || blocks.ready(op.outputs.peekReady()))) {
          next.addInput(op.outputs.pollReady());
        }
        next.upstreamDone = op.isDone();
      } else if (bulk) {
        for (BlockRef b; (b = op.outputs.pollReady()) != null; ) {
          bulkHeld.add(b);
        }
      } else {
        // Taken from the buffer before it is offered: once in the channel, the consumer may take
        // and close it at once.
        while (op.outputs.peekReady() != null && consumer.hasRoom()) {
          deliver(op.outputs.pollReady(), consumer, blocks);
        }
      }
    }
    if (bulk && ops.get(ops.size() - 1).isDone()) {
      while (!bulkHeld.isEmpty() && consumer.hasRoom()) {
        deliver(bulkHeld.poll(), consumer, blocks);
      }
    }
  }

  /** Hands a block to the consumer's channel, which has room; releases it if the channel ended. */
  private static void deliver(BlockRef b, ConsumerChannel consumer, BlockDirectory blocks) {
    if (!consumer.offer(b)) {
      blocks.release(b);
    }
  }

  /** Whether no task runs, no actor lives and no resource is held. */
  static boolean quiescent(List<OperatorState> ops, ResourceLedger resources) {
    for (OperatorState op : ops) {
      if (!op.running.isEmpty() || op.liveActors() > 0) {
        return false;
      }
    }
    return resources.idle();
  }

  /**
   * Whether {@code r} fits while still leaving room for one task of every other unfinished task
   * operator, so that a growing actor pool never takes the resources its own upstream needs.
   */
  static boolean fitsLeavingRoomForOthers(
      List<OperatorState> ops, OperatorState asking, Resources r, ResourceLedger resources) {
    Resources need = r;
    for (OperatorState op : ops) {
      if (op != asking
          && op.runsTasks()
          && op.resourcesPerTask()
          && !op.isDone()
          && op.running.isEmpty()) {
        need = need.plus(op.taskResources());
      }
    }
    return resources.fits(need);
  }

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
