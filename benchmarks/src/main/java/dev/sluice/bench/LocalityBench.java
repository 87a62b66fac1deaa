package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.cluster.ClusterConfig;
import dev.sluice.cluster.MemberStats;
import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.cluster.exec.LocalWorkers;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Scenario {@code locality} (benchmark 3 of the cluster): the bytes a pipeline moves between hosts
 * with locality routing on and off, on the same three members. A trainer (a child JVM of this one,
 * on 127.0.0.2 labelled {@code worker-1}) and two worker processes ({@link LocalWorkers}: {@code
 * worker-1} on 127.0.0.2 and {@code worker-2} on 127.0.0.3, two CPUs each) run {@link
 * LocalityPipeline}: a source whose splits are held alternately on the two hosts, a decode that
 * expands each row to {@code --row-kib} KiB, and an actor pool of two actors. So half the data is
 * made on the trainer's host and half on the other: at best, with every split read on its host,
 * decoded where it was read, handed to the actor beside it and only then sent on, half the decoded
 * bytes cross between hosts (the other host's, to the trainer). Off, placement ignores where data
 * is ({@code ExecutionOptions.withLocality(false)}): splits are read wherever there is room, tasks
 * and actors take blocks from the other worker.
 *
 * <p>Measured from the members' transport counters ({@code ClusterTrainer.memberStats}, before and
 * after each execution): bytes sent to a member of another host (moved) and of the same host
 * (local), summed over the three members, against the decoded bytes the trainer consumed; and the
 * execution's wall time. Each run is a fresh child with fresh workers, which runs a small warm-up
 * execution, then both modes, in an order alternated from run to run.
 */
@Command(
    name = "locality",
    mixinStandardHelpOptions = true,
    description =
        "Bytes moved between hosts with locality routing on and off: a trainer and two worker"
            + " processes on two loopback hosts.")
final class LocalityBench implements Callable<Integer> {
  static final String NAME = "locality";

  @Mixin CommonOptions common = new CommonOptions();

  @Option(names = "--rows", description = "Rows. Default: 2000 (quick), 8000 (full)")
  Long rows;

  @Option(names = "--row-kib", description = "Decoded KiB per row. Default: ${DEFAULT-VALUE}")
  int rowKib = 32;

  @Option(names = "--splits", description = "Splits of the source. Default: ${DEFAULT-VALUE}")
  int splits = 16;

  @Option(names = "--block-rows", description = "Rows per block. Default: ${DEFAULT-VALUE}")
  int blockRows = 32;

  @Option(
      names = "--budget-mib",
      description = "Memory budget of the execution and of each worker. Default: ${DEFAULT-VALUE}")
  long budgetMiB = 64;

  @Option(names = "--child", hidden = true, description = "Run one measurement in this JVM.")
  boolean child;

  @Option(names = "--on-first", hidden = true, description = "Measure locality on first.")
  boolean onFirst;

  /**
   * One mode of one run.
   *
   * @param mode {@code on} or {@code off}
   * @param run the run's number (from 1)
   * @param order 1 when measured first in its run, 2 second
   * @param rows rows consumed
   * @param consumedBytes decoded payload bytes the trainer consumed (rows x row bytes)
   * @param movedBytes bytes sent between members of different hosts, all members
   * @param localBytes bytes sent between members of the same host, all members
   * @param toTrainerMovedBytes of {@code movedBytes}, those the trainer received from the other
   *     host (at least the decoded bytes made there: unavoidable once made there)
   * @param betweenWorkersMovedBytes of {@code movedBytes}, the rest: blocks moved from one worker
   *     to the other for a task or an actor (what locality routing avoids)
   * @param movedShare movedBytes / consumedBytes (0.5 is the least this layout allows)
   * @param wallSeconds the execution's wall time
   * @param peakMemoryBytes the execution's allocator peak (the trainer's view of all workers)
   * @param workerPeakBytes each worker's own allocator peak since it started (both modes)
   */
  record Run(
      String mode,
      int run,
      int order,
      long rows,
      long consumedBytes,
      long movedBytes,
      long localBytes,
      long toTrainerMovedBytes,
      long betweenWorkersMovedBytes,
      double movedShare,
      double wallSeconds,
      long peakMemoryBytes,
      List<Long> workerPeakBytes) {}

  /** What one child measured: both modes. */
  record ChildResult(List<Run> runs) {}

  @Override
  public Integer call() throws Exception {
    return child ? runChild() : runParent();
  }

  private long rows() {
    return rows != null ? rows : common.size == BenchSize.QUICK ? 2_000 : 8_000;
  }

  private long budget() {
    return budgetMiB << 20;
  }

  private Map<String, String> parameters(long n) {
    return Map.of(
        "rows",
        Long.toString(n),
        "splits",
        Integer.toString(splits),
        "bytes",
        Integer.toString(rowKib << 10),
        "hosts",
        "worker-1,worker-2");
  }

  // --- the child: a trainer and two workers

  private int runChild() throws Exception {
    String cluster = "sluice-bench-locality-" + ProcessHandle.current().pid();
    List<Run> out = new ArrayList<>();
    try (LocalWorkers local =
        LocalWorkers.start(2, cluster, 2, budget(), "512m", Duration.ofSeconds(120))) {
      ClusterConfig config =
          ClusterConfig.trainer()
              .clusterName(cluster)
              .members(local.addresses())
              .bindAddress("127.0.0.2")
              .hostLabel("worker-1")
              .port(0)
              .build();
      ExecutionOptions options =
          ExecutionOptions.defaults()
              .withMemoryBudget(budget())
              .withTargetBlockRows(blockRows)
              .withProgress(ExecutionOptions.Progress.OFF);
      try (ClusterTrainer trainer = ClusterTrainer.start(config);
          Sluice sluice = Sluice.builder().runtime(trainer.runtime()).options(options).build()) {
        trainer.awaitWorkers(2, Duration.ofSeconds(60));
        // Warm-up: the JIT of three fresh JVMs.
        consume(trainer, sluice, options, true, rows() / 4);
        List<Boolean> order = onFirst ? List.of(true, false) : List.of(false, true);
        for (int i = 0; i < order.size(); i++) {
          Measured m = consume(trainer, sluice, options, order.get(i), rows());
          long consumed = m.rows() * ((long) rowKib << 10);
          out.add(
              new Run(
                  order.get(i) ? "on" : "off",
                  0,
                  i + 1,
                  m.rows(),
                  consumed,
                  m.moved(),
                  m.local(),
                  m.toTrainer(),
                  m.moved() - m.toTrainer(),
                  m.moved() / (double) consumed,
                  m.wallNanos() / 1e9,
                  m.peak(),
                  m.workerPeaks()));
          if (m.rows() != rows()) {
            throw new IllegalStateException("consumed " + m.rows() + " rows of " + rows());
          }
        }
      }
    }
    ChildJvm.emit(new ChildResult(out));
    return 0;
  }

  private record Measured(
      long rows,
      long moved,
      long local,
      long toTrainer,
      long wallNanos,
      long peak,
      List<Long> workerPeaks) {}

  private Measured consume(
      ClusterTrainer trainer, Sluice sluice, ExecutionOptions options, boolean on, long n)
      throws Exception {
    Dataset ds =
        sluice
            .pipeline(LocalityPipeline.class, parameters(n))
            .withOptions(options.withLocality(on));
    List<MemberStats> first = trainer.memberStats(sluice, Duration.ofSeconds(30));
    long[] before = traffic(first);
    long trainerBefore = movedIn(first.get(0));
    long t0 = System.nanoTime();
    long count = 0;
    long peak;
    try (BatchIterator it = ds.iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          count += b.rowCount();
        }
      }
      peak = it.peakMemory();
    }
    long wall = System.nanoTime() - t0;
    List<MemberStats> stats = trainer.memberStats(sluice, Duration.ofSeconds(30));
    long[] after = traffic(stats);
    List<Long> workerPeaks = new ArrayList<>();
    for (MemberStats s : stats) {
      if (s.role() == dev.sluice.cluster.Role.WORKER) {
        workerPeaks.add(s.memoryPeak());
      }
    }
    return new Measured(
        count,
        after[0] - before[0],
        after[1] - before[1],
        movedIn(stats.get(0)) - trainerBefore,
        wall,
        peak,
        workerPeaks);
  }

  /**
   * Bytes a member received from other hosts (exact per sender: the receiving side knows each
   * peer's transport address).
   */
  private static long movedIn(MemberStats m) {
    long n = 0;
    for (MemberStats.PeerTraffic p : m.peers()) {
      if (!p.local()) {
        n += p.received().bytes();
      }
    }
    return n;
  }

  /** Bytes sent to other hosts and to the same host, summed over the members. */
  private static long[] traffic(List<MemberStats> members) {
    long moved = 0;
    long local = 0;
    for (MemberStats m : members) {
      if (!m.answered()) {
        throw new IllegalStateException("a member did not answer: " + m);
      }
      for (MemberStats.PeerTraffic p : m.peers()) {
        if (p.local()) {
          local += p.sent().bytes();
        } else {
          moved += p.sent().bytes();
        }
      }
    }
    return new long[] {moved, local};
  }

  // --- the parent

  private int runParent() throws Exception {
    System.out.printf(
        Locale.ROOT,
        "%s: %d rows of %d KiB in %d splits over two hosts; %d runs%n",
        NAME,
        rows(),
        rowKib,
        splits,
        common.runs());
    ChildJvm jvm = new ChildJvm(common.childHeap, Duration.ofMinutes(30));
    ObjectMapper json = new ObjectMapper();
    List<Run> runs = new ArrayList<>();
    for (int r = 1; r <= common.runs(); r++) {
      boolean onFirst = r % 2 == 1;
      List<String> args = new ArrayList<>();
      args.addAll(
          List.of(
              NAME,
              "--child",
              "--size",
              common.size.name(),
              "--rows",
              Long.toString(rows()),
              "--row-kib",
              Integer.toString(rowKib),
              "--splits",
              Integer.toString(splits),
              "--block-rows",
              Integer.toString(blockRows),
              "--budget-mib",
              Long.toString(budgetMiB)));
      if (onFirst) {
        args.add("--on-first");
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
                x.order(),
                x.rows(),
                x.consumedBytes(),
                x.movedBytes(),
                x.localBytes(),
                x.toTrainerMovedBytes(),
                x.betweenWorkersMovedBytes(),
                x.movedShare(),
                x.wallSeconds(),
                x.peakMemoryBytes(),
                x.workerPeakBytes());
        runs.add(run);
        System.out.printf(
            Locale.ROOT,
            "  run %d locality %-3s moved %7.1f MiB (%.2f of consumed; %.1f to the trainer, %.1f"
                + " between workers), local %7.1f MiB, %6.2f s, worker peaks %s MiB%n",
            r,
            run.mode(),
            run.movedBytes() / 1048576.0,
            run.movedShare(),
            run.toTrainerMovedBytes() / 1048576.0,
            run.betweenWorkersMovedBytes() / 1048576.0,
            run.localBytes() / 1048576.0,
            run.wallSeconds(),
            run.workerPeakBytes().stream()
                .map(b -> String.format(Locale.ROOT, "%.1f", b / 1048576.0))
                .toList());
      }
    }
    Map<String, Map<String, Summary>> summaries = new LinkedHashMap<>();
    metric(summaries, runs, "movedMiB", x -> x.movedBytes() / 1048576.0);
    metric(summaries, runs, "movedShare", Run::movedShare);
    metric(summaries, runs, "localMiB", x -> x.localBytes() / 1048576.0);
    metric(summaries, runs, "toTrainerMovedMiB", x -> x.toTrainerMovedBytes() / 1048576.0);
    metric(
        summaries, runs, "betweenWorkersMovedMiB", x -> x.betweenWorkersMovedBytes() / 1048576.0);
    metric(summaries, runs, "wallSeconds", Run::wallSeconds);
    Map<String, Double> ratios = new LinkedHashMap<>();
    ratios.put(
        "moved bytes, off / on (medians)",
        summaries.get("movedMiB").get("off").medianRatio(summaries.get("movedMiB").get("on")));
    ratios.put(
        "wall time, off / on (medians)",
        summaries
            .get("wallSeconds")
            .get("off")
            .medianRatio(summaries.get("wallSeconds").get("on")));
    List<Double> perRun = new ArrayList<>();
    for (int r = 1; r <= common.runs(); r++) {
      int run = r;
      Run on = runs.stream().filter(x -> x.run() == run && x.mode().equals("on")).findFirst().get();
      Run off =
          runs.stream().filter(x -> x.run() == run && x.mode().equals("off")).findFirst().get();
      perRun.add(off.movedBytes() / (double) on.movedBytes());
    }
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("rows", rows());
    config.put("rowKiB", rowKib);
    config.put("splits", splits);
    config.put("blockRows", blockRows);
    config.put("budgetBytes", budget());
    config.put(
        "workers", "2 processes, 2 CPUs each, on 127.0.0.2 (worker-1) and 127.0.0.3 (worker-2)");
    config.put("trainer", "127.0.0.2, host label worker-1");
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("scenario", NAME);
    result.put("size", common.size.label());
    result.put(
        "machine", MachineInfo.collect(StreamingVsBulk.parseHeap(common.childHeap), jvm.jvmArgs()));
    result.put("config", config);
    result.put("summary", summaries);
    result.put("ratios", ratios);
    result.put("movedOffOverOnPerRun", Summary.of(perRun));
    result.put(
        "command",
        String.format(
            Locale.ROOT,
            "./mvnw -B -q -pl benchmarks exec:exec -Dbench.args=\"%s --size %s --runs %d --rows %d"
                + " --row-kib %d --splits %d --block-rows %d --budget-mib %d\"",
            NAME,
            common.size.label(),
            common.runs(),
            rows(),
            rowKib,
            splits,
            blockRows,
            budgetMiB));
    result.put("runs", runs);
    Path jsonFile = common.out.resolve(NAME + "-" + common.size.label() + ".json");
    ResultFile.write(jsonFile, result);
    Path png = common.out.resolve(NAME + "-" + common.size.label() + ".png");
    Charts.writeGrid(
        png,
        String.format(
            Locale.ROOT,
            "Locality routing on/off: %d rows of %d KiB, trainer + 2 workers on 2 hosts (%s)",
            rows(),
            rowKib,
            common.size.label()),
        List.of(
            new Charts.Panel("Moved between hosts", "MiB", summaries.get("movedMiB")),
            new Charts.Panel("Wall time", "s", summaries.get("wallSeconds"))),
        2);
    System.out.println();
    for (var e : summaries.entrySet()) {
      System.out.println(e.getKey() + ": " + e.getValue());
    }
    System.out.println(ratios + ", per run " + Summary.of(perRun));
    System.out.println("Wrote " + jsonFile + " and " + png);
    return 0;
  }

  private static void metric(
      Map<String, Map<String, Summary>> out, List<Run> runs, String name, ToDoubleFunction<Run> f) {
    out.put(name, Summary.byGroup(runs, List.of("on", "off"), Run::mode, f));
  }
}
