package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.cluster.exec.LocalWorkers;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionEvent;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Workers killed with SIGKILL mid-epoch: a trainer in this JVM and worker processes of their own
 * (127.0.0.2, 127.0.0.3, ...); the epoch goes on without a restart and delivers every sample
 * exactly once (the multiset of the sample keys, and each sample's payload), and the survivors stay
 * within their memory budgets.
 */
class FailoverIT {
  private static final long MIB = 1L << 20;
  private static final long BUDGET = 16 * MIB;
  private static final int ROW_BYTES = 16 << 10;
  private static final Duration JOIN = Duration.ofSeconds(60);

  /** How often the sides of a split look for each other (Hazelcast's default: 300 s, then 120). */
  private static final Duration MERGE = Duration.ofSeconds(3);

  private final String cluster = "sluice-failover-" + UUID.randomUUID().toString().substring(0, 8);
  private final List<AutoCloseable> started = new ArrayList<>();
  private LocalWorkers workers;
  private ClusterTrainer trainer;
  private Sluice sluice;
  private DatasetStats lastStats;

  @AfterEach
  void stop() throws Exception {
    if (sluice != null) {
      sluice.close();
    }
    if (trainer != null) {
      trainer.close();
    }
    if (workers != null) {
      workers.close();
    }
  }

  private void startCluster(int n) throws InterruptedException {
    workers =
        LocalWorkers.start(
            n,
            new LocalWorkers.Settings(
                cluster,
                2,
                BUDGET,
                "256m",
                TestMembers.HEARTBEAT,
                TestMembers.MAX_NO_HEARTBEAT,
                MERGE),
            JOIN);
    trainer =
        ClusterTrainer.start(
            TestMembers.trainerOf(cluster, "127.0.0.1", workers.addresses())
                .mergeInterval(MERGE)
                .build());
    trainer.awaitWorkers(n, JOIN);
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

  @Test
  @Timeout(90)
  void aWorkerKilledMidEpochLosesNoSampleAndDuplicatesNone() throws Exception {
    startCluster(3);
    int rows = 9_000; // 9,000 x 16 KiB = 141 MiB decoded, about 9 budgets
    int[] seen = epoch(rows, 0.4, 1, () -> {});
    assertExactlyOnce(seen);
    for (MemberStats m : trainer.memberStats(sluice, Duration.ofSeconds(10))) {
      if (m.role() == Role.WORKER) {
        assertThat(m.answered()).as("%s answered", m.address()).isTrue();
        assertThat(m.memoryPeak()).as("peak on %s", m.address()).isLessThanOrEqualTo(BUDGET);
      }
    }
  }

  @Test
  @Timeout(150)
  void killsAtSeededRandomMomentsOverTenEpochsLoseAndDuplicateNothing() throws Exception {
    startCluster(3);
    Random random = new Random(20261203L);
    ExecutorService starter =
        Executors.newSingleThreadExecutor(r -> new Thread(r, "failover-it-worker-starter"));
    try {
      List<Future<String>> replacements = new ArrayList<>();
      for (int run = 0; run < 10; run++) {
        // At least two workers alive, so that one is left after the kill (the workers started in
        // place of those killed before join meanwhile; the trainer may not have heard of the last
        // kill yet: the epoch starts without it).
        for (int next = 0; workers.alive().size() < 2; next++) {
          replacements.get(next).get(JOIN.toSeconds(), TimeUnit.SECONDS);
        }
        List<Integer> alive = workers.alive();
        double killAt = 0.05 + 0.9 * random.nextDouble();
        int victim = alive.get(random.nextInt(alive.size()));
        System.out.printf(
            "run %d: %d workers, worker %d to be killed at %.2f of the epoch%n",
            run, alive.size(), victim + 1, killAt);
        int[] seen =
            epoch(
                2_400,
                killAt,
                victim,
                () -> replacements.add(starter.submit(() -> workers.add(JOIN))));
        assertExactlyOnce(seen);
      }
      for (Future<String> f : replacements) {
        f.get(JOIN.toSeconds(), TimeUnit.SECONDS); // each joined
      }
    } finally {
      starter.shutdownNow();
      assertThat(starter.awaitTermination(JOIN.toSeconds(), TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  @Timeout(90)
  void aWorkerThatJoinsMidEpochTakesSplits() throws Exception {
    startCluster(1);
    int rows = 6_000;
    Dataset ds =
        sluice.pipeline(
            TestPipelines.Expanding.class,
            Map.of(
                "rows", String.valueOf(rows), "splits", "24", "bytes", String.valueOf(ROW_BYTES)));
    int[] seen = new int[rows];
    long taken = 0;
    String joined = null;
    try (BatchIterator it = ds.iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          for (int i = 0; i < b.rowCount(); i++) {
            seen[(int) b.getLong("id", i)]++;
          }
          taken += b.rowCount();
        }
        if (joined == null && taken >= rows / 10) {
          // The consumer waits (the execution is held back by its budget) until the second worker
          // has joined, while most splits are still to be read ...
          joined = workers.add(JOIN);
          // ... and until the execution has opened its half on it (a round trip, and the
          // pipeline built there).
          await()
              .atMost(JOIN)
              .until(() -> !it.stats().events(ExecutionEvent.Kind.NODE_JOINED).isEmpty());
        }
      }
    }
    assertThat(joined).as("joined before the epoch's end").isNotNull();
    assertExactlyOnce(seen);
    String newcomer = joined.substring(0, joined.lastIndexOf(':'));
    MemberStats second =
        trainer.memberStats(sluice, Duration.ofSeconds(10)).stream()
            .filter(m -> m.role() == Role.WORKER && m.address().startsWith(newcomer + ":"))
            .findFirst()
            .orElseThrow();
    System.out.println(
        MemberStatsTable.format(trainer.memberStats(sluice, Duration.ofSeconds(10))));
    assertThat(second.sent().blocks())
        .as("blocks the worker that joined made and sent")
        .isPositive();
    assertThat(second.memoryPeak()).isLessThanOrEqualTo(BUDGET);
  }

  @Test
  @Timeout(120)
  void aWorkerFrozenMidEpochIsGivenUpAndAfterItThawsItMergesBackAndTakesWorkAgain()
      throws Exception {
    startCluster(3);
    long pid = workers.pids().get(1);
    String frozen = trainer.member().workers().get(1).id();
    String address = workers.addresses().get(1);
    // SIGSTOP: the worker neither answers nor refuses; only the missing heartbeats tell.
    int[] seen = epoch(6_000, 0.3, () -> signal("STOP", pid), 1);
    assertExactlyOnce(seen);
    assertThat(trainer.member().workers()).extracting(n -> n.id()).doesNotContain(frozen);
    var split = workers.watch(1, l -> l.contains("members are gone at once"));
    var merging = workers.watch(1, l -> l.contains("now merges back into it"));
    signal("CONT", pid);
    // Thawed, it finds itself cut off from the cluster that gave it up (a split brain: the tasks
    // it still ran for the epoch count for nothing, their rows came once above), until the sides
    // find each other and it merges back, as a new member, which takes work again.
    await().atMost(Duration.ofSeconds(60)).until(() -> trainer.member().workers().size() == 3);
    assertThat(trainer.member().workers()).extracting(n -> n.id()).doesNotContain(frozen);
    // What the worker cut off said: the members it lost, named, then the merge.
    assertThat(split.get(10, TimeUnit.SECONDS))
        .contains(trainer.member().self().id().toString())
        .contains("the network is split");
    assertThat(merging.get(10, TimeUnit.SECONDS)).contains(frozen);
    long sentBefore = sentBlocks(address);
    for (int run = 0; run < 2; run++) {
      assertExactlyOnce(epoch(3_000, 2, () -> {}, 0));
    }
    assertThat(sentBlocks(address))
        .as("blocks the merged worker sent in the epochs after it came back")
        .isGreaterThan(sentBefore);
    for (MemberStats m : trainer.memberStats(sluice, Duration.ofSeconds(10))) {
      System.out.println(m);
      if (m.role() == Role.WORKER) {
        assertThat(m.answered()).as("%s answered", m.address()).isTrue();
        assertThat(m.memoryPeak()).as("peak on %s", m.address()).isLessThanOrEqualTo(BUDGET);
      }
    }
  }

  /** Blocks the worker at {@code address} has sent since it started. */
  private long sentBlocks(String address) {
    for (MemberStats m : trainer.memberStats(sluice, Duration.ofSeconds(10))) {
      if (m.address().equals(address)) {
        assertThat(m.answered()).as("%s answered", address).isTrue();
        return m.sent().blocks();
      }
    }
    throw new AssertionError("no member at " + address);
  }

  @Test
  @Timeout(90)
  void aWorkerStoppedMidEpochHandsItsWorkOverAndLeavesWithNothingMadeAgain() throws Exception {
    startCluster(3);
    String leaver = trainer.member().workers().get(1).id();
    List<java.util.concurrent.CompletableFuture<Process>> stopped = new ArrayList<>();
    // SIGTERM, as a service manager stops a worker: it says it leaves, its splits and blocks are
    // handed over and consumed, the trainer lets it go, and it exits; no node is lost. (Decoding
    // fused into the reads: the budget holds them back, so that splits are open when it leaves.)
    int[] seen =
        epoch(
            Map.of("decodeCpus", "1"),
            6_000,
            0.3,
            () -> stopped.add(workers.stop(1)),
            0,
            ExecutionEvent.Kind.NODE_LEAVING);
    assertExactlyOnce(seen);
    DatasetStats stats = lastStats;
    assertThat(stats.events(ExecutionEvent.Kind.NODE_LEAVING))
        .as(stats.format())
        .singleElement()
        .satisfies(e -> assertThat(e.node()).isEqualTo(leaver));
    assertThat(stats.events(ExecutionEvent.Kind.NODE_LEFT))
        .as(stats.format())
        .singleElement()
        .satisfies(e -> assertThat(e.node()).isEqualTo(leaver));
    assertThat(stats.events(ExecutionEvent.Kind.BLOCK_REMADE)).as(stats.format()).isEmpty();
    assertThat(stats.events(ExecutionEvent.Kind.SPLIT_GIVEN_BACK))
        .allSatisfy(e -> assertThat(e.detail()).endsWith("(handed over)"));
    assertThat(stats.formatRecovery()).contains("Node " + leaver + " leaving at ", " let go ");
    Process p = stopped.get(0).get(30, TimeUnit.SECONDS);
    assertThat(p.exitValue()).as("exit on SIGTERM").isEqualTo(143);
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> trainer.member().workers().size() == 2 && workers.alive().size() == 2);
    // The next epoch runs on the two left.
    assertExactlyOnce(epoch(3_000, 2, () -> {}, 0));
    for (MemberStats m : trainer.memberStats(sluice, Duration.ofSeconds(10))) {
      if (m.role() == Role.WORKER) {
        assertThat(m.memoryPeak()).as("peak on %s", m.address()).isLessThanOrEqualTo(BUDGET);
      }
    }
  }

  private static void signal(String name, long pid) {
    try {
      Process p = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
      assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as("kill -%s %d", name, pid).isZero();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
    System.out.printf("SIG%s to worker process %d%n", name, pid);
  }

  /**
   * One epoch of {@code rows} samples; worker {@code victim} is killed once {@code killAt} of the
   * rows have been taken, then {@code afterKill} runs. Returns how often each sample came.
   */
  private int[] epoch(int rows, double killAt, int victim, Runnable afterKill) {
    return epoch(
        rows,
        killAt,
        () -> {
          long pid = workers.kill(victim);
          System.out.printf("killed worker %d (pid %d)%n", victim + 1, pid);
          afterKill.run();
        },
        1);
  }

  /**
   * One epoch of {@code rows} samples; {@code action} runs once {@code at} of the rows have been
   * taken (never for {@code at > 1}), and the execution must have lost {@code lost} nodes. After a
   * loss, the consumer takes nothing more until the execution has heard of it, so that the epoch
   * does not end before (on a fast machine the rows left can be taken in less than the detection
   * takes, and a node that holds nothing any more is then never lost to it). Returns how often each
   * sample came.
   */
  private int[] epoch(int rows, double at, Runnable action, int lost) {
    return epoch(Map.of(), rows, at, action, lost, lost > 0 ? ExecutionEvent.Kind.NODE_LOST : null);
  }

  /**
   * As {@link #epoch(int, double, Runnable, int)}, with more parameters of the pipeline; after the
   * action the consumer waits until the execution has recorded an event of kind {@code heard} (none
   * when null).
   */
  private int[] epoch(
      Map<String, String> parameters,
      int rows,
      double at,
      Runnable action,
      int lost,
      ExecutionEvent.Kind heard) {
    Map<String, String> p = new java.util.HashMap<>(parameters);
    p.putAll(
        Map.of("rows", String.valueOf(rows), "splits", "12", "bytes", String.valueOf(ROW_BYTES)));
    Dataset ds = sluice.pipeline(TestPipelines.Expanding.class, p);
    int[] seen = new int[rows];
    long taken = 0;
    boolean acted = false;
    try (BatchIterator it = ds.iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          ArrowBuf payload = b.tensorData("payload");
          for (int i = 0; i < b.rowCount(); i++) {
            int id = (int) b.getLong("id", i);
            seen[id]++;
            assertThat(payload.getByte((long) i * ROW_BYTES))
                .isEqualTo(TestPipelines.payloadByte(id, 0));
            assertThat(payload.getByte((long) i * ROW_BYTES + ROW_BYTES - 1))
                .isEqualTo(TestPipelines.payloadByte(id, ROW_BYTES - 1));
          }
          taken += b.rowCount();
        }
        if (!acted && taken >= at * rows) {
          System.out.printf("after %d rows:%n", taken);
          acted = true;
          action.run();
          if (heard != null) {
            await()
                .atMost(Duration.ofSeconds(30))
                .alias("the execution hears of it (" + heard + ") before the epoch's end")
                .until(() -> !it.stats().events(heard).isEmpty());
          }
        }
      }
      DatasetStats stats = it.stats();
      lastStats = stats;
      System.out.println(stats.format());
      assertThat(stats.peakMemory()).as(stats.format()).isLessThanOrEqualTo(BUDGET);
      assertThat(stats.events(ExecutionEvent.Kind.NODE_LOST)).as(stats.format()).hasSize(lost);
    }
    assertThat(acted).as("the action came before the epoch's end").isEqualTo(at <= 1);
    return seen;
  }

  private static void assertExactlyOnce(int[] seen) {
    List<Integer> missing = new ArrayList<>();
    List<Integer> twice = new ArrayList<>();
    for (int id = 0; id < seen.length; id++) {
      if (seen[id] == 0) {
        missing.add(id);
      } else if (seen[id] > 1) {
        twice.add(id);
      }
    }
    assertThat(missing).as("samples lost").isEmpty();
    assertThat(twice).as("samples delivered more than once").isEmpty();
  }
}
