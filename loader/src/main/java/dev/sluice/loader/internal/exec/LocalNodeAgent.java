package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.internal.plan.PhysicalOp.NamedFunction;
import dev.sluice.loader.runtime.ActorHandle;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.BlockStore;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.LoggerFactory;

/**
 * The agent of a node whose tasks run in this process, on the runtime's threads: the local
 * runtime's one node, or each node of a test's manual runtime. A task runs with an allocator of its
 * own, a child of its operator's, made on the task's thread (a task that never runs holds none);
 * its output stays in that allocator (never counted twice) and goes into the node's store under the
 * name its spec gives it, and the allocator closes when the block does.
 */
final class LocalNodeAgent implements NodeAgent {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private final Node node;
  private final ExecutionRuntime runtime;
  private final NodeWorker worker;
  private final BlockStore store;
  private final List<PhysicalOp> plan;
  private final List<String> names;
  private final IntFunction<BufferAllocator> operatorAllocator;
  private final AtomicLong nextTask = new AtomicLong();

  /**
   * @param node the node
   * @param runtime whose threads run the node's tasks and actors
   * @param worker the node's worker (the plan as built here, the split readers)
   * @param store the node's blocks
   * @param plan the physical plan
   * @param names each operator's name, by index
   * @param operatorAllocator each operator's allocator, by index: a task's is a child of it
   */
  LocalNodeAgent(
      Node node,
      ExecutionRuntime runtime,
      NodeWorker worker,
      BlockStore store,
      List<PhysicalOp> plan,
      List<String> names,
      IntFunction<BufferAllocator> operatorAllocator) {
    this.node = node;
    this.runtime = runtime;
    this.worker = worker;
    this.store = store;
    this.plan = List.copyOf(plan);
    this.names = List.copyOf(names);
    this.operatorAllocator = operatorAllocator;
  }

  @Override
  public Node node() {
    return node;
  }

  @Override
  public Task run(TaskSpec spec) {
    return start(
        spec,
        measured ->
            runtime.submit(
                node, names.get(spec.operator()), () -> measured.run(a -> worker.run(spec, a))));
  }

  /**
   * Starts a task with a fresh allocator (made here, on the scheduler's thread, so that its memory
   * is seen from the start); the allocator is closed if the task never ran (its node was lost).
   */
  private Task start(TaskSpec spec, Launch launch) {
    BufferAllocator alloc = taskAllocator(spec);
    AtomicBoolean ran = new AtomicBoolean();
    CompletableFuture<TaskOutcome> f =
        launch
            .start(
                body -> {
                  ran.set(true);
                  return runMeasured(spec, body, alloc);
                })
            .whenComplete(
                (r, e) -> {
                  if (e != null && !ran.get()) {
                    closeQuietly(alloc);
                  }
                });
    return new Task() {
      @Override
      public CompletableFuture<TaskOutcome> outcome() {
        return f;
      }

      @Override
      public long allocatedBytes() {
        return alloc.getAllocatedMemory();
      }
    };
  }

  @Override
  public Actor startActor(int operator, String name) {
    ActorMapOp op = (ActorMapOp) plan.get(operator);
    ActorHandle<BatchFunction> handle = runtime.startActor(node, name, () -> op.factory().call());
    String pool = names.get(operator);
    return new Actor() {
      @Override
      public CompletableFuture<Void> ready() {
        return handle.ready();
      }

      @Override
      public Task call(TaskSpec spec) {
        // On the actor's thread, with the actor's own function instance.
        if (spec instanceof TaskSpec.Remake remake) {
          return start(
              spec,
              measured ->
                  handle.call(fn -> measured.run(a -> worker.remakeOnActor(remake, pool, fn, a))));
        }
        TaskSpec.MapBundle map = (TaskSpec.MapBundle) spec;
        return start(
            spec,
            measured ->
                handle.call(
                    fn ->
                        measured.run(
                            a -> worker.mapTask(map, List.of(new NamedFunction(pool, fn)), a))));
      }

      @Override
      public CompletableFuture<Void> stop() {
        return handle.stop();
      }
    };
  }

  @Override
  public void closeReader(int split) {
    worker.closeReader(split);
  }

  @Override
  public void closeReaders() {
    worker.closeAll();
  }

  private BufferAllocator taskAllocator(TaskSpec spec) {
    return operatorAllocator
        .apply(spec.operator())
        .newChildAllocator(
            names.get(spec.operator()) + "-task-" + nextTask.getAndIncrement() + "@" + node.id(),
            0,
            Long.MAX_VALUE);
  }

  /** Starts a task on a thread of the node, which runs its body through {@code measured}. */
  @FunctionalInterface
  private interface Launch {
    CompletableFuture<TaskOutcome> start(Measured measured);
  }

  /** Runs a body with the task's allocator, measured, its output kept in the store. */
  @FunctionalInterface
  private interface Measured {
    TaskOutcome run(Body body) throws Exception;
  }

  /** A task's body, with its allocator. */
  @FunctionalInterface
  interface Body {
    TaskResult run(BufferAllocator taskAllocator) throws Exception;
  }

  /**
   * Runs a task body with its own allocator and keeps the output in the node's store under the
   * spec's name. With no output the allocator is closed at once, and memory still held then is a
   * leak in a function.
   */
  private TaskOutcome runMeasured(TaskSpec spec, Body body, BufferAllocator taskAllocator)
      throws Exception {
    long t0 = System.nanoTime();
    long c0 = THREADS.getCurrentThreadCpuTime();
    TaskResult r;
    try {
      r = body.run(taskAllocator);
    } catch (Exception | Error e) {
      closeQuietly(taskAllocator);
      throw e;
    }
    long peak = taskAllocator.getPeakMemoryAllocation();
    Batch out = r.output();
    if (out != null && out.rowCount() == 0) {
      out.close();
      out = null;
    }
    BlockRef ref = null;
    if (out == null) {
      long leaked = taskAllocator.getAllocatedMemory();
      closeQuietly(taskAllocator);
      if (leaked != 0) {
        throw new IllegalStateException(
            "a function kept " + leaked + " bytes of Arrow memory after the task ended");
      }
    } else {
      out.onClose(() -> closeQuietly(taskAllocator));
      // Named by what made it, then kept in the store of the node that made it.
      ref = store.put(out, worker.lineage(spec, r), worker.hosts(spec));
    }
    return new TaskOutcome(
        ref,
        r.rowsIn(),
        r.bytesIn(),
        peak,
        System.nanoTime() - t0,
        THREADS.getCurrentThreadCpuTime() - c0,
        r.exhausted());
  }

  private static void closeQuietly(BufferAllocator a) {
    try {
      a.close();
    } catch (RuntimeException leak) {
      LoggerFactory.getLogger(LocalNodeAgent.class).error("{}", leak.getMessage());
    }
  }
}
