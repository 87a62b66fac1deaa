package dev.sluice.cluster.exec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sluice.cluster.ClusterConfig;
import dev.sluice.cluster.TestPipelines;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Resources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The split leases kept in Hazelcast: a record only moves to a higher attempt (a stale lease,
 * however late it arrives, is refused by the entry processor), it survives the worker that held it
 * (one backup), a worker following the map fences off a read under a superseded attempt, and an
 * execution records its leases while it runs and drops them at its end. Two workers and a trainer
 * in this JVM, on their own loopback addresses.
 */
@Timeout(90)
class SplitLeasesIT {
  private static final long BUDGET = 16L << 20;
  private final String cluster = "sluice-leases-" + UUID.randomUUID().toString().substring(0, 8);
  private final List<AutoCloseable> started = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (int i = started.size() - 1; i >= 0; i--) {
      started.get(i).close();
    }
  }

  private ClusterConfig.Builder timings(ClusterConfig.Builder b, String bind, String... join) {
    return b.clusterName(cluster)
        .bindAddress(bind)
        .port(0)
        .members(join)
        .heartbeatInterval(Duration.ofSeconds(1))
        .maxNoHeartbeat(Duration.ofSeconds(5));
  }

  private SluiceWorker worker(String bind, String... join) {
    SluiceWorker w =
        SluiceWorker.start(
            timings(ClusterConfig.worker(), bind, join)
                .hostLabel("h" + bind.substring(bind.lastIndexOf('.') + 1))
                .resources(Resources.cpus(2))
                .memoryBudget(BUDGET)
                .build(),
            getClass().getClassLoader());
    started.add(w);
    return w;
  }

  @Test
  void aRecordOnlyMovesUpSurvivesItsHolderAndFencesSupersededReads() throws Exception {
    SluiceWorker a = worker("127.0.0.2");
    String join = a.member().self().address();
    SluiceWorker b = worker("127.0.0.3", join);
    ClusterTrainer trainer =
        ClusterTrainer.start(timings(ClusterConfig.trainer(), "127.0.0.4", join).build());
    started.add(trainer);
    trainer.awaitWorkers(2, Duration.ofSeconds(30));
    SplitLeases ledger = (SplitLeases) trainer.runtime().leaseLedger();
    String onWorkers = trainer.member().self().id() + "/x1";

    assertThat(ledger.record("x1", 3, 0, "node-a").toCompletableFuture().get(10, TimeUnit.SECONDS))
        .isTrue();
    assertThat(ledger.record("x1", 3, 2, "node-b").toCompletableFuture().get(10, TimeUnit.SECONDS))
        .isTrue();
    assertThat(ledger.record("x1", 3, 1, "node-c").toCompletableFuture().get(10, TimeUnit.SECONDS))
        .as("a stale lease is refused")
        .isFalse();
    assertThat(ledger.record("x1", 3, 2, "node-d").toCompletableFuture().get(10, TimeUnit.SECONDS))
        .as("so is the same attempt again")
        .isFalse();
    assertThat(ledger.record("x1", 3).attempt()).isEqualTo(2);
    assertThat(ledger.record("x1", 3).node()).isEqualTo("node-b");

    for (SluiceWorker w : List.of(a, b)) {
      SplitLeases followed = w.service().leases();
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(() -> assertThat(followed.fenced(onWorkers, 3, 0)).isNotNull());
      assertThat(followed.fenced(onWorkers, 3, 1))
          .hasMessageContaining("split 3")
          .hasMessageContaining("attempt 2 on node node-b")
          .hasMessageContaining("attempt 1 is fenced off");
      assertThat(followed.fenced(onWorkers, 3, 2)).as("the current attempt reads on").isNull();
      assertThat(followed.fenced(onWorkers, 4, 0)).as("no record, no fence").isNull();
    }

    // The record lives on a worker, with a backup on the other: it outlives either.
    a.close();
    started.remove(a);
    assertThat(ledger.record("x1", 3).attempt()).isEqualTo(2);

    ledger.ended("x1");
    await().atMost(Duration.ofSeconds(10)).until(() -> ledger.record("x1", 3) == null);
  }

  @Test
  void anExecutionRecordsItsLeasesWhileItRunsAndDropsThemAtItsEnd() throws Exception {
    SluiceWorker a = worker("127.0.0.2");
    worker("127.0.0.3", a.member().self().address());
    ClusterTrainer trainer =
        ClusterTrainer.start(
            timings(ClusterConfig.trainer(), "127.0.0.4", a.member().self().address()).build());
    started.add(trainer);
    trainer.awaitWorkers(2, Duration.ofSeconds(30));
    var map = trainer.member().hazelcast().<String, SplitLeases.Lease>getMap(SplitLeases.MAP);
    String prefix = trainer.member().self().id() + "/";
    try (Sluice sluice =
        Sluice.builder()
            .runtime(trainer.runtime())
            .options(
                ExecutionOptions.defaults()
                    .withMemoryBudget(BUDGET)
                    .withTargetBlockRows(64)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build()) {
      try (BatchIterator it =
          sluice
              .pipeline(
                  TestPipelines.Expanding.class,
                  Map.of("rows", "4000", "splits", "8", "bytes", "1024"))
              .iterBatches()) {
        long rows = 0;
        while (it.hasNext()) {
          try (Batch batch = it.next()) {
            rows += batch.rowCount();
          }
          if (rows >= 2000) {
            break;
          }
        }
        await()
            .atMost(Duration.ofSeconds(10))
            .untilAsserted(
                () ->
                    assertThat(map.keySet())
                        .anySatisfy(k -> assertThat(k).startsWith(prefix))
                        .allSatisfy(k -> assertThat(map.get(k).attempt()).isZero()));
      }
      await().atMost(Duration.ofSeconds(10)).until(map::isEmpty);
    }
  }
}
