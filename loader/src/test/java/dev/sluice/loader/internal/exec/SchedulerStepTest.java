package dev.sluice.loader.internal.exec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.assertj.core.api.Assertions.fail;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.HostedRangeSource;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.internal.plan.PhysicalOp.NamedFunction;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.internal.plan.PhysicalOp.TaskMapOp;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The scheduler one step at a time, over a runtime whose tasks and actors run only when the test
 * says: each test is a sequence of states and the decisions the next step must take.
 */
class SchedulerStepTest {
  private static final ExecutionOptions OPTIONS =
      ExecutionOptions.defaults().withTargetBlockRows(100);

  private final AtomicLong clock = new AtomicLong();
  private final RootAllocator store = new RootAllocator();
  private ManualRuntime runtime = new ManualRuntime(Resources.cpus(2));
  private final List<Long> seen = new ArrayList<>();
  private StreamingExecutor ex;

  @AfterEach
  void stopEverything() {
    try {
      if (ex != null) {
        ex.requestStop();
        for (int i = 0; !ex.isTerminated(); i++) {
          if (i == 1000) {
            fail("the execution did not stop");
          }
          ex.runOnce();
          takeAll();
          runtime.runTasks();
          runtime.runActors();
        }
        ex.close();
      }
    } finally {
      runtime.close();
      store.close(); // fails the test if any block is still open
    }
  }

  private static ReadOp read(long rows, int splits) {
    return new ReadOp(
        new RangeSource(rows, splits),
        OptionalLong.empty(),
        OptionalLong.empty(),
        List.of(),
        Resources.cpus(1),
        0);
  }

  private static TaskMapOp map(String name, double cpus) {
    return new TaskMapOp(List.of(new NamedFunction(name, (b, c) -> b)), Resources.cpus(cpus), 0, 0);
  }

  private StreamingExecutor start(ExecutionOptions options, PhysicalOp... plan) {
    ex = StreamingExecutor.stepped(List.of(plan), options, runtime, store, clock::get);
    ex.start();
    return ex;
  }

  private List<String> step() {
    return ex.runOnce().decisions();
  }

  /** Takes every block delivered, recording its ids; returns how many. */
  private int takeAll() {
    int n = 0;
    for (Batch next; (next = ex.poll()) != null; n++) {
      try (Batch b = next) {
        for (int i = 0; i < b.rowCount(); i++) {
          seen.add(b.getLong(RangeSource.COLUMN, i));
        }
      }
    }
    return n;
  }

  /** Steps, runs what was launched and takes what was delivered until the execution is over. */
  private void runToEnd() {
    for (int i = 0; i < 10_000; i++) {
      boolean over = ex.runOnce().over();
      takeAll();
      if (over) {
        return;
      }
      runtime.runTasks();
      runtime.runActors();
    }
    fail("the execution did not end");
  }

  @Test
  void theReadStartsAloneThenTheLeastLoadedDownstreamOperatorGoesFirst() {
    start(OPTIONS, read(400, 2), map("A", 0.5));
    // Only the read has work, and while its task size is unknown it runs one task.
    assertThat(step()).containsExactly("launch ReadRange");
    assertThat(step()).isEmpty();
    runtime.runTasks();
    // A holds no memory, the read holds its block: A first; then the read again (its size is now
    // known); A's size is not, so it runs one task; the CPUs are then used up (1 + 0.5 of 2).
    assertThat(step()).containsExactly("launch A", "launch ReadRange");
    runtime.runTasks();
    // A's first task (one row: it learns the bytes per row) has ended, so A's size is known and it
    // may run two tasks beside the read: 0.5 + 0.5 + 1 CPU.
    assertThat(step()).containsExactly("launch A", "launch A", "launch ReadRange");
    assertThat(step()).isEmpty();
    runToEnd();
    assertThat(seen).hasSize(400).doesNotHaveDuplicates();
  }

  @Test
  void livenessRunsOneTaskAtATimeWhenNothingFitsTheBudget() {
    // A budget smaller than one block: no task fits the plan, so each runs as a liveness launch,
    // one at a time, the most downstream operator with work first.
    start(OPTIONS.withMemoryBudget(600), read(300, 1), map("A", 0.5));
    assertThat(step()).containsExactly("liveness ReadRange");
    assertThat(step()).isEmpty();
    runtime.runTasks();
    assertThat(step()).containsExactly("liveness A");
    for (int i = 0; i < 10_000; i++) {
      runtime.runTasks();
      StreamingExecutor.Step s = ex.runOnce();
      takeAll();
      if (s.over()) {
        break;
      }
      // At most one task at a time (none in a step that delivered a block not yet taken).
      assertThat(s.decisions())
          .hasSizeLessThanOrEqualTo(1)
          .allMatch(d -> d.startsWith("liveness "));
      assertThat(runtime.pendingTasks()).isLessThanOrEqualTo(1);
    }
    assertThat(seen).hasSize(300).doesNotHaveDuplicates();
  }

  @Test
  void aFastReadFillsTheFreeMemoryButLeavesTheSlowMapItsReservation() {
    // 64 KiB, half of it reserved evenly: 16 KiB for the read, 16 KiB for A. A's tasks are left
    // waiting, so the read's blocks pile up in A's queue (they count against the read).
    start(OPTIONS.withMemoryBudget(64 << 10), read(20_000, 1), map("A", 0.5));
    for (int i = 0;
        i < 1000
            && (step().contains("launch ReadRange")
                || runtime.pendingTaskNames().contains("ReadRange"));
        i++) {
      runtime.runTasks("ReadRange");
    }
    OperatorState read = ex.operators().get(0);
    OperatorState a = ex.operators().get(1);
    assertThat(runtime.pendingTaskNames()).containsExactly("A");
    // The read could run (work, room, CPUs) but the policy holds it back: it has used its own
    // reservation and the free part, and stopped short of A's.
    assertThat(read.hasWork()).isTrue();
    assertThat(read.outputHasRoom()).isTrue();
    assertThat(read.heldBackSince).isNotNegative();
    assertThat(read.memoryUsage()).isGreaterThan(16 << 10);
    assertThat(read.memoryUsage() + a.memoryUsage()).isLessThanOrEqualTo(64 << 10);
    // A's first task ends (its size is now known): A launches within its reservation; the read,
    // with no free memory left, still waits.
    runtime.runTasks("A");
    List<String> s = step();
    assertThat(s).contains("launch A").doesNotContain("launch ReadRange");
    runToEnd();
    assertThat(seen).hasSize(20_000).doesNotHaveDuplicates();
    assertThat(ex.peakMemory()).isLessThanOrEqualTo(64 << 10);
  }

  /**
   * A map that widens every row to a {@code bytes}-byte tensor: its tasks' peaks grow with rows.
   */
  private static TaskMapOp widen(String name, int bytes) {
    BatchFunction fn =
        (in, c) -> {
          org.apache.arrow.vector.types.pojo.Schema schema =
              new org.apache.arrow.vector.types.pojo.Schema(
                  List.of(
                      dev.sluice.loader.Columns.int64("id"),
                      dev.sluice.loader.Columns.tensor(
                          "payload", dev.sluice.loader.ElementType.UINT8, bytes)));
          try (dev.sluice.loader.BatchBuilder b =
              dev.sluice.loader.BatchBuilder.createUninitialized(
                  c.allocator(), schema, in.rowCount(), 0, in.sources())) {
            for (int i = 0; i < in.rowCount(); i++) {
              b.setLong("id", i, in.getLong(RangeSource.COLUMN, i));
            }
            return b.build(in.rowCount());
          }
        };
    return new TaskMapOp(List.of(new NamedFunction(name, fn)), Resources.cpus(0.5), 0, 0);
  }

  @Test
  void aTaskOfMoreRowsThanAnyBeforeIsReservedThePeakScaledToItsRows() {
    // W's first task takes one row (nothing is known of its output); the next ones take as many
    // rows as fill the output target (an eighth of the budget: tens of rows of 16 KiB). They
    // must be reserved that many rows' memory, not the one row's the first task measured: remote
    // tasks are counted at their reserve until they end, so an estimate of one row let a worker
    // take several such tasks' memory beyond the budget (seen in CI).
    start(
        OPTIONS.withMemoryBudget(8 << 20).withTargetBlockBytes(1 << 20),
        read(400, 1),
        widen("W", 16 << 10));
    OperatorState w = ex.operators().get(1);
    assertThat(step()).containsExactly("launch ReadRange");
    runtime.runTasks();
    assertThat(step()).contains("launch W");
    assertThat(w.running.values()).singleElement();
    runtime.runTasks("W");
    step();
    long probe = w.estimate;
    assertThat(w.mostRowsIn).isEqualTo(1);
    assertThat(probe).isGreaterThanOrEqualTo(16 << 10).isLessThan(32 << 10);
    int rows = w.rowsForTarget(99);
    assertThat(rows).isBetween(16, 98);
    List<OperatorState.Running> next = List.copyOf(w.running.values());
    assertThat(next).isNotEmpty();
    assertThat(next.get(0).reserve()).isEqualTo(rows * probe);
    for (OperatorState.Running r : next) {
      assertThat(r.reserve() % probe).isZero();
      assertThat(r.reserve()).isBetween(probe, rows * probe);
    }
    // They end: the largest task now had `rows` rows, and its measured peak is the estimate.
    runtime.runTasks("W");
    step();
    assertThat(w.mostRowsIn).isEqualTo(rows);
    assertThat(w.peakAtMostRowsIn).isGreaterThanOrEqualTo(rows * (16L << 10));
    assertThat(w.taskMemoryEstimate(rows)).isEqualTo(w.estimate);
    assertThat(w.taskMemoryEstimate(2L * rows)).isEqualTo(2 * w.peakAtMostRowsIn);
    runToEnd();
    assertThat(seen).hasSize(400).doesNotHaveDuplicates();
    assertThat(ex.peakMemory()).isLessThanOrEqualTo(8 << 20);
  }

  @Test
  void aFullConsumerChannelHoldsTheLastOperatorBackUntilTheConsumerTakes() {
    int blocks = StreamingExecutor.CHANNEL_BLOCKS + OperatorState.OUTPUT_BLOCKS + 10;
    start(OPTIONS, read(blocks * 100L, blocks));
    // Run tasks without taking anything until the scheduler launches nothing more.
    for (int i = 0; i < 1000 && (!step().isEmpty() || runtime.pendingTasks() > 0); i++) {
      runtime.runTasks();
    }
    assertThat(runtime.pendingTasks()).isZero();
    OperatorState read = ex.operators().get(0);
    assertThat(read.outputs.readyCount()).isEqualTo(OperatorState.OUTPUT_BLOCKS);
    assertThat(read.hasWork()).isTrue();
    assertThat(step()).isEmpty();
    // The consumer takes one block: one moves from the read's buffer to the channel, one task runs.
    Batch b = ex.poll();
    assertThat(b).isNotNull();
    b.close();
    assertThat(step()).containsExactly("launch ReadRange");
    assertThat(read.outputs.readyCount()).isEqualTo(OperatorState.OUTPUT_BLOCKS - 1);
    runToEnd();
    assertThat(seen).hasSize(blocks * 100 - 100).doesNotHaveDuplicates();
  }

  @Test
  void aFullInputQueueRefusesBlocksAndTheReadStopsWhenItsBufferIsFullToo() {
    // M runs one task at a time, and the test does not run it: its queue fills, then the read's
    // buffer, then nothing launches although resources and memory would allow.
    TaskMapOp m =
        new TaskMapOp(List.of(new NamedFunction("M", (b, c) -> b)), Resources.cpus(0.5), 0, 1);
    int blocks = OperatorState.INPUT_BLOCKS + OperatorState.OUTPUT_BLOCKS + 20;
    start(OPTIONS, read(blocks * 100L, blocks), m);
    OperatorState read = ex.operators().get(0);
    OperatorState map = ex.operators().get(1);
    for (int i = 0; i < 1000 && !step().isEmpty(); i++) {
      runtime.runTasks("ReadRange");
    }
    assertThat(map.tasksInFlight()).isEqualTo(1);
    assertThat(map.inputQueue).hasSize(OperatorState.INPUT_BLOCKS);
    assertThat(map.acceptsInput()).isFalse();
    assertThat(read.outputs.readyCount()).isEqualTo(OperatorState.OUTPUT_BLOCKS);
    assertThat(read.hasWork()).isTrue();
    assertThat(step()).isEmpty();
    // M's task ends and M takes its next bundle; the next step moves one of the read's blocks into
    // the place freed in M's queue, which frees a place in the read's buffer for one more task.
    runtime.runTasks("M");
    assertThat(step()).containsExactly("launch M");
    assertThat(map.inputQueue).hasSize(OperatorState.INPUT_BLOCKS - 1);
    assertThat(step()).containsExactly("launch ReadRange");
    assertThat(map.inputQueue).hasSize(OperatorState.INPUT_BLOCKS);
    assertThat(read.outputs.readyCount()).isEqualTo(OperatorState.OUTPUT_BLOCKS - 1);
    runToEnd();
    assertThat(seen).hasSize(blocks * 100).doesNotHaveDuplicates();
  }

  @Test
  void bulkModeHoldsEveryBlockOfAStageWithoutTheStreamingBlockBounds() {
    // More blocks than the read's buffer and the map's queue hold in streaming mode: in bulk mode
    // the read must still finish before the map starts (it used to stall here).
    int blocks = OperatorState.INPUT_BLOCKS + OperatorState.OUTPUT_BLOCKS + 20;
    start(OPTIONS.withMode(ExecutionOptions.Mode.BULK), read(blocks * 100L, blocks), map("M", 0.5));
    List<String> decisions = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      StreamingExecutor.Step step = ex.runOnce();
      decisions.addAll(step.decisions());
      takeAll();
      if (step.over()) {
        break;
      }
      runtime.runTasks();
    }
    assertThat(seen).hasSize(blocks * 100).doesNotHaveDuplicates();
    assertThat(decisions.lastIndexOf("launch ReadRange"))
        .as("every read before the first map task")
        .isLessThan(decisions.indexOf("launch M"));
  }

  private static ActorMapOp actors(ActorPool pool) {
    BatchFunction identity = (b, c) -> b;
    return new ActorMapOp("Pool", () -> identity, pool, Resources.cpus(0.5), 0);
  }

  @Test
  void anActorPoolGrowsWhileItsActorsAreBusyAndStopsThemWhenTheInputEnds() {
    start(OPTIONS, read(1000, 10), actors(ActorPool.of(1, 2).withMaxTasksPerActor(1)));
    assertThat(step()).containsExactly("start actor Pool-0", "launch ReadRange");
    runtime.runTasks();
    // A block waits, but the actor is not constructed yet: nothing for the pool.
    assertThat(step()).containsExactly("launch ReadRange");
    runtime.runActors();
    runtime.runTasks();
    // The actor is ready: it takes a block (and is then full); the read goes on.
    assertThat(step()).containsExactly("launch Pool", "launch ReadRange");
    runtime.runTasks();
    // Every actor full and input waiting: a second actor starts, leaving the read its CPU.
    assertThat(step()).containsExactly("start actor Pool-1", "launch ReadRange");
    assertThat(runtime.liveActors()).isEqualTo(2);
    runToEnd();
    assertThat(seen).hasSize(1000).doesNotHaveDuplicates();
    assertThat(runtime.liveActors()).isZero();
  }

  @Test
  void anIdleActorStopsAfterTheIdleTimeoutWhileInputMayStillCome() {
    ActorPool pool =
        ActorPool.of(1, 2).withMaxTasksPerActor(1).withIdleTimeout(Duration.ofSeconds(5));
    start(OPTIONS, read(2000, 20), actors(pool));
    List<String> all = new ArrayList<>();
    for (int i = 0; i < 50 && !all.contains("start actor Pool-1"); i++) {
      all.addAll(step());
      runtime.runTasks();
      if (i == 0) {
        runtime.runActors(); // constructs Pool-0, then leaves its calls waiting: it stays busy
      }
    }
    assertThat(all).contains("start actor Pool-1");
    // The read's next task is left waiting (input may still come) while the actors work through
    // what is queued.
    OperatorState pooled = ex.operators().get(1);
    for (int i = 0; i < 50 && !(pooled.inputQueue.isEmpty() && pooled.running.isEmpty()); i++) {
      step();
      runtime.runActors();
      takeAll();
    }
    assertThat(pooled.inputQueue).isEmpty();
    assertThat(runtime.pendingTasks()).isEqualTo(1);
    assertThat(step()).isEmpty();
    clock.addAndGet(Duration.ofSeconds(4).toNanos());
    assertThat(step()).isEmpty();
    clock.addAndGet(Duration.ofSeconds(2).toNanos());
    // Both idle beyond the timeout: one stops, down to the pool's minimum.
    assertThat(step()).containsExactly("stop actor Pool-0");
    assertThat(step()).isEmpty();
    assertThat(pooled.liveActors()).isEqualTo(1);
    runToEnd();
    assertThat(seen).hasSize(2000).doesNotHaveDuplicates();
  }

  private static final Node A = new Node("a", "h1", Resources.cpus(1));
  private static final Node B = new Node("b", "h2", Resources.cpus(1));

  /** Replaces the one-node runtime with one of {@code nodes}. */
  private void useNodes(Node... nodes) {
    runtime.close();
    runtime = new ManualRuntime(List.of(nodes));
  }

  private static ReadOp hostedRead(long rows, int splits, String... hosts) {
    return new ReadOp(
        new HostedRangeSource(rows, splits, List.of(hosts)),
        OptionalLong.empty(),
        OptionalLong.empty(),
        List.of(),
        Resources.cpus(1),
        0);
  }

  @Test
  void aBlockGoesToAnActorOnTheNodeHoldingItWhenOneHasRoom() {
    useNodes(new Node("a", "h1", Resources.cpus(1.5)), new Node("b", "h2", Resources.cpus(2)));
    start(OPTIONS, read(200, 1), actors(ActorPool.of(2, 2).withMaxTasksPerActor(2)));
    // Pool-0 goes to b (most CPUs free), Pool-1 to a; then the read to b (most CPUs left).
    assertThat(step())
        .containsExactly("start actor Pool-0", "start actor Pool-1", "launch ReadRange");
    assertThat(runtime.pendingTaskNodes()).containsExactly("b");
    runtime.runActors();
    runtime.runTasks();
    // The first block, on b, goes to Pool-0 there; the split's next block is read on b too.
    assertThat(step()).containsExactly("launch Pool", "launch ReadRange");
    assertThat(runtime.pendingCallNodes()).containsExactly("b");
    runtime.runTasks();
    // The second block, on b: Pool-0 has room for a second call, and takes it rather than idle
    // Pool-1 on a, to which the block would have to move.
    assertThat(step()).contains("launch Pool");
    assertThat(runtime.pendingCallNodes()).containsExactly("b", "b");
    runToEnd();
    assertThat(seen).hasSize(200).doesNotHaveDuplicates();
  }

  @Test
  void aNodeWithRoomLeasesASplitHeldOnItsHostAndTheSplitsTasksStayThere() {
    useNodes(A, B);
    // Split 0 on h2 (node b), split 1 on h1 (node a), two blocks each.
    start(OPTIONS, hostedRead(400, 2, "h2", "h1"));
    ReadOperatorState read = (ReadOperatorState) ex.operators().get(0);
    // a (first of two equally free nodes) asks and gets split 1, held on its host, not split 0.
    assertThat(step()).containsExactly("launch ReadHostedRange");
    assertThat(read.openSplitNodes()).containsExactly(entry(1, "a"));
    assertThat(runtime.pendingTaskNodes()).containsExactly("a");
    runtime.runTasks();
    // Split 1's next block stays on a; b asks and gets split 0, held on its host.
    assertThat(step()).containsExactly("launch ReadHostedRange", "launch ReadHostedRange");
    assertThat(read.openSplitNodes()).containsExactly(entry(0, "b"), entry(1, "a"));
    assertThat(runtime.pendingTaskNodes()).containsExactly("a", "b");
    runToEnd();
    assertThat(seen).hasSize(400).doesNotHaveDuplicates();
  }

  @Test
  void aNodeWithNoSplitOnItsHostTakesTheNextInPlanOrder() {
    useNodes(A, B);
    // Every split on h1 (node a).
    start(OPTIONS, hostedRead(600, 3, "h1"));
    ReadOperatorState read = (ReadOperatorState) ex.operators().get(0);
    assertThat(step()).containsExactly("launch ReadHostedRange");
    assertThat(runtime.pendingTaskNodes()).containsExactly("a");
    runtime.runTasks();
    // Split 0 goes on on a (full then); b has no split of its own host and reads split 1.
    assertThat(step()).containsExactly("launch ReadHostedRange", "launch ReadHostedRange");
    assertThat(read.openSplitNodes()).containsExactly(entry(0, "a"), entry(1, "b"));
    assertThat(runtime.pendingTaskNodes()).containsExactly("a", "b");
    runToEnd();
    assertThat(seen).hasSize(600).doesNotHaveDuplicates();
  }

  @Test
  void aMapTaskGoesToTheNodeHoldingItsInputBlock() {
    useNodes(A, B);
    // One split, held on h2; a asks first and reads it (it holds none of its own host).
    start(OPTIONS, hostedRead(200, 1, "h2"), map("M", 0.5));
    assertThat(step()).containsExactly("launch ReadHostedRange");
    assertThat(runtime.pendingTaskNodes()).containsExactly("a");
    runtime.runTasks();
    // The block is held on a: M's task goes there and reads it in place (in a cluster it would
    // otherwise cross the network), though b, on the split's host, has room too; the split's next
    // block waits for a, where its reader is.
    assertThat(step()).containsExactly("launch M");
    assertThat(runtime.pendingTaskNodes()).containsExactly("a");
    runToEnd();
    assertThat(seen).hasSize(200).doesNotHaveDuplicates();
  }

  @Test
  void withLocalityOffSplitsGoInPlanOrderAndTasksWhereThereIsMostRoom() {
    useNodes(A, B);
    // Split 0 on h2 (node b), split 1 on h1 (node a), as above; placement ignores hosts now.
    start(OPTIONS.withLocality(false), hostedRead(400, 2, "h2", "h1"));
    ReadOperatorState read = (ReadOperatorState) ex.operators().get(0);
    // a asks first and gets split 0, the first in plan order, though split 1 is held on its host.
    assertThat(step()).containsExactly("launch ReadHostedRange");
    assertThat(read.openSplitNodes()).containsExactly(entry(0, "a"));
    runToEnd();
    assertThat(seen).hasSize(400).doesNotHaveDuplicates();
  }

  @Test
  void withLocalityOffAMapTaskGoesWhereThereIsMostRoomNotToItsInput() {
    // Equal CPUs and budgets: the node holding fewer bytes has the more room.
    useNodes(
        new Node("a", "h1", Resources.cpus(1), 1L << 30),
        new Node("b", "h2", Resources.cpus(1), 1L << 30));
    start(OPTIONS.withLocality(false), hostedRead(100, 1, "h1"), map("M", 0.5));
    assertThat(step()).containsExactly("launch ReadHostedRange");
    assertThat(runtime.pendingTaskNodes()).containsExactly("a");
    runtime.runTasks();
    // The split's one block is held on a; M's task goes to b, with as many CPUs free and more
    // memory (with locality, it would go to a, the holder: see aMapTaskGoesToTheNodeHolding...).
    // (The split's reader stays on a, where its end is read.)
    assertThat(step()).containsExactly("launch M", "launch ReadHostedRange");
    assertThat(runtime.pendingTaskNodes()).containsExactlyInAnyOrder("b", "a");
    runToEnd();
    assertThat(seen).hasSize(100).doesNotHaveDuplicates();
  }

  @Test
  void aBlockWaitsForItsHoldersBusyActorRatherThanCrossToAnotherBusyOne() {
    useNodes(new Node("a", "h1", Resources.cpus(1.5)), new Node("b", "h2", Resources.cpus(2)));
    start(OPTIONS, read(1_200, 1), actors(ActorPool.of(2, 2).withMaxTasksPerActor(2)));
    // Pool-0 on b, Pool-1 on a; the split read on b: every block is held on b.
    assertThat(step())
        .containsExactly("start actor Pool-0", "start actor Pool-1", "launch ReadRange");
    runtime.runActors();
    // While the pool learns its output size, its first calls go to Pool-0, beside the blocks.
    for (int i = 0; i < 3; i++) {
      runtime.runTasks("ReadRange");
      step();
    }
    assertThat(runtime.pendingCallNodes()).containsOnly("b");
    runtime.runActors();
    takeAll();
    // Blocks keep coming from b and no call ends: Pool-0 fills up (two calls), one block crosses
    // to Pool-1 while it is idle, and the next wait for Pool-0 rather than cross to Pool-1, busy.
    for (int i = 0; i < 6; i++) {
      step();
      takeAll();
      runtime.runTasks("ReadRange");
    }
    step();
    assertThat(runtime.pendingCallNodes()).containsExactlyInAnyOrder("b", "b", "a");
    runToEnd();
    assertThat(seen).hasSize(1_200).doesNotHaveDuplicates();
  }
}
