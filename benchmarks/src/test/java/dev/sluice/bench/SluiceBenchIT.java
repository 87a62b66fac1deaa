package dev.sluice.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs each scenario end to end at a tiny size: child JVMs, JSON and PNG. */
class SluiceBenchIT {

  private static int bench(String... args) {
    return SluiceBench.execute(args);
  }

  @Test
  void executorOverheadWritesResults(@TempDir Path dir) throws Exception {
    assertThat(
            bench(
                "executor-overhead",
                "--runs",
                "1",
                "--rows",
                "3000",
                "--maps",
                "3",
                "--child-heap",
                "256m",
                "--out",
                dir.resolve("results").toString(),
                "--work",
                dir.resolve("work").toString()))
        .isZero();
    JsonNode json =
        new ObjectMapper().readTree(dir.resolve("results/executor-overhead-quick.json").toFile());
    assertThat(json.at("/summary/rowsPerSecond/fused/median").asDouble()).isPositive();
    assertThat(json.at("/plans/unfused").asText()).contains("TaskPoolMap[Noop2]");
    assertThat(json.at("/plans/fused").asText()).contains("ReadRange->Noop0->Noop1->Noop2");
    assertThat(json.at("/machine/cores").asInt()).isPositive();
    // Where the figures come from: the arguments, and the commit when run in a git checkout.
    assertThat(json.at("/source/arguments").asText())
        .startsWith("executor-overhead --runs 1 --rows 3000");
    assertThat(json.at("/source/commit").asText()).matches("[0-9a-f]{40}|unknown");
    assertThat(Files.size(dir.resolve("results/executor-overhead-quick.png"))).isPositive();
  }

  @Test
  void streamingVsBulkWritesResults(@TempDir Path dir) throws Exception {
    assertThat(
            bench(
                "streaming-vs-bulk",
                "--runs",
                "1",
                "--samples",
                "400",
                "--shards",
                "4",
                "--payload-bytes",
                "1000",
                "--budget",
                "1m",
                "--model-micros-per-row",
                "100",
                "--child-heap",
                "256m",
                "--out",
                dir.resolve("results").toString(),
                "--work",
                dir.resolve("work").toString()))
        .isZero();
    JsonNode json =
        new ObjectMapper().readTree(dir.resolve("results/streaming-vs-bulk-quick.json").toFile());
    assertThat(json.at("/runs").size()).isEqualTo(2);
    assertThat(json.at("/summary/peakMemoryMiB/bulk/median").asDouble())
        .isGreaterThan(json.at("/summary/peakMemoryMiB/streaming/median").asDouble());
    assertThat(json.at("/ratiosStreamingOverBulk/wallSeconds").isNumber()).isTrue();
    assertThat(Files.size(dir.resolve("results/streaming-vs-bulk-quick.png"))).isPositive();
  }

  @Test
  void transportWritesResults(@TempDir Path dir) throws Exception {
    String[] engines = {"socket", "netty", "flight", "hazelcast"};
    assertThat(
            bench(
                "transport",
                "--runs",
                "1",
                "--warmup-mib",
                "8",
                "--measure-mib",
                "16",
                "--engines",
                String.join(",", engines),
                "--child-heap",
                "512m",
                "--out",
                dir.resolve("results").toString(),
                "--work",
                dir.resolve("work").toString()))
        .isZero();
    JsonNode json =
        new ObjectMapper().readTree(dir.resolve("results/transport-quick.json").toFile());
    assertThat(json.at("/runs").size()).isEqualTo(engines.length);
    for (JsonNode run : json.at("/runs")) {
      assertThat(run.at("/blocks").asLong()).as(run.toString()).isEqualTo(4); // 16 MiB of 4 MiB
      assertThat(run.at("/bytes").asLong()).isEqualTo(16L << 20);
      // Both sides' CPU is recorded (it may read 0 on so short a phase: it ticks by 10 ms).
      assertThat(run.at("/receiverCpuSeconds").isNumber()).as("receiver CPU recorded").isTrue();
      assertThat(run.at("/senderCpuSeconds").isNumber()).as("sender CPU recorded").isTrue();
      assertThat(run.at("/seconds").asDouble()).isPositive();
    }
    for (String e : engines) {
      assertThat(json.at("/summary/gbPerSecond/" + e + "/median").asDouble()).as(e).isPositive();
    }
    for (String e : new String[] {"netty", "flight", "hazelcast"}) {
      assertThat(json.at("/summary/ratioToSocket/" + e + "/median").asDouble()).as(e).isPositive();
    }
    assertThat(json.at("/engines/netty").asText()).contains("NettyBlockTransport");
    assertThat(json.at("/target/engine").asText()).isEqualTo("netty");
    assertThat(Files.size(dir.resolve("results/transport-quick.png"))).isPositive();
  }

  @Test
  void loaderVsDataVecWritesResults(@TempDir Path dir) throws Exception {
    String[] cases = {
      "datavec",
      "datavec-parallel",
      "decode-opencv",
      "decode-opencv-float",
      "sluice",
      "sluice-native",
      "sluice-native-ordered"
    };
    assertThat(
            bench(
                "loader-vs-datavec",
                "--runs",
                "1",
                "--images",
                "96",
                "--image-size",
                "32",
                "--shards",
                "2",
                "--warmup-epochs",
                "1",
                "--decode-passes",
                "1",
                "--cases",
                String.join(",", cases),
                "--child-heap",
                "512m",
                "--out",
                dir.resolve("results").toString(),
                "--work",
                dir.resolve("work").toString()))
        .isZero();
    JsonNode json =
        new ObjectMapper().readTree(dir.resolve("results/loader-vs-datavec-quick.json").toFile());
    for (String c : cases) {
      assertThat(json.at("/status/" + c).asText()).as(c).isEqualTo("ok");
      assertThat(json.at("/summary/imagesPerSecond/" + c + "/median").asDouble())
          .as(c)
          .isPositive();
      assertThat(json.at("/summary/imagesPerCpuSecond/" + c + "/median").asDouble())
          .as(c)
          .isPositive();
    }
    for (String c :
        new String[] {
          "datavec", "datavec-parallel", "sluice", "sluice-native", "sluice-native-ordered"
        }) {
      assertThat(json.at("/summary/imagesPerSecondAfterFirstBatch/" + c + "/median").asDouble())
          .as(c)
          .isPositive();
    }
    // one reader per core (--threads defaults to the available processors); every image once is
    // checked by the child
    assertThat(json.at("/config/dataVecParallelReaders").asInt())
        .isEqualTo(Runtime.getRuntime().availableProcessors());
    assertThat(
            json.at("/ratiosOfMedianImagesPerSecond/sluice-native~1decode-opencv-float").isNumber())
        .isTrue();
    for (String pair :
        new String[] {
          "sluice-native~1datavec",
          "sluice-native~1datavec-parallel",
          "datavec-parallel~1datavec",
          "sluice-native-ordered~1sluice-native"
        }) {
      assertThat(json.at("/ratiosWithinRuns/imagesPerCpuSecond/" + pair + "/median").asDouble())
          .as(pair)
          .isPositive();
      assertThat(
              json.at("/ratiosWithinRuns/imagesPerSecondAfterFirstBatch/" + pair + "/median")
                  .asDouble())
          .as(pair)
          .isPositive();
    }
    assertThat(Files.size(dir.resolve("results/loader-vs-datavec-quick.png"))).isPositive();
  }

  @Test
  void scalingWritesResultsAndStopsItsWorkers(@TempDir Path dir) throws Exception {
    int slots = 2;
    int blocksPerSlot = 10;
    double delayMs = 20;
    assertThat(
            bench(
                "scaling",
                "--runs",
                "1",
                "--workers",
                "1,2",
                "--slots",
                Integer.toString(slots),
                "--delay-ms",
                Double.toString(delayMs),
                "--blocks-per-slot",
                Integer.toString(blocksPerSlot),
                "--warmup-blocks-per-slot",
                "2",
                "--idle-seconds",
                "0.5",
                "--budget-mib",
                "16",
                "--worker-heap",
                "192m",
                "--child-heap",
                "384m",
                "--out",
                dir.resolve("results").toString(),
                "--work",
                dir.resolve("work").toString()))
        .isZero();
    JsonNode json = new ObjectMapper().readTree(dir.resolve("results/scaling-quick.json").toFile());
    assertThat(json.at("/runs").size()).isEqualTo(2);
    for (JsonNode run : json.at("/runs")) {
      int n = run.at("/workers").asInt();
      int runSlots = n * slots;
      assertThat(run.at("/slots").asInt()).isEqualTo(runSlots);
      // Every source row once; a fused read cuts one row off each split first: up to a block more
      // per split (one split per slot here).
      assertThat(run.at("/rows").asLong()).isEqualTo((long) runSlots * blocksPerSlot * 64);
      long blocks = run.at("/blocks").asLong();
      assertThat(blocks)
          .isBetween((long) runSlots * blocksPerSlot, (long) runSlots * (blocksPerSlot + 1));
      // Every block slept the delay in one of the slots: the wall time cannot beat the ideal.
      double ideal = blocks * delayMs / 1000 / runSlots;
      assertThat(run.at("/idealWallSeconds").asDouble()).isCloseTo(ideal, within(1e-9));
      assertThat(run.at("/wallSeconds").asDouble())
          .as(run.toString())
          .isGreaterThanOrEqualTo(ideal);
      assertThat(run.at("/slotUtilisation").asDouble()).isBetween(0.0, 1.0);
      assertThat(run.at("/trainerCpuMicrosPerBlock").asDouble()).isPositive();
      assertThat(run.at("/workerCpuMicrosPerBlock").asDouble()).isPositive();
      assertThat(run.at("/trainerCpuMicrosPerBlockByThread/scheduler").isNumber()).isTrue();
      assertThat(run.at("/workerCpuMicrosPerBlockByThread/tasks").isNumber()).isTrue();
      // Recorded (CPU ticks by 10 ms: an idle half second may well read 0).
      assertThat(run.at("/workersIdleCpuMillisPerSecond").isNumber()).isTrue();
      assertThat(run.at("/peakMemoryBytes").asLong()).isPositive().isLessThanOrEqualTo(16L << 20);
      assertThat(run.at("/plan").asText()).contains("ReadRange->Parse->Work->Label");
      // Every worker process the run started is gone.
      assertThat(run.at("/workerPids").size()).isEqualTo(n);
      for (JsonNode pid : run.at("/workerPids")) {
        assertThat(ProcessHandle.of(pid.asLong()).map(ProcessHandle::isAlive).orElse(false))
            .as("worker process %d still runs", pid.asLong())
            .isFalse();
      }
    }
    // One worker is its own reference; two are compared with it (sane, not a target here).
    assertThat(json.at("/summary/efficiency/1 worker/median").asDouble()).isEqualTo(1.0);
    assertThat(json.at("/summary/efficiency/2 workers/median").asDouble()).isBetween(0.2, 1.5);
    assertThat(json.at("/summary/blocksPerSecond/2 workers/median").asDouble()).isPositive();
    assertThat(json.at("/definitions/slotMicrosLostPerBlock").asText()).contains("slots");
    assertThat(json.at("/target/met").isNull()).isTrue(); // not measured at 8 workers
    assertThat(json.at("/command").asText())
        .contains("scaling --size quick --runs 1 --workers 1,2");
    assertThat(Files.size(dir.resolve("results/scaling-quick.png"))).isPositive();
  }

  @Test
  void localityMeasuresBytesMovedWithRoutingOnAndOff(@TempDir Path dir) throws Exception {
    int rows = 400;
    int rowKib = 8;
    assertThat(
            bench(
                "locality",
                "--runs",
                "1",
                "--rows",
                Integer.toString(rows),
                "--row-kib",
                Integer.toString(rowKib),
                "--splits",
                "8",
                "--block-rows",
                "20",
                "--budget-mib",
                "16",
                "--child-heap",
                "384m",
                "--out",
                dir.resolve("results").toString(),
                "--work",
                dir.resolve("work").toString()))
        .isZero();
    JsonNode json =
        new ObjectMapper().readTree(dir.resolve("results/locality-quick.json").toFile());
    assertThat(json.at("/runs").size()).isEqualTo(2);
    java.util.Set<String> modes = new java.util.HashSet<>();
    for (JsonNode run : json.at("/runs")) {
      modes.add(run.at("/mode").asText());
      assertThat(run.at("/rows").asLong()).isEqualTo(rows);
      long consumed = run.at("/consumedBytes").asLong();
      assertThat(consumed).isEqualTo((long) rows * rowKib * 1024);
      long moved = run.at("/movedBytes").asLong();
      long local = run.at("/localBytes").asLong();
      // Every decoded row reached the trainer through a transport: from its own host or not.
      assertThat(moved + local).as(run.toString()).isGreaterThanOrEqualTo(consumed);
      long toTrainer = run.at("/toTrainerMovedBytes").asLong();
      assertThat(toTrainer).isLessThanOrEqualTo(moved);
      assertThat(run.at("/betweenWorkersMovedBytes").asLong()).isEqualTo(moved - toTrainer);
      assertThat(run.at("/movedShare").asDouble())
          .isCloseTo(moved / (double) consumed, within(1e-9));
      assertThat(run.at("/workerPeakBytes").size()).isEqualTo(2);
      for (JsonNode peak : run.at("/workerPeakBytes")) {
        assertThat(peak.asLong()).isPositive().isLessThanOrEqualTo(16L << 20);
      }
    }
    assertThat(modes).containsExactlyInAnyOrder("on", "off");
    assertThat(json.at("/ratios").size()).isEqualTo(2);
    assertThat(json.at("/command").asText()).contains("locality --size quick --runs 1");
    assertThat(Files.size(dir.resolve("results/locality-quick.png"))).isPositive();
  }

  @Test
  void failoverLosesNoRowWhenAWorkerIsKilledOrStoppedAndTakesAWorkerThatJoins(@TempDir Path dir)
      throws Exception {
    assertThat(
            bench(
                "failover",
                "--runs",
                "1",
                "--blocks",
                "80",
                "--block-rows",
                "50",
                "--splits",
                "12",
                "--delay-ms",
                "40",
                "--no-detection",
                "--child-heap",
                "384m",
                "--out",
                dir.resolve("results").toString(),
                "--work",
                dir.resolve("work").toString()))
        .isZero();
    JsonNode json =
        new ObjectMapper().readTree(dir.resolve("results/failover-quick.json").toFile());
    assertThat(json.at("/runs").size()).isEqualTo(4);
    java.util.Map<String, JsonNode> byMode = new java.util.HashMap<>();
    for (JsonNode run : json.at("/runs")) {
      byMode.put(run.at("/mode").asText(), run);
      assertThat(run.at("/rows").asLong()).isEqualTo(80 * 50);
      assertThat(run.at("/exactlyOnce").asBoolean()).as(run.toString()).isTrue();
    }
    assertThat(byMode).containsOnlyKeys("none", "kill", "join", "leave");
    // The worker stopped with SIGTERM handed its work over: nothing was made again.
    JsonNode leave = byMode.get("leave");
    assertThat(leave.at("/detectMs").asDouble()).isPositive();
    assertThat(leave.at("/blocksRemade").asInt()).as(leave.toString()).isZero();
    JsonNode kill = byMode.get("kill");
    // The loss is heard before the first split is given out again.
    assertThat(kill.at("/detectMs").asDouble()).isPositive();
    assertThat(kill.at("/reissueMs").asDouble())
        .isGreaterThanOrEqualTo(kill.at("/detectMs").asDouble());
    assertThat(kill.at("/splitsReissued").asInt()).isPositive();
    // The joining worker's JVM may start after so short an epoch: its rows came once either way.
    assertThat(json.at("/recovery/killToLostMs/n").asInt()).isEqualTo(1);
    assertThat(json.at("/detection").size()).isZero();
    assertThat(json.at("/command").asText()).contains("failover --size quick --runs 1");
    assertThat(Files.size(dir.resolve("results/failover-quick.png"))).isPositive();
  }

  @Test
  void videoWritesResults(@TempDir Path dir) throws Exception {
    // 3 videos x 100 frames of 48x48: 2.0 MiB decoded against a 512 KiB budget.
    assertThat(
            bench(
                "video",
                "--runs",
                "1",
                "--videos",
                "3",
                "--frames",
                "100",
                "--video-size",
                "64x48",
                "--frame-size",
                "48",
                "--budget",
                "512k",
                "--batch-size",
                "16",
                "--decode-cpus",
                "1",
                "--child-heap",
                "384m",
                "--out",
                dir.resolve("results").toString(),
                "--work",
                dir.resolve("work").toString()))
        .isZero();
    JsonNode json = new ObjectMapper().readTree(dir.resolve("results/video-quick.json").toFile());
    assertThat(json.at("/runs").size()).isEqualTo(2);
    for (JsonNode run : json.at("/runs")) {
      assertThat(run.at("/rows").asLong()).isEqualTo(300);
      assertThat(run.at("/firstOutputSeconds").asDouble())
          .isPositive()
          .isLessThanOrEqualTo(run.at("/wallSeconds").asDouble());
      assertThat(run.at("/peakRssBytes").asLong()).isPositive();
    }
    // Bulk holds every decoded frame (300 x 6.75 KiB); streaming stays within its budget.
    assertThat(json.at("/summary/peakMemoryMiB/bulk/median").asDouble() * (1 << 20))
        .isGreaterThanOrEqualTo(300 * 48 * 48 * 3);
    assertThat(json.at("/summary/peakMemoryMiB/streaming/median").asDouble() * (1 << 20))
        .isLessThanOrEqualTo(512 * 1024);
    assertThat(json.at("/decodeRuns").size()).isEqualTo(1);
    assertThat(json.at("/decodeRuns/0/frames").asLong()).isEqualTo(300);
    assertThat(json.at("/decoding/sluiceOverFfmpegPerCpuSecond/median").asDouble()).isPositive();
    assertThat(json.at("/decoding/sluiceOneCoreOverFfmpegPerCpuSecond/median").asDouble())
        .isPositive();
    // The ratio is the medians' quotient, as RESULTS reads it.
    assertThat(json.at("/ratiosStreamingOverBulk/wallSeconds").asDouble())
        .isCloseTo(
            json.at("/summary/wallSeconds/streaming/median").asDouble()
                / json.at("/summary/wallSeconds/bulk/median").asDouble(),
            within(1e-9));
    assertThat(Files.size(dir.resolve("results/video-quick.png"))).isPositive();
  }
}
