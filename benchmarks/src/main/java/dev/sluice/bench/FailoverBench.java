package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.cluster.ClusterConfig;
import dev.sluice.cluster.ClusterListener;
import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.cluster.exec.LocalWorkers;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionEvent;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.source.RangeSource;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Scenario {@code failover} (the benchmark of the cluster's failures): one epoch with no failure,
 * one with a worker killed (SIGKILL) at half of it, one with a worker joining at half of it, one
 * with a worker stopped (SIGTERM: it hands its work over, then leaves) at half of it; and how long
 * the cluster takes to notice a worker gone, killed or frozen, with Sluice's test settings and with
 * Hazelcast's defaults.
 *
 * <p>Each run is a child JVM of this one: the trainer, with three worker processes ({@link
 * LocalWorkers}, one CPU slot per core of simulated work each) running {@link ScalingPipeline} (a
 * fixed sleep per block: the work holds a slot, not a core, so that three workers fit two cores).
 * The epochs run in the same order every run, on the same workers: {@code none} (three workers),
 * {@code kill} (three, one killed once half the rows are taken), {@code join} (the two left, a
 * third started once half the rows are taken), {@code leave} (those three, one stopped once half
 * the rows are taken). Per epoch: the wall time, the trainer's stall (the share of the epoch its
 * {@code next()} waited), whether every row came exactly once; for {@code kill}, the time from the
 * SIGKILL to the node declared lost, to the first split re-issued and to the first lost block made
 * again (the execution's {@linkplain DatasetStats#events() events}); for {@code join}, from
 * starting the process to the execution taking work on it; for {@code leave}, from the SIGTERM to
 * the execution hearing of it, to the first split re-issued and to the worker let go, and the
 * blocks made again (none when the hand-over works).
 *
 * <p>Detection: a small cluster of two workers and a trainer, all with one heartbeat setting; one
 * worker is killed (SIGKILL: its connections are refused at once) or frozen (SIGSTOP: it stays
 * connected and silent, like a host cut off), and the time to the trainer's "worker lost" is
 * measured, with Sluice's test settings (heartbeat 1 s, at most 5 s silent) and Hazelcast's
 * defaults (5 s, 60 s).
 */
@Command(
    name = "failover",
    mixinStandardHelpOptions = true,
    description =
        "Epoch time and trainer stall with no failure, a worker killed at 50%%, a worker"
            + " joining at 50%% and a worker stopped (SIGTERM) at 50%%; failure detection times.")
final class FailoverBench implements Callable<Integer> {
  static final String NAME = "failover";

  @Mixin CommonOptions common = new CommonOptions();

  @Option(names = "--blocks", description = "Blocks per epoch. Default: 600 (quick), 1800 (full)")
  Integer blocks;

  @Option(names = "--block-rows", description = "Rows per block. Default: ${DEFAULT-VALUE}")
  int blockRows = 100;

  @Option(names = "--splits", description = "Splits. Default: ${DEFAULT-VALUE}")
  int splits = 24;

  @Option(
      names = "--delay-ms",
      description = "Simulated work per block, in ms. Default: ${DEFAULT-VALUE}")
  long delayMs = 40;

  @Option(names = "--slots", description = "CPU slots per worker. Default: ${DEFAULT-VALUE}")
  int slots = 2;

  @Option(
      names = "--no-detection",
      description = "Skip the detection measurements (SIGSTOP with the defaults takes a minute)")
  boolean noDetection;

  @Option(names = "--child", hidden = true, description = "Run one measurement in this JVM.")
  boolean child;

  private static final long BUDGET = 64L << 20;
  private static final Duration JOIN = Duration.ofSeconds(120);

  /**
   * One epoch of one run.
   *
   * @param mode {@code none}, {@code kill} or {@code join}
   * @param run the run's number (from 1)
   * @param rows rows taken
   * @param exactlyOnce whether every row came exactly once
   * @param wallSeconds the epoch's wall time
   * @param stallShare the share of the epoch the trainer waited in {@code next()}
   * @param detectMs kill: SIGKILL to the node declared lost; leave: SIGTERM to the execution
   *     hearing that the worker leaves (else -1)
   * @param reissueMs kill, leave: the signal to the first split re-issued (else -1)
   * @param remakeMs kill, leave: the signal to the first lost block made again (-1: none was)
   * @param joinMs join: the process started to the execution taking work on it (-1: not within the
   *     epoch, or not the join epoch)
   * @param splitsReissued kill, leave: splits re-issued
   * @param blocksRemade kill, leave: blocks made again
   * @param letGoMs leave: SIGTERM to the execution letting the worker go, its work handed over
   *     (else -1; -1 too when it was lost instead)
   */
  record Run(
      String mode,
      int run,
      long rows,
      boolean exactlyOnce,
      double wallSeconds,
      double stallShare,
      double detectMs,
      double reissueMs,
      double remakeMs,
      double joinMs,
      int splitsReissued,
      int blocksRemade,
      double letGoMs) {}

  /**
   * One failure detection measurement.
   *
   * @param settings {@code sluice-test} or {@code hazelcast-default}
   * @param signal {@code KILL} or {@code STOP}
   * @param heartbeatSeconds the heartbeat interval
   * @param maxNoHeartbeatSeconds how long a member may be silent
   * @param detectMs signal to the trainer's "worker lost"
   */
  record Detection(
      String settings,
      String signal,
      long heartbeatSeconds,
      long maxNoHeartbeatSeconds,
      int run,
      double detectMs) {}

  /** What one child measured. */
  record ChildResult(List<Run> runs, List<Detection> detections) {}

  @Override
  public Integer call() throws Exception {
    return child ? runChild() : runParent();
  }

  private int blocks() {
    return blocks != null ? blocks : common.size == BenchSize.QUICK ? 600 : 1800;
  }

  private long rows() {
    return (long) blocks() * blockRows;
  }

  // --- the child: a trainer and its workers

  private int runChild() throws Exception {
    String cluster = "sluice-bench-failover-" + ProcessHandle.current().pid();
    List<Run> runs = new ArrayList<>();
    List<Detection> detections = new ArrayList<>();
    ExecutorService starter =
        Executors.newSingleThreadExecutor(r -> new Thread(r, "failover-bench-worker-starter"));
    try (LocalWorkers workers =
        LocalWorkers.start(
            3,
            new LocalWorkers.Settings(
                cluster, slots, BUDGET, "512m", Duration.ofSeconds(1), Duration.ofSeconds(5)),
            JOIN)) {
      ClusterConfig config =
          ClusterConfig.trainer()
              .clusterName(cluster)
              .members(workers.addresses())
              .bindAddress("127.0.0.1")
              .port(0)
              .heartbeatInterval(Duration.ofSeconds(1))
              .maxNoHeartbeat(Duration.ofSeconds(5))
              .build();
      ExecutionOptions options =
          ExecutionOptions.defaults()
              .withMemoryBudget(BUDGET)
              .withTargetBlockRows(blockRows)
              .withProgress(ExecutionOptions.Progress.OFF);
      try (ClusterTrainer trainer = ClusterTrainer.start(config);
          Sluice sluice = Sluice.builder().runtime(trainer.runtime()).options(options).build()) {
        trainer.awaitWorkers(3, JOIN);
        epoch(sluice, rows() / 4, null); // warm-up: the JIT of four fresh JVMs
        runs.add(measure("none", sluice, null));
        runs.add(
            measure(
                "kill",
                sluice,
                () -> {
                  long pid = workers.kill(1);
                  System.out.println("killed worker 2 (pid " + pid + ")");
                  return null;
                }));
        List<Future<String>> joining = new ArrayList<>();
        runs.add(
            measure(
                "join",
                sluice,
                () -> {
                  joining.add(starter.submit(() -> workers.add(JOIN)));
                  return null;
                }));
        joining.get(0).get(JOIN.toSeconds(), TimeUnit.SECONDS);
        List<CompletableFuture<Process>> stopping = new ArrayList<>();
        runs.add(
            measure(
                "leave",
                sluice,
                () -> {
                  stopping.add(workers.stop(2));
                  System.out.println("SIGTERM to worker 3");
                  return null;
                }));
        Process left = stopping.get(0).get(JOIN.toSeconds(), TimeUnit.SECONDS);
        System.out.println("worker 3 exited with " + left.exitValue());
      }
    } finally {
      starter.shutdownNow();
      starter.awaitTermination(60, TimeUnit.SECONDS);
    }
    if (!noDetection) {
      for (String signal : List.of("KILL", "STOP")) {
        detections.add(detect(cluster + "-t", "sluice-test", 1, 5, signal));
        detections.add(detect(cluster + "-d", "hazelcast-default", 5, 60, signal));
      }
    }
    ChildJvm.emit(new ChildResult(runs, detections));
    return 0;
  }

  /** An epoch, with {@code atHalf} run once half the rows are taken; its figures. */
  private Run measure(String mode, Sluice sluice, Callable<Void> atHalf) throws Exception {
    Epoch e = epoch(sluice, rows(), atHalf);
    DatasetStats s = e.stats();
    double detect = -1;
    double reissue = -1;
    double remake = -1;
    double join = -1;
    double letGo = -1;
    boolean leave = mode.equals("leave");
    if (e.actedAt() != null) {
      detect =
          after(
              e.actedAt(),
              s,
              leave ? ExecutionEvent.Kind.NODE_LEAVING : ExecutionEvent.Kind.NODE_LOST);
      letGo = after(e.actedAt(), s, ExecutionEvent.Kind.NODE_LEFT);
      reissue = after(e.actedAt(), s, ExecutionEvent.Kind.SPLIT_REISSUED);
      remake = after(e.actedAt(), s, ExecutionEvent.Kind.BLOCK_REMADE);
      join = after(e.actedAt(), s, ExecutionEvent.Kind.NODE_JOINED);
    }
    boolean kill = mode.equals("kill");
    boolean joining = mode.equals("join");
    Run r =
        new Run(
            mode,
            0,
            e.rows(),
            e.exactlyOnce(),
            s.wallNanos() / 1e9,
            s.wallNanos() > 0 ? s.consumerWaitNanos() / (double) s.wallNanos() : 0,
            kill || leave ? detect : -1,
            kill || leave ? reissue : -1,
            kill || leave ? remake : -1,
            joining ? join : -1,
            s.events(ExecutionEvent.Kind.SPLIT_REISSUED).size(),
            s.events(ExecutionEvent.Kind.BLOCK_REMADE).size(),
            leave ? letGo : -1);
    System.out.println(mode + ": " + r);
    System.out.println(s.format());
    if (!r.exactlyOnce() || r.rows() != rows()) {
      throw new IllegalStateException(mode + ": rows not delivered exactly once: " + r);
    }
    if ((kill || leave) && detect < 0) {
      throw new IllegalStateException(mode + ": the execution did not see it: " + s.events());
    }
    if (joining && join < 0) {
      System.out.println(
          "join: the worker started at half the epoch joined after its end (a JVM starts in"
              + " seconds): a longer epoch (--blocks) measures it");
    }
    return r;
  }

  /** Milliseconds from {@code t} to the first event of {@code kind}, or -1. */
  private static double after(Instant t, DatasetStats s, ExecutionEvent.Kind kind) {
    List<ExecutionEvent> events = s.events(kind);
    if (events.isEmpty()) {
      return -1;
    }
    return Duration.between(t, events.get(0).at()).toNanos() / 1e6;
  }

  private record Epoch(long rows, boolean exactlyOnce, DatasetStats stats, Instant actedAt) {}

  private Epoch epoch(Sluice sluice, long n, Callable<Void> atHalf) throws Exception {
    BitSet seen = new BitSet();
    boolean once = true;
    long count = 0;
    Instant actedAt = null;
    DatasetStats stats;
    try (BatchIterator it =
        sluice
            .pipeline(ScalingPipeline.class, ScalingPipeline.parameters(n, splits, delayMs * 1000))
            .iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          for (int i = 0; i < b.rowCount(); i++) {
            int id = (int) b.getLong(RangeSource.COLUMN, i);
            once &= !seen.get(id);
            seen.set(id);
          }
          count += b.rowCount();
        }
        if (atHalf != null && actedAt == null && count >= n / 2) {
          actedAt = Instant.now();
          atHalf.call();
        }
      }
      stats = it.stats();
    }
    return new Epoch(count, once && seen.cardinality() == n, stats, actedAt);
  }

  /**
   * A cluster of two workers and a trainer with one heartbeat setting; worker 2 killed or frozen;
   * the time to the trainer's "worker lost".
   */
  private Detection detect(
      String cluster, String name, long heartbeat, long maxSilence, String signal)
      throws Exception {
    Duration hb = Duration.ofSeconds(heartbeat);
    Duration silence = Duration.ofSeconds(maxSilence);
    try (LocalWorkers workers =
        LocalWorkers.start(
            2, new LocalWorkers.Settings(cluster, 1, BUDGET, "256m", hb, silence), JOIN)) {
      ClusterConfig config =
          ClusterConfig.trainer()
              .clusterName(cluster)
              .members(workers.addresses())
              .bindAddress("127.0.0.1")
              .port(0)
              .heartbeatInterval(hb)
              .maxNoHeartbeat(silence)
              .build();
      try (ClusterTrainer trainer = ClusterTrainer.start(config)) {
        List<Node> nodes = trainer.awaitWorkers(2, JOIN);
        CompletableFuture<Node> lost = new CompletableFuture<>();
        Runnable stop =
            trainer
                .member()
                .addListener(
                    new ClusterListener() {
                      @Override
                      public void workerLost(Node worker) {
                        lost.complete(worker);
                      }
                    });
        long pid = workers.pids().get(1);
        long t0 = System.nanoTime();
        if (signal.equals("KILL")) {
          workers.kill(1);
        } else {
          signal("STOP", pid);
        }
        Node gone = lost.get(maxSilence * 3 + 30, TimeUnit.SECONDS);
        double ms = (System.nanoTime() - t0) / 1e6;
        stop.run();
        if (signal.equals("STOP")) {
          workers.kill(1); // SIGKILL works on a stopped process
        }
        Detection d = new Detection(name, signal, heartbeat, maxSilence, 0, ms);
        System.out.println(
            "detection: " + d + " (lost " + gone.id() + ", of " + nodes.size() + " workers)");
        return d;
      }
    }
  }

  private static void signal(String name, long pid) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
    if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("kill -" + name + " " + pid + " failed");
    }
  }

  // --- the parent

  private int runParent() throws Exception {
    System.out.printf(
        Locale.ROOT,
        "%s: %d blocks of %d rows, %d ms of work each, 3 workers of %d slots; %d runs%n",
        NAME,
        blocks(),
        blockRows,
        delayMs,
        slots,
        common.runs());
    ChildJvm jvm = new ChildJvm(common.childHeap, Duration.ofMinutes(30));
    ObjectMapper json = new ObjectMapper();
    List<Run> runs = new ArrayList<>();
    List<Detection> detections = new ArrayList<>();
    for (int r = 1; r <= common.runs(); r++) {
      List<String> args =
          new ArrayList<>(
              List.of(
                  NAME,
                  "--child",
                  "--size",
                  common.size.name(),
                  "--blocks",
                  Integer.toString(blocks()),
                  "--block-rows",
                  Integer.toString(blockRows),
                  "--splits",
                  Integer.toString(splits),
                  "--delay-ms",
                  Long.toString(delayMs),
                  "--slots",
                  Integer.toString(slots)));
      if (noDetection) {
        args.add("--no-detection");
      }
      Path log =
          common
              .work
              .resolve("logs")
              .resolve(String.format(Locale.ROOT, "%s-%s-run%d.log", NAME, common.size.label(), r));
      JsonNode node = jvm.run(args, log);
      ChildResult result = json.treeToValue(node, ChildResult.class);
      for (Run x : result.runs()) {
        Run run =
            new Run(
                x.mode(),
                r,
                x.rows(),
                x.exactlyOnce(),
                x.wallSeconds(),
                x.stallShare(),
                x.detectMs(),
                x.reissueMs(),
                x.remakeMs(),
                x.joinMs(),
                x.splitsReissued(),
                x.blocksRemade(),
                x.letGoMs());
        runs.add(run);
        System.out.printf(
            Locale.ROOT,
            "  run %d %-5s %6.2f s, stall %4.1f%%, exactly once %s%s%n",
            r,
            run.mode(),
            run.wallSeconds(),
            100 * run.stallShare(),
            run.exactlyOnce(),
            run.mode().equals("kill")
                ? String.format(
                    Locale.ROOT,
                    "; kill to lost %.0f ms, to first split re-issued %.0f ms, to first block"
                        + " made again %.0f ms (%d splits, %d blocks)",
                    run.detectMs(),
                    run.reissueMs(),
                    run.remakeMs(),
                    run.splitsReissued(),
                    run.blocksRemade())
                : run.mode().equals("join")
                    ? String.format(
                        Locale.ROOT, "; process start to taking work %.0f ms", run.joinMs())
                    : run.mode().equals("leave")
                        ? String.format(
                            Locale.ROOT,
                            "; SIGTERM to heard %.0f ms, to first split re-issued %.0f ms, to let"
                                + " go %.0f ms (%d splits, %d blocks made again)",
                            run.detectMs(),
                            run.reissueMs(),
                            run.letGoMs(),
                            run.splitsReissued(),
                            run.blocksRemade())
                        : "");
      }
      for (Detection d : result.detections()) {
        Detection x =
            new Detection(
                d.settings(),
                d.signal(),
                d.heartbeatSeconds(),
                d.maxNoHeartbeatSeconds(),
                r,
                d.detectMs());
        detections.add(x);
        System.out.printf(
            Locale.ROOT,
            "  run %d detection %-17s SIG%-4s %7.0f ms%n",
            r,
            x.settings(),
            x.signal(),
            x.detectMs());
      }
    }
    List<String> modes = List.of("none", "kill", "join", "leave");
    Map<String, Map<String, Summary>> summaries = new LinkedHashMap<>();
    metric(summaries, runs, modes, "wallSeconds", Run::wallSeconds);
    metric(summaries, runs, modes, "stallShare", Run::stallShare);
    Map<String, Summary> recovery = new LinkedHashMap<>();
    List<Run> kills = runs.stream().filter(x -> x.mode().equals("kill")).toList();
    recovery.put("killToLostMs", Summary.of(kills.stream().map(Run::detectMs).toList()));
    recovery.put(
        "killToFirstSplitReissuedMs", Summary.of(kills.stream().map(Run::reissueMs).toList()));
    List<Double> remakes = kills.stream().map(Run::remakeMs).filter(v -> v >= 0).toList();
    if (!remakes.isEmpty()) {
      recovery.put("killToFirstBlockRemadeMs", Summary.of(remakes));
    }
    List<Double> joins =
        runs.stream()
            .filter(x -> x.mode().equals("join"))
            .map(Run::joinMs)
            .filter(v -> v >= 0)
            .toList();
    if (!joins.isEmpty()) {
      recovery.put("joinStartToTakingWorkMs", Summary.of(joins));
    }
    List<Run> leaves = runs.stream().filter(x -> x.mode().equals("leave")).toList();
    recovery.put("termToLeavingHeardMs", Summary.of(leaves.stream().map(Run::detectMs).toList()));
    List<Double> letGo = leaves.stream().map(Run::letGoMs).filter(v -> v >= 0).toList();
    if (!letGo.isEmpty()) {
      recovery.put("termToLetGoMs", Summary.of(letGo));
    }
    recovery.put(
        "leaveBlocksRemade",
        Summary.of(leaves.stream().map(x -> (double) x.blocksRemade()).toList()));
    Map<String, Summary> detection = new LinkedHashMap<>();
    for (Detection d : detections) {
      String key = d.settings() + " SIG" + d.signal();
      if (!detection.containsKey(key)) {
        detection.put(
            key,
            Summary.of(
                detections.stream()
                    .filter(x -> x.settings().equals(d.settings()) && x.signal().equals(d.signal()))
                    .map(Detection::detectMs)
                    .toList()));
      }
    }
    Map<String, Double> ratios = new LinkedHashMap<>();
    ratios.put(
        "epoch time, kill / none (medians)",
        summaries
            .get("wallSeconds")
            .get("kill")
            .medianRatio(summaries.get("wallSeconds").get("none")));
    ratios.put(
        "epoch time, join / none (medians)",
        summaries
            .get("wallSeconds")
            .get("join")
            .medianRatio(summaries.get("wallSeconds").get("none")));
    ratios.put(
        "epoch time, leave / none (medians)",
        summaries
            .get("wallSeconds")
            .get("leave")
            .medianRatio(summaries.get("wallSeconds").get("none")));
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("blocks", blocks());
    config.put("blockRows", blockRows);
    config.put("splits", splits);
    config.put("delayMsPerBlock", delayMs);
    config.put("slotsPerWorker", slots);
    config.put("budgetBytes", BUDGET);
    config.put(
        "epochs",
        "none: 3 workers; kill: 3 workers, one SIGKILLed at 50% of the rows; join: the 2 left, a"
            + " third started at 50%; leave: those 3, one stopped with SIGTERM at 50% (it hands its"
            + " work over, then leaves)");
    config.put("heartbeat", "epochs: 1 s, at most 5 s silent (Sluice's test settings)");
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("scenario", NAME);
    result.put("size", common.size.label());
    result.put(
        "machine", MachineInfo.collect(StreamingVsBulk.parseHeap(common.childHeap), jvm.jvmArgs()));
    result.put("config", config);
    result.put("summary", summaries);
    result.put("recovery", recovery);
    result.put("detection", detection);
    result.put("ratios", ratios);
    result.put(
        "command",
        String.format(
            Locale.ROOT,
            "./mvnw -B -q -pl benchmarks exec:exec -Dbench.args=\"%s --size %s --runs %d --blocks"
                + " %d --block-rows %d --splits %d --delay-ms %d --slots %d%s\"",
            NAME,
            common.size.label(),
            common.runs(),
            blocks(),
            blockRows,
            splits,
            delayMs,
            slots,
            noDetection ? " --no-detection" : ""));
    result.put("runs", runs);
    result.put("detections", detections);
    Path jsonFile = common.out.resolve(NAME + "-" + common.size.label() + ".json");
    ResultFile.write(jsonFile, result);
    Path png = common.out.resolve(NAME + "-" + common.size.label() + ".png");
    Charts.writeGrid(
        png,
        String.format(
            Locale.ROOT,
            "Failover: %d blocks, 3 workers; none / worker killed at 50%% / worker joining at 50%%"
                + " (%s)",
            blocks(),
            common.size.label()),
        List.of(
            new Charts.Panel("Epoch time", "s", summaries.get("wallSeconds")),
            new Charts.Panel("Trainer stall", "share", summaries.get("stallShare"))),
        2);
    System.out.println();
    for (var e : summaries.entrySet()) {
      System.out.println(e.getKey() + ": " + e.getValue());
    }
    System.out.println("recovery: " + recovery);
    System.out.println("detection: " + detection);
    System.out.println(ratios);
    System.out.println("Wrote " + jsonFile + " and " + png);
    return 0;
  }

  private static void metric(
      Map<String, Map<String, Summary>> out,
      List<Run> runs,
      List<String> modes,
      String name,
      ToDoubleFunction<Run> f) {
    out.put(name, Summary.byGroup(runs, modes, Run::mode, f));
  }
}
