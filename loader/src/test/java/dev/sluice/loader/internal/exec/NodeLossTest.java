package dev.sluice.loader.internal.exec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.ExecutionEvent;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.HostedRangeSource;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.internal.plan.PhysicalOp.NamedFunction;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.internal.plan.PhysicalOp.TaskMapOp;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A node lost mid-execution, in the manual runtime: its splits are read again elsewhere from where
 * its readers stood, the blocks it held are made again from their lineage under the same names, its
 * tasks and actor calls run again on other nodes, and the consumer sees every row once. And a node
 * leaving cleanly: its work is handed over, its blocks consumed, nothing made again.
 */
class NodeLossTest {
  private static final ExecutionOptions OPTIONS =
      ExecutionOptions.defaults().withTargetBlockRows(100);

  private static final Node A = new Node("a", "h1", Resources.cpus(2));
  private static final Node B = new Node("b", "h2", Resources.cpus(2));

  private final AtomicLong clock = new AtomicLong();
  private final RootAllocator store = new RootAllocator();
  private ManualRuntime runtime = new ManualRuntime(List.of(A, B));
  private final List<Long> seen = new ArrayList<>();
  private final List<String> decisions = new ArrayList<>();

  /** Every delivered block by name (attempt aside), with its lineage and IPC bytes. */
  private final Map<String, Delivery> delivered = new TreeMap<>();

  private StreamingExecutor ex;

  private record Delivery(Lineage lineage, byte[] bytes) {}

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

  private void start(ExecutionOptions options, PhysicalOp... plan) {
    ex = StreamingExecutor.stepped(List.of(plan), options, runtime, store, clock::get);
    ex.start();
  }

  private List<String> step() {
    List<String> d = ex.runOnce().decisions();
    decisions.addAll(d);
    return d;
  }

  /** Takes every block delivered and ready, recording its rows, name and bytes. */
  private void takeAll() {
    for (ConsumerChannel.Delivered d; (d = ex.pollDelivered()) != null; ) {
      try (Batch b = d.batch()) {
        for (int i = 0; i < b.rowCount(); i++) {
          seen.add(b.getLong(RangeSource.COLUMN, i));
        }
        Delivery previous =
            delivered.put(d.ref().lineage().dedupKey(), new Delivery(d.ref().lineage(), ipc(b)));
        assertThat(previous).as("delivered twice: %s", d.ref().lineage()).isNull();
      }
    }
  }

  private static byte[] ipc(Batch b) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ArrowStreamWriter w = new ArrowStreamWriter(b.root(), null, Channels.newChannel(out))) {
      w.start();
      w.writeBatch();
      w.end();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** Runs {@code rounds} rounds of: a step, the tasks and actor calls it started. */
  private void rounds(int rounds, boolean take) {
    for (int i = 0; i < rounds; i++) {
      step();
      if (take) {
        takeAll();
      }
      runtime.runTasks();
      runtime.runActors();
    }
  }

  private void runToEnd() {
    for (int i = 0; i < 10_000; i++) {
      StreamingExecutor.Step step = ex.runOnce();
      decisions.addAll(step.decisions());
      boolean over = step.over();
      takeAll();
      if (over) {
        return;
      }
      runtime.runTasks();
      runtime.runActors();
    }
    fail(
        "the execution did not end: "
            + decisions.subList(Math.max(0, decisions.size() - 30), decisions.size()));
  }

  private static ReadOp read(long rows, int splits, List<NamedFunction> fused) {
    return new ReadOp(
        new HostedRangeSource(rows, splits, List.of("h1", "h2")),
        OptionalLong.empty(),
        OptionalLong.empty(),
        fused,
        Resources.cpus(1),
        0);
  }

  private static TaskMapOp map(String name, double cpus) {
    return new TaskMapOp(List.of(new NamedFunction(name, (b, c) -> b)), Resources.cpus(cpus), 0, 0);
  }

  @Test
  void theLostNodesSplitsAreReadAgainAndItsBlocksMadeAgainSoEveryRowArrivesOnce() {
    start(OPTIONS, read(1_200, 4, List.of()), map("M", 0.5));
    rounds(4, false); // blocks pile up in the consumer's channel, on both nodes
    runtime.loseNode(B, "killed by the test");
    List<String> first = step();
    assertThat(first).anyMatch(d -> d.matches("lost node b with [1-9][0-9]* blocks"));
    assertThat(first).anyMatch(d -> d.startsWith("give back split"));
    assertThat(first).anyMatch(d -> d.startsWith("remake "));
    runToEnd();
    assertThat(decisions).anyMatch(d -> d.startsWith("remade ") && d.endsWith(" on a"));
    assertThat(seen).hasSize(1_200).doesNotHaveDuplicates();
    // The stats tell what happened, in order: the loss, then its splits and blocks elsewhere.
    var stats = ex.stats();
    assertThat(stats.events(ExecutionEvent.Kind.NODE_LOST))
        .singleElement()
        .satisfies(e -> assertThat(e.node()).isEqualTo("b"));
    assertThat(stats.events(ExecutionEvent.Kind.SPLIT_GIVEN_BACK))
        .isNotEmpty()
        .allSatisfy(e -> assertThat(e.node()).isEqualTo("b"));
    assertThat(stats.events(ExecutionEvent.Kind.SPLIT_REISSUED))
        .isNotEmpty()
        .allSatisfy(e -> assertThat(e.node()).isEqualTo("a"));
    assertThat(stats.events(ExecutionEvent.Kind.BLOCK_REMADE))
        .isNotEmpty()
        .allSatisfy(e -> assertThat(e.node()).isEqualTo("a"));
    assertThat(stats.events().get(0).kind()).isEqualTo(ExecutionEvent.Kind.NODE_LOST);
    assertThat(stats.format()).contains("Node b lost at ").contains(" re-issued (the first ");
    assertThat(stats.formatRecovery())
        .startsWith("Node b lost at ")
        .doesNotContain("Dataset:")
        .isEqualTo(stats.format().substring(stats.format().indexOf("Node b lost at ")));
    // Splits given back were leased again, under a higher attempt.
    assertThat(delivered.values())
        .anyMatch(
            d ->
                d.lineage() instanceof Lineage.Derived m
                    && m.inputs().get(0).block() instanceof Lineage.Read r
                    && r.attempt() == 1);
  }

  @Test
  void workThatEndsOnANodeAlreadyGivenUpIsNotKeptAndEveryRowStillArrivesOnce() {
    start(OPTIONS, read(1_200, 4, List.of()), map("M", 0.5));
    rounds(3, false);
    step(); // launches tasks on both nodes, which have not run yet
    assertThat(runtime.pendingTaskNodes()).contains("b");
    runtime.loseNodeBeforeItsTasksEnd(B, "killed by the test");
    assertThat(step()).anyMatch(d -> d.startsWith("lost node b"));
    runToEnd(); // b's tasks run now and end well: their outputs are dropped or made again
    assertThat(seen).hasSize(1_200).doesNotHaveDuplicates();
  }

  /** 320 KiB: tasks aim at 40 KiB, so the source's blocks of 100 rows are cut. */
  private static final ExecutionOptions CUTTING = OPTIONS.withMemoryBudget(320L << 10);

  @Test
  void aSplitCutMidBlockIsTakenUpWhereItsReaderStoodAndGivesTheSameBlocksByName() {
    List<NamedFunction> fused = List.of(new NamedFunction("Expand", LineageTest.EXPAND));
    // Without a loss: the blocks, by name.
    start(CUTTING, read(1_200, 4, fused));
    runToEnd();
    Map<String, Delivery> expected = new TreeMap<>(delivered);
    ex.close();
    delivered.clear();
    seen.clear();
    runtime.close();
    runtime = new ManualRuntime(List.of(A, B));
    // With b lost while its readers stand inside cut source blocks.
    start(CUTTING, read(1_200, 4, fused));
    rounds(5, true);
    runtime.loseNode(B, "killed by the test");
    runToEnd();
    assertThat(decisions).anyMatch(d -> d.matches("give back split \\d+ from row [1-9]\\d* of b"));
    assertThat(seen).hasSize(1_200).doesNotHaveDuplicates();
    assertThat(delivered.keySet()).isEqualTo(expected.keySet());
    for (String name : expected.keySet()) {
      assertThat(delivered.get(name).bytes()).as(name).isEqualTo(expected.get(name).bytes());
    }
    assertThat(delivered.values())
        .anyMatch(d -> d.lineage() instanceof Lineage.Read r && r.attempt() == 1);
  }

  @Test
  void anActorCallLostWithItsNodeRunsAgainOnAnActorStartedElsewhere() {
    ActorMapOp pooled =
        new ActorMapOp(
            "Pool",
            () -> (b, c) -> b,
            ActorPool.of(1, 1).withIdleTimeout(Duration.ofSeconds(5)),
            Resources.cpus(1),
            0);
    // b has the most CPUs free: the actor starts there.
    Node bigB = new Node("b", "h2", Resources.cpus(3));
    runtime.close();
    runtime = new ManualRuntime(List.of(new Node("a", "h1", Resources.cpus(2)), bigB));
    start(OPTIONS, read(600, 2, List.of()), pooled);
    ActorPoolOperatorState pool = (ActorPoolOperatorState) ex.operators().get(1);
    assertThat(step()).contains("start actor Pool-0");
    runtime.runTasks(); // the reads' first blocks
    step();
    runtime.runActors(); // constructs the actor; no call queued yet
    step();
    assertThat(pool.tasksInFlight()).as("%s", decisions).isPositive();
    runtime.loseNode(bigB, "killed by the test"); // the call never ran
    runToEnd();
    assertThat(decisions).anyMatch(d -> d.startsWith("retry a task of Pool on b:"));
    assertThat(decisions).contains("start actor Pool-1");
    assertThat(seen).hasSize(600).doesNotHaveDuplicates();
  }

  /** Each id plus 1,000,000, in a new block. */
  private static final dev.sluice.loader.BatchFunction PLUS_MILLION =
      (in, ctx) -> {
        int n = in.rowCount();
        org.apache.arrow.vector.types.pojo.Schema schema =
            new org.apache.arrow.vector.types.pojo.Schema(
                List.of(dev.sluice.loader.Columns.int64(RangeSource.COLUMN)));
        try (dev.sluice.loader.BatchBuilder b =
            dev.sluice.loader.BatchBuilder.createUninitialized(
                ctx.allocator(), schema, n, 0, in.sources())) {
          for (int i = 0; i < n; i++) {
            b.setLong(RangeSource.COLUMN, i, in.getLong(RangeSource.COLUMN, i) + 1_000_000);
          }
          return b.build(n);
        }
      };

  /** A pool of two actors of half a CPU that mark their rows (+1,000,000). */
  private static ActorMapOp markingPool() {
    return new ActorMapOp(
        "Pool",
        () -> PLUS_MILLION,
        ActorPool.of(2, 2).withIdleTimeout(Duration.ofSeconds(5)),
        Resources.cpus(0.5),
        0);
  }

  @Test
  void aLostBlockAnActorMadeIsMadeAgainOnAnActorOfThePoolAndEveryRowArrivesOnce() {
    // The actor's function marks its rows (+1,000,000): a block made again must be the actor's
    // output, not its input.
    ActorMapOp pooled = markingPool();
    start(OPTIONS, read(1_200, 4, List.of()), pooled);
    rounds(6, false); // the actors' outputs pile up in the consumer's channel, on both nodes
    runtime.loseNode(B, "killed by the test");
    List<String> first = step();
    assertThat(first).anyMatch(d -> d.startsWith("remake 1:Pool(") && d.endsWith(" by Pool"));
    runToEnd();
    assertThat(decisions).anyMatch(d -> d.startsWith("remade 1:Pool(") && d.endsWith(" on a"));
    assertThat(seen).hasSize(1_200).doesNotHaveDuplicates().allMatch(v -> v >= 1_000_000);
  }

  @Test
  void aLostNodeFailsTheExecutionWhenNoNodeLeftOffersWhatAnOperatorAsks() {
    Node small = new Node("a", "h1", Resources.cpus(1));
    Node big = new Node("b", "h2", Resources.cpus(4));
    runtime.close();
    runtime = new ManualRuntime(List.of(small, big));
    start(OPTIONS, read(400, 2, List.of()), map("Big", 2));
    step();
    runtime.loseNode(big, "killed by the test");
    assertThat(step()).anyMatch(d -> d.startsWith("lost node b"));
    assertThat(ex.failed()).as("%s", decisions).isTrue(); // so take() cannot wait
    assertThatThrownBy(ex::take)
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("b@h2")
        .hasMessageContaining("killed by the test")
        .hasMessageContaining("the nodes left cannot run the plan: Big asks for 2.0 CPU");
  }

  // ---- a node leaving cleanly

  @Test
  void aLeavingNodeHandsItsSplitsOverAndIsLetGoWithNothingMadeAgain() {
    start(OPTIONS, read(1_200, 4, List.of()), map("M", 0.5));
    rounds(4, false); // blocks pile up in the consumer's channel, on both nodes
    assertThat(ex.store("b").size()).isPositive();
    ReadOperatorState reads = (ReadOperatorState) ex.operators().get(0);
    assertThat(reads.openSplitNodes()).containsValue("b");
    runtime.leaveNode(B);
    List<String> first = step();
    int placedBefore = runtime.placements().size();
    assertThat(first).contains("node b is leaving: hand over its work");
    assertThat(first).anyMatch(d -> d.startsWith("hand over split") && d.endsWith(" of b"));
    assertThat(first).noneMatch(d -> d.startsWith("let go"));
    assertThat(reads.openSplitNodes()).doesNotContainValue("b");
    runToEnd();
    // Nothing new went to b, nothing was made again, and every row came once.
    assertThat(runtime.placements().subList(placedBefore, runtime.placements().size()))
        .isNotEmpty()
        .containsOnly("a");
    assertThat(decisions).noneMatch(d -> d.startsWith("remake ") || d.startsWith("lost node"));
    assertThat(decisions).contains("let go of node b");
    assertThat(seen).hasSize(1_200).doesNotHaveDuplicates();
    var stats = ex.stats();
    assertThat(stats.events())
        .extracting(ExecutionEvent::kind)
        .startsWith(ExecutionEvent.Kind.NODE_LEAVING)
        .contains(ExecutionEvent.Kind.NODE_LEFT, ExecutionEvent.Kind.SPLIT_REISSUED)
        .doesNotContain(ExecutionEvent.Kind.NODE_LOST, ExecutionEvent.Kind.BLOCK_REMADE);
    assertThat(stats.events(ExecutionEvent.Kind.SPLIT_GIVEN_BACK))
        .isNotEmpty()
        .allSatisfy(e -> assertThat(e.detail()).endsWith("(handed over)"));
    assertThat(stats.formatRecovery())
        .matches(
            "Node b leaving at [0-9.]+ s: [1-9] splits handed over, [1-9] re-issued \\(the first"
                + " [0-9]+ ms later\\), 0 blocks made again, let go [0-9]+ ms later");
    // The splits handed over were read on under the next attempt, from where b's readers stood.
    assertThat(delivered.values())
        .anyMatch(
            d ->
                d.lineage() instanceof Lineage.Derived m
                    && m.inputs().get(0).block() instanceof Lineage.Read r
                    && r.attempt() == 1
                    && r.fromRow() > 0);
  }

  @Test
  void aSplitInATaskWhenItsNodeSaysItLeavesIsHandedOverWhenTheTaskEnds() {
    start(OPTIONS, read(1_200, 4, List.of()), map("M", 0.5));
    rounds(3, false);
    step(); // launches reads on both nodes, which have not run yet
    assertThat(runtime.pendingTaskNodes()).contains("b");
    ReadOperatorState reads = (ReadOperatorState) ex.operators().get(0);
    runtime.leaveNode(B);
    assertThat(step()).noneMatch(d -> d.startsWith("hand over split"));
    assertThat(reads.openSplitNodes()).containsValue("b"); // its reader is in a task
    runtime.runTasksOn("b");
    assertThat(step()).anyMatch(d -> d.startsWith("hand over split") && d.endsWith(" of b"));
    assertThat(reads.openSplitNodes()).doesNotContainValue("b");
    runToEnd();
    assertThat(decisions).contains("let go of node b").noneMatch(d -> d.startsWith("remake "));
    assertThat(seen).hasSize(1_200).doesNotHaveDuplicates();
  }

  @Test
  void aLeavingNodesActorsRetireAndThePoolStartsOthersOnTheNodesLeft() {
    ActorMapOp pooled = markingPool();
    start(OPTIONS, read(1_200, 4, List.of()), pooled);
    rounds(6, false);
    ActorPoolOperatorState pool = (ActorPoolOperatorState) ex.operators().get(1);
    assertThat(pool.holdsOn(B)).as("an actor on b").isTrue();
    runtime.leaveNode(B);
    assertThat(step()).anyMatch(d -> d.startsWith("retire actor Pool-") && d.endsWith(" of b"));
    runToEnd();
    assertThat(decisions).contains("start actor Pool-2", "let go of node b");
    assertThat(decisions).noneMatch(d -> d.startsWith("remake "));
    assertThat(seen).hasSize(1_200).doesNotHaveDuplicates().allMatch(v -> v >= 1_000_000);
  }

  @Test
  void aLeavingNodeLostBeforeItHandedEverythingOverIsANodeLostAndEveryRowStillArrivesOnce() {
    start(OPTIONS, read(1_200, 4, List.of()), map("M", 0.5));
    rounds(4, false);
    runtime.leaveNode(B);
    step();
    assertThat(ex.store("b").size()).as("blocks still on b").isPositive();
    runtime.loseNode(B, "left before its blocks were taken");
    assertThat(step()).anyMatch(d -> d.matches("lost node b with [1-9][0-9]* blocks"));
    runToEnd();
    assertThat(decisions).doesNotContain("let go of node b").anyMatch(d -> d.startsWith("remake "));
    assertThat(seen).hasSize(1_200).doesNotHaveDuplicates();
    assertThat(ex.stats().formatRecovery())
        .contains("Node b leaving at ")
        .contains("not let go")
        .contains("Node b lost at ");
  }

  @Test
  void anExecutionStartedWhileANodeLeavesPlacesNothingThere() {
    runtime.leavingUnheard(B); // still listed: the execution hears of it only as it starts
    start(OPTIONS, read(400, 2, List.of()), map("M", 0.5));
    runToEnd();
    assertThat(runtime.placements()).isNotEmpty().containsOnly("a");
    assertThat(decisions).contains("node b is leaving: hand over its work", "let go of node b");
    assertThat(seen).hasSize(400).doesNotHaveDuplicates();
  }

  @Test
  void aNodeLeftWhenNoNodeLeftOffersWhatAnOperatorAsksFailsTheExecutionNamingIt() {
    Node small = new Node("a", "h1", Resources.cpus(1));
    Node big = new Node("b", "h2", Resources.cpus(4));
    runtime.close();
    runtime = new ManualRuntime(List.of(small, big));
    runtime.leavingUnheard(big); // b holds nothing yet: let go at once
    start(OPTIONS, read(400, 2, List.of()), map("Big", 2));
    step();
    assertThat(decisions).contains("let go of node b");
    assertThat(ex.failed()).as("%s", decisions).isTrue(); // so take() cannot wait
    assertThatThrownBy(ex::take)
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("b@h2")
        .hasMessageContaining("left (its work handed over)")
        .hasMessageContaining("the nodes left cannot run the plan: Big asks for 2.0 CPU");
  }
}
