package dev.sluice.loader.internal.exec;

import dev.sluice.loader.OperatorStats;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.exec.SharedBlock.Segment;
import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A stateful map run by a pool of actors, each holding one instance of the user's function built
 * once. The pool starts at its minimum, adds an actor while every ready actor is full and input is
 * waiting (up to the maximum, as resources allow), and stops an actor idle for the pool's idle
 * timeout while no input waits (down to the minimum). A bundle goes to the ready actor with the
 * fewest calls in flight.
 */
final class ActorPoolOperatorState extends MapOperatorState {
  private final ActorMapOp op;
  private final List<Actor> actors = new ArrayList<>();
  private int actorsStarted;
  private int peakActors;
  private int actorSerial;
  private Actor target;

  private static final class Actor {
    final NodeAgent.Actor handle;
    final int id;
    final Node node;
    boolean ready;
    int inFlight;
    long idleSince;

    /** Its node is leaving: it takes no new call, and stops once its calls have ended. */
    boolean retiring;

    Actor(NodeAgent.Actor handle, int id, Node node, long now) {
      this.handle = handle;
      this.id = id;
      this.node = node;
      this.idleSince = now;
    }
  }

  ActorPoolOperatorState(
      int index,
      ActorMapOp op,
      ExecContext ctx,
      StreamingExecutor executor,
      BufferAllocator parent) {
    super(index, op.name(), List.of(), op.resources(), op.batchSize(), 0, ctx, executor, parent);
    this.op = op;
  }

  @Override
  void start() {
    for (int i = 0; i < op.pool().min(); i++) {
      startActor();
    }
  }

  private void startActor() {
    int id = actorSerial++;
    Node node = executor.resources().place(op.resources(), List.of());
    if (node == null) {
      throw new IllegalStateException(name + ": started an actor that fits no node");
    }
    NodeAgent.Actor handle = executor.agent(node).startActor(index, name + "-" + id);
    Actor a = new Actor(handle, id, node, ctx.clock().getAsLong());
    actors.add(a);
    executor.resources().acquire(node, op.resources());
    executor.decided("start actor " + name + "-" + id);
    actorsStarted++;
    peakActors = Math.max(peakActors, actors.size());
    handle
        .ready()
        .whenComplete(
            (v, e) ->
                ctx.post()
                    .accept(
                        () -> {
                          if (e != null && lostWithNode(e)) {
                            actors.remove(a); // the pool starts another on a node left
                          } else if (e != null) {
                            executor.fail(
                                new SluiceException(
                                    "actor constructor failed: " + e, name, null, null, e));
                          } else {
                            a.ready = true;
                            a.idleSince = ctx.clock().getAsLong();
                            if (a.retiring && actors.contains(a)) {
                              stopActor(a);
                            }
                          }
                        }));
  }

  private static boolean lostWithNode(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof dev.sluice.loader.runtime.NodeLostException) {
        return true;
      }
    }
    return false;
  }

  /** Actors on a lost node are gone; their calls fail and run again on other actors. */
  @Override
  void nodeLost(Node node) {
    actors.removeIf(a -> a.node.id().equals(node.id()));
    if (target != null && target.node.id().equals(node.id())) {
      target = null;
    }
  }

  /**
   * The actors on a leaving node retire: they take no new call and stop once their calls have ended
   * (one not yet ready, once it is); the pool starts others on the nodes left as it needs them,
   * within its maximum, which counts no retiring actor.
   */
  @Override
  void nodeLeaving(Node node) {
    for (Actor a : new ArrayList<>(actors)) {
      if (!a.node.id().equals(node.id()) || a.retiring) {
        continue;
      }
      a.retiring = true;
      executor.decided("retire actor " + name + "-" + a.id + " of " + node.id());
      if (a.ready && a.inFlight == 0) {
        stopActor(a);
      }
    }
    if (target != null && target.retiring) {
      target = null;
    }
  }

  @Override
  boolean holdsOn(Node node) {
    for (Actor a : actors) {
      if (a.node.id().equals(node.id())) {
        return true;
      }
    }
    return super.holdsOn(node);
  }

  /** The actors that take calls (those retiring aside). */
  private int serving() {
    int n = 0;
    for (Actor a : actors) {
      if (!a.retiring) {
        n++;
      }
    }
    return n;
  }

  /**
   * A lost block an actor made is made again on one of the pool's actors (its inputs from their
   * lineage, then the actor's function).
   */
  @Override
  boolean remakes() {
    return true;
  }

  private void stopActor(Actor a) {
    actors.remove(a);
    executor.decided("stop actor " + name + "-" + a.id);
    a.handle
        .stop()
        .whenComplete(
            (v, e) ->
                ctx.post().accept(() -> executor.resources().release(a.node, op.resources())));
  }

  @Override
  int liveActors() {
    return actors.size();
  }

  @Override
  boolean hasPendingStartup() {
    for (Actor a : actors) {
      if (!a.ready && !a.retiring) {
        return true;
      }
    }
    return false;
  }

  @Override
  boolean hasWork() {
    if (!super.hasWork()) {
      return false;
    }
    // Locality first: an actor on the node that holds the next input block, when one has room,
    // so that the block is read in place instead of crossing the network; then the least busy.
    // When the holder's actors are all full, the block crosses to another node's actor only if
    // that one is idle: to a busy one it would cross to wait as long as it waits here.
    String holder =
        inputQueue.isEmpty() || !ctx.options().locality()
            ? null
            : inputQueue.peek().current().owner();
    target = null;
    boolean targetLocal = false;
    boolean localFull = false;
    for (Actor a : actors) {
      boolean local = a.node.id().equals(holder);
      if (a.retiring) {
        continue;
      }
      if (!a.ready || a.inFlight >= op.pool().maxTasksPerActor()) {
        localFull |= local && a.ready;
        continue;
      }
      if (target == null
          || (local && !targetLocal)
          || (local == targetLocal && a.inFlight < target.inFlight)) {
        target = a;
        targetLocal = local;
      }
    }
    if (target != null && !targetLocal && localFull && target.inFlight > 0) {
      target = null; // the holder's actor frees a slot as soon as the other would
    }
    return target != null;
  }

  @Override
  boolean resourcesPerTask() {
    return false;
  }

  @Override
  dev.sluice.loader.runtime.Resources taskResources() {
    // Resources are held by the actors for their lifetime, not per call.
    return dev.sluice.loader.runtime.Resources.NONE;
  }

  @Override
  public int tasksWhileEstimating() {
    int ready = 0;
    for (Actor a : actors) {
      if (a.ready && !a.retiring) {
        ready++;
      }
    }
    return Math.max(1, ready);
  }

  @Override
  public int concurrencyCap() {
    return op.pool().max() * op.pool().maxTasksPerActor();
  }

  @Override
  void launch() {
    Actor a = target;
    target = null;
    if (!remakeQueue.isEmpty()) {
      BlockRef lost = remakeQueue.poll();
      a.inFlight++;
      TaskCompletion made = remakeCompletion(lost);
      launchTask(
          taskMemoryEstimate(lost.rows()),
          a.node,
          () -> a.handle.call(remakeSpec(lost)),
          new TaskCompletion() {
            @Override
            public boolean counts() {
              return made.counts();
            }

            @Override
            public void completed(TaskOutcome r, BlockRef output) {
              done(a);
              made.completed(r, output);
            }

            @Override
            public void failed(Throwable cause) {
              done(a);
              made.failed(cause);
            }

            @Override
            public boolean lost(Throwable cause) {
              done(a);
              return made.lost(cause);
            }
          });
      return;
    }
    Retry retry = retries.poll();
    List<Segment> bundle = retry != null ? retry.bundle() : takeBundle();
    long seq = retry != null ? retry.seq() : nextActorSeq++;
    a.inFlight++;
    long reserve = taskMemoryEstimate(rowsOf(bundle));
    startTaskOn(a, reserve, bundle, seq);
  }

  private void startTaskOn(Actor a, long reserve, List<Segment> bundle, long seq) {
    // The call runs on the actor's thread, with the actor's own function instance.
    TaskSpec.MapBundle spec = specOf(bundle);
    TaskLauncher onActor = () -> releasingInputs(bundle, a.handle.call(spec));
    launchTask(
        reserve,
        a.node,
        onActor,
        new BundleCompletion(seq, bundle) {
          @Override
          public void completed(TaskOutcome r, BlockRef output) {
            done(a);
            super.completed(r, output);
          }

          @Override
          public void failed(Throwable cause) {
            done(a);
            super.failed(cause);
          }

          @Override
          public boolean lost(Throwable cause) {
            done(a);
            return super.lost(cause);
          }
        });
  }

  private long nextActorSeq;

  private void done(Actor a) {
    a.inFlight--;
    if (a.inFlight == 0 && a.retiring) {
      if (actors.contains(a)) {
        stopActor(a);
      }
      return;
    }
    if (a.inFlight == 0) {
      a.idleSince = ctx.clock().getAsLong();
      if (actors.size() > op.pool().min()) {
        // Wake the scheduler when this actor may have been idle long enough to stop.
        long nanos = op.pool().idleTimeout().toNanos();
        ctx.timer()
            .schedule(() -> ctx.post().accept(() -> {}), nanos + 1_000_000, TimeUnit.NANOSECONDS);
      }
    }
  }

  @Override
  void maintain() {
    if (cancelled) {
      return;
    }
    // Below the minimum after a node loss (or none left with lost blocks to make again): start one
    // where it fits. Not once no input can come and nothing is to be made again (the pool then
    // winds down while its last calls run: starting an actor only to stop it again would load the
    // user's model for nothing, and again at every step of the scheduler).
    boolean noMoreInput =
        upstreamDone && inputQueue.isEmpty() && retries.isEmpty() && remakeQueue.isEmpty();
    int serving = serving();
    if ((serving < op.pool().min() || serving == 0 && !remakeQueue.isEmpty())
        && executor.resources().fits(op.resources())
        && !noMoreInput) {
      startActor();
      return;
    }
    // Scale up: every ready actor full, input waiting, none starting, room in the pool and
    // resources.
    boolean allFull = true;
    for (Actor a : actors) {
      if (a.retiring) {
        continue;
      }
      if (!a.ready || a.inFlight < op.pool().maxTasksPerActor()) {
        allFull = false;
        break;
      }
    }
    if (allFull
        && super.hasWork()
        && serving < op.pool().max()
        && !hasPendingStartup()
        && executor.fitsLeavingRoomForOthers(this, op.resources())) {
      startActor();
      return;
    }
    // Scale down: idle beyond the timeout while nothing waits, or nothing will ever come again.
    if (!inputQueue.isEmpty()) {
      return;
    }
    long now = ctx.clock().getAsLong();
    for (Actor a : new ArrayList<>(actors)) {
      if (serving() <= (noMoreInput ? 0 : op.pool().min())) {
        break;
      }
      if (!a.retiring
          && a.ready
          && a.inFlight == 0
          && (noMoreInput || now - a.idleSince >= op.pool().idleTimeout().toNanos())) {
        stopActor(a);
      }
    }
  }

  @Override
  void cancel() {
    super.cancel();
    for (Actor a : new ArrayList<>(actors)) {
      if (a.inFlight == 0 && a.ready) {
        stopActor(a);
      }
    }
  }

  @Override
  boolean isDone() {
    return super.isDone() && actors.isEmpty();
  }

  @Override
  void close() {
    cancel();
  }

  /** Their threads end after the calls already queued. */
  @Override
  void stopAllActors() {
    for (Actor a : new ArrayList<>(actors)) {
      stopActor(a);
    }
  }

  @Override
  OperatorStats snapshot() {
    return snapshot(actorsStarted, peakActors, actors.size());
  }

  /**
   * Whole blocks: an actor's calls are not cut by output bytes (a model's first call would get one
   * row).
   */
  @Override
  int bundleRows(int available) {
    return available;
  }
}
