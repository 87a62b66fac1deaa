package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.cluster.exec.SluiceWorker;
import dev.sluice.cluster.transport.TransportTraffic.Flow;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Resources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Per-member stats after a pipeline, three members in this JVM: workers on 127.0.0.2 (host h2) and
 * 127.0.0.3 (host h3), and a {@link ClusterTrainer} on 127.0.0.1 labelled h2, so that what reaches
 * it from the first worker stays on its host and what comes from the second is moved. The byte
 * counters of both ends of every transfer must agree.
 */
@Timeout(90)
class ClusterStatsIT {
  private static final long MIB = 1L << 20;
  private static final long BUDGET = 16 * MIB;
  private static final int ROW_BYTES = 16 << 10;
  private static final long ROWS = 4_000; // decoded: 62.5 MiB, about 4 budgets
  private static final Duration ASK = Duration.ofSeconds(10);
  private static final String TRAINER_IP = "127.0.0.1";

  private final TestMembers members = new TestMembers();
  private final List<AutoCloseable> started = new ArrayList<>();
  private SluiceWorker w2;
  private SluiceWorker w3;
  private ClusterTrainer trainer;
  private Sluice sluice;

  @BeforeEach
  void startCluster() throws Exception {
    w2 = worker(members.worker("127.0.0.2", "h2", Resources.cpus(2), BUDGET));
    w3 =
        worker(
            members.worker(
                "127.0.0.3", "h3", Resources.cpus(2), BUDGET, w2.member().self().address()));
    trainer =
        ClusterTrainer.start(
            members.trainer(TRAINER_IP, w2.member().self().address()).hostLabel("h2").build());
    started.add(trainer);
    trainer.awaitWorkers(2, Duration.ofSeconds(30));
    sluice =
        Sluice.builder()
            .runtime(trainer.runtime())
            .options(
                ExecutionOptions.defaults()
                    .withMemoryBudget(BUDGET)
                    .withTargetBlockRows(64)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build();
  }

  private SluiceWorker worker(ClusterConfig.Builder config) {
    SluiceWorker w = SluiceWorker.start(config.build(), getClass().getClassLoader());
    started.add(w);
    return w;
  }

  @AfterEach
  void stopCluster() throws Exception {
    try {
      if (sluice != null) {
        sluice.close();
      }
    } finally {
      members.close();
      for (int i = started.size() - 1; i >= 0; i--) {
        started.get(i).close(); // the trainer first
      }
    }
  }

  @Test
  void bothEndsOfEveryTransferAgreeAndEveryWorkerStaysWithinItsBudget() {
    var ds =
        sluice.pipeline(
            TestPipelines.Expanding.class,
            Map.of(
                "rows", String.valueOf(ROWS), "splits", "8", "bytes", String.valueOf(ROW_BYTES)));
    long rows = 0;
    try (BatchIterator it = ds.iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          rows += b.rowCount();
        }
      }
    }
    assertThat(rows).isEqualTo(ROWS);

    // A server counts a block once its write completed, which may come just after the receiver
    // has it: the figures settle within a moment.
    AtomicReference<List<MemberStats>> last = new AtomicReference<>();
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              List<MemberStats> all = trainer.memberStats(sluice, ASK);
              last.set(all);
              assertThat(all).hasSize(3).allMatch(MemberStats::answered, "answered");
              Flow toTrainer = all.get(1).sentTo(TRAINER_IP).plus(all.get(2).sentTo(TRAINER_IP));
              assertThat(all.get(0).received()).isEqualTo(toTrainer);
              Flow sent = Flow.ZERO;
              Flow received = Flow.ZERO;
              for (MemberStats m : all) {
                sent = sent.plus(m.sent());
                received = received.plus(m.received());
              }
              assertThat(received).as("received by all = sent by all").isEqualTo(sent);
            });
    List<MemberStats> all = last.get();
    String table = MemberStatsTable.format(all);
    System.out.println(table);

    MemberStats t = all.get(0);
    assertThat(t.role()).as(table).isEqualTo(Role.TRAINER);
    assertThat(t.id()).isEqualTo(trainer.member().self().id());
    assertThat(t.host()).isEqualTo("h2");
    // Every row's payload reached the trainer through the transport.
    assertThat(t.received().bytes()).as(table).isGreaterThanOrEqualTo(ROWS * ROW_BYTES);
    assertThat(t.sent()).isEqualTo(Flow.ZERO);
    assertThat(t.memoryPeak()).as(table).isPositive().isLessThanOrEqualTo(BUDGET);
    assertThat(t.memoryBudget()).isEqualTo(BUDGET);
    assertThat(t.cpuNanos()).isPositive();
    assertThat(t.cpuShare()).isNotNaN();

    MemberStats s2 = byHost(all, Role.WORKER, "h2");
    MemberStats s3 = byHost(all, Role.WORKER, "h3");
    // The trainer shares h2 with the first worker: its blocks stayed; the second's moved.
    assertThat(t.localBytes()).as(table).isEqualTo(s2.sentTo(TRAINER_IP).bytes());
    assertThat(t.movedBytes()).as(table).isEqualTo(s3.sentTo(TRAINER_IP).bytes());
    // Worker to worker (an actor's input held by the other worker): both ends agree, and moved.
    assertThat(s2.received().bytes()).as(table).isEqualTo(s3.sentTo("127.0.0.2").bytes());
    assertThat(s3.received().bytes()).as(table).isEqualTo(s2.sentTo("127.0.0.3").bytes());
    assertThat(s2.localBytes()).as(table).isEqualTo(s2.sentTo(TRAINER_IP).bytes());
    assertThat(s3.localBytes()).as(table).isZero();
    for (MemberStats m : all) {
      assertThat(m.localBytes() + m.movedBytes())
          .as("local + moved of %s", m.host())
          .isEqualTo(m.sent().bytes() + m.received().bytes());
    }
    for (var pair : List.of(Map.entry(s2, w2), Map.entry(s3, w3))) {
      MemberStats m = pair.getKey();
      assertThat(m.id()).isEqualTo(pair.getValue().member().self().id());
      assertThat(m.memoryBudget()).isEqualTo(BUDGET);
      assertThat(m.memoryPeak())
          .as("peak of %s\n%s", m.host(), table)
          .isPositive()
          .isLessThanOrEqualTo(BUDGET)
          .isLessThanOrEqualTo(pair.getValue().service().peakMemory());
      assertThat(m.cpuNanos()).isPositive();
      assertThat(m.cpus()).isEqualTo(2.0);
    }
    assertThat(s2.sent().bytes() + s3.sent().bytes()).as(table).isPositive();
  }

  private static MemberStats byHost(List<MemberStats> all, Role role, String host) {
    return all.stream()
        .filter(m -> m.role() == role && m.host().equals(host))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + role + " on " + host + " in " + all));
  }

  @Test
  void aWorkerThatCannotAnswerIsReportedAsSuchWithoutHoldingUpTheOthers() throws Exception {
    // A member that says it is a worker but serves no Sluice calls.
    SluiceMember mute =
        members.start(
            members.worker(
                "127.0.0.4", "h4", Resources.cpus(1), BUDGET, w2.member().self().address()));
    trainer.awaitWorkers(3, Duration.ofSeconds(30));
    long t0 = System.nanoTime();
    List<MemberStats> all = trainer.memberStats(sluice, ASK);
    long tookMillis = (System.nanoTime() - t0) / 1_000_000;
    String table = MemberStatsTable.format(all, 0.25);
    System.out.println(table);
    assertThat(tookMillis).as(table).isLessThan(ASK.toMillis() + 2_000);
    assertThat(all).hasSize(4);
    MemberStats m = byHost(all, Role.WORKER, "h4");
    assertThat(m.id()).isEqualTo(mute.self().id());
    assertThat(m.answered()).isFalse();
    assertThat(m.unanswered()).contains("not a Sluice worker");
    assertThat(byHost(all, Role.WORKER, "h2").answered()).isTrue();
    assertThat(byHost(all, Role.WORKER, "h3").answered()).isTrue();
    assertThat(table.lines().filter(l -> l.contains("no figures: ")).count()).isEqualTo(1);
    assertThat(table.lines().filter(l -> l.endsWith("25.0%")).count()).isEqualTo(1);
  }
}
