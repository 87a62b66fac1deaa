package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.OperatorStats;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Resources;
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
 * Scenario {@code executor-overhead}: what the streaming executor costs per task. {@code
 * Sluice.range} in small blocks through a chain of K no-op maps (identity functions that return
 * their input), in three variants: {@code read-only} (no map), {@code fused} (K maps with equal
 * resources, fused into the read: one task per block) and {@code unfused} (K maps alternating 0.5
 * and 1 CPU, so no two neighbours fuse: K + 1 tasks per block). Measured: rows per second and the
 * wall time per task (wall time / tasks, from {@link OperatorStats#tasks}). Each run is a fresh JVM
 * that first runs the same pipeline once on a fifth of the rows to warm up the JIT.
 */
@Command(
    name = "executor-overhead",
    mixinStandardHelpOptions = true,
    description =
        "Rows/s and scheduling cost per task through a chain of no-op maps, fused and unfused.")
final class ExecutorOverhead implements Callable<Integer> {
  static final String NAME = "executor-overhead";

  /** The pipeline variants. */
  enum Variant {
    READ_ONLY,
    FUSED,
    UNFUSED;

    String label() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  private static final BatchFunction IDENTITY = (in, ctx) -> in;

  @Mixin CommonOptions common = new CommonOptions();

  @Option(names = "--rows", description = "Rows. Default: 500000 (quick), 2000000 (full)")
  Long rows;

  @Option(names = "--maps", description = "No-op maps in the chain (K). Default: ${DEFAULT-VALUE}")
  int maps = 8;

  @Option(names = "--block-rows", description = "Rows per block. Default: ${DEFAULT-VALUE}")
  int blockRows = 100;

  @Option(names = "--splits", description = "Splits of the range. Default: ${DEFAULT-VALUE}")
  int splits = 20;

  @Option(
      names = "--child",
      hidden = true,
      description = "Run one measurement in this JVM and print its result.")
  boolean child;

  @Option(names = "--variant", hidden = true, description = "The variant of a child run.")
  Variant variant;

  /**
   * One measured run.
   *
   * @param variant the variant's label
   * @param run the run's number (from 1)
   * @param plan the physical plan (shows what was fused)
   * @param rows rows counted
   * @param tasks tasks completed, over all operators
   * @param wallSeconds the measured execution's time (count() from start to end)
   * @param rowsPerSecond rows / wall time
   * @param microsPerTask wall time / tasks
   * @param peakRssBytes the child's peak RSS
   */
  record Run(
      String variant,
      int run,
      String plan,
      long rows,
      long tasks,
      double wallSeconds,
      double rowsPerSecond,
      double microsPerTask,
      long peakRssBytes) {}

  @Override
  public Integer call() throws Exception {
    if (maps < 1 || blockRows < 1 || splits < 1) {
      throw new IllegalArgumentException("--maps, --block-rows and --splits must be >= 1");
    }
    return child ? runChild() : runParent();
  }

  private long rows() {
    return rows != null ? rows : common.size == BenchSize.QUICK ? 500_000 : 2_000_000;
  }

  private int runParent() throws Exception {
    System.out.printf(
        Locale.ROOT,
        "%s: %d rows in blocks of %d, K = %d no-op maps; %d runs per variant%n",
        NAME,
        rows(),
        blockRows,
        maps,
        common.runs());
    ChildJvm jvm = new ChildJvm(common.childHeap, Duration.ofMinutes(20));
    ObjectMapper json = new ObjectMapper();
    List<Run> runs = new ArrayList<>();
    for (int r = 1; r <= common.runs(); r++) {
      for (int i = 0; i < Variant.values().length; i++) {
        // Rotate the order from run to run.
        Variant v = Variant.values()[(i + r - 1) % Variant.values().length];
        List<String> args =
            List.of(
                NAME,
                "--child",
                "--variant",
                v.name(),
                "--size",
                common.size.name(),
                "--rows",
                Long.toString(rows()),
                "--maps",
                Integer.toString(maps),
                "--block-rows",
                Integer.toString(blockRows),
                "--splits",
                Integer.toString(splits));
        Path log =
            common
                .work
                .resolve("logs")
                .resolve(
                    String.format(
                        Locale.ROOT,
                        "%s-%s-%s-run%d.log",
                        NAME,
                        common.size.label(),
                        v.label(),
                        r));
        JsonNode node = jvm.run(args, log);
        Run run = json.treeToValue(node, Run.class);
        run =
            new Run(
                run.variant(),
                r,
                run.plan(),
                run.rows(),
                run.tasks(),
                run.wallSeconds(),
                run.rowsPerSecond(),
                run.microsPerTask(),
                run.peakRssBytes());
        if (run.rows() != rows()) {
          throw new IllegalStateException(
              v + " run " + r + " counted " + run.rows() + " rows, expected " + rows());
        }
        runs.add(run);
        System.out.printf(
            Locale.ROOT,
            "  run %d %-9s %6.3f s, %,10.0f rows/s, %6d tasks, %7.1f us/task   %s%n",
            r,
            v.label(),
            run.wallSeconds(),
            run.rowsPerSecond(),
            run.tasks(),
            run.microsPerTask(),
            run.plan());
      }
    }

    Map<String, Map<String, Summary>> summaries = new LinkedHashMap<>();
    metric(summaries, runs, "rowsPerSecond", Run::rowsPerSecond);
    metric(summaries, runs, "microsPerTask", Run::microsPerTask);
    metric(summaries, runs, "wallSeconds", Run::wallSeconds);
    metric(summaries, runs, "tasks", r -> r.tasks());
    Map<String, String> plans = new LinkedHashMap<>();
    for (Run r : runs) {
      plans.putIfAbsent(r.variant(), r.plan());
    }

    Map<String, Object> config = new LinkedHashMap<>();
    config.put("rows", rows());
    config.put("blockRows", blockRows);
    config.put("splits", splits);
    config.put("maps", maps);
    config.put("runsPerVariant", common.runs());
    config.put(
        "warmUp",
        "one execution of the same pipeline on rows/5 in the same JVM before the measured one");
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("scenario", NAME);
    result.put("size", common.size.label());
    result.put(
        "machine", MachineInfo.collect(StreamingVsBulk.parseHeap(common.childHeap), jvm.jvmArgs()));
    result.put("config", config);
    result.put("plans", plans);
    result.put("summary", summaries);
    result.put("runs", runs);
    Path jsonFile = common.out.resolve(NAME + "-" + common.size.label() + ".json");
    ResultFile.write(jsonFile, result);

    Path png = common.out.resolve(NAME + "-" + common.size.label() + ".png");
    Charts.writeGrid(
        png,
        String.format(
            Locale.ROOT,
            "Executor overhead: %,d rows in blocks of %d, K = %d no-op maps, %d runs (%s)",
            rows(),
            blockRows,
            maps,
            common.runs(),
            common.size.label()),
        List.of(
            new Charts.Panel("Throughput", "rows/s", summaries.get("rowsPerSecond")),
            new Charts.Panel("Wall time per task", "microseconds", summaries.get("microsPerTask"))),
        2);

    System.out.println();
    System.out.println(table(summaries));
    System.out.println("Wrote " + jsonFile + " and " + png);
    return 0;
  }

  private static void metric(
      Map<String, Map<String, Summary>> out, List<Run> runs, String name, ToDoubleFunction<Run> f) {
    out.put(
        name,
        Summary.byGroup(
            runs,
            java.util.Arrays.stream(Variant.values()).map(Variant::label).toList(),
            Run::variant,
            f));
  }

  /** The summary as a Markdown table. */
  static String table(Map<String, Map<String, Summary>> summaries) {
    StringBuilder sb = new StringBuilder("| variant |");
    StringBuilder rule = new StringBuilder("| --- |");
    for (String metric : summaries.keySet()) {
      sb.append(' ').append(metric).append(" min / median / max |");
      rule.append(" --- |");
    }
    sb.append('\n').append(rule).append('\n');
    for (Variant v : Variant.values()) {
      sb.append("| ").append(v.label()).append(" |");
      for (Map<String, Summary> m : summaries.values()) {
        Summary s = m.get(v.label());
        sb.append(
            String.format(Locale.ROOT, " %,.1f / %,.1f / %,.1f |", s.min(), s.median(), s.max()));
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  private Dataset pipeline(Sluice sluice, long n) {
    Dataset ds = sluice.range(n, splits);
    if (variant == Variant.READ_ONLY) {
      return ds;
    }
    for (int i = 0; i < maps; i++) {
      // Fused: the read's 1 CPU everywhere. Unfused: 0.5 and 1 alternating, so neighbours differ.
      double cpus = variant == Variant.FUSED ? 1 : (i % 2 == 0 ? 0.5 : 1);
      ds = ds.mapBatches(IDENTITY, MapOptions.DEFAULT.withName("Noop" + i).withCpus(cpus));
    }
    return ds;
  }

  private int runChild() throws Exception {
    if (variant == null) {
      throw new IllegalArgumentException("a child run needs --variant");
    }
    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withTargetBlockRows(blockRows)
            .withProgress(ExecutionOptions.Progress.OFF);
    Run run;
    try (Sluice sluice =
        Sluice.builder()
            .resources(Resources.cpus(Runtime.getRuntime().availableProcessors()))
            .options(options)
            .build()) {
      long warm = pipeline(sluice, Math.max(1, rows() / 5)).count();
      System.err.println("warm-up counted " + warm + " rows");
      Dataset ds = pipeline(sluice, rows());
      long t0 = System.nanoTime();
      long counted = ds.count();
      long wall = System.nanoTime() - t0;
      DatasetStats stats = ds.stats();
      System.err.println(stats.format());
      long tasks = 0;
      for (OperatorStats o : stats.operators()) {
        tasks += o.tasks();
      }
      run =
          new Run(
              variant.label(),
              0,
              ds.explain(),
              counted,
              tasks,
              wall / 1e9,
              counted / (wall / 1e9),
              wall / 1e3 / Math.max(1, tasks),
              -1);
    }
    run =
        new Run(
            run.variant(),
            run.run(),
            run.plan(),
            run.rows(),
            run.tasks(),
            run.wallSeconds(),
            run.rowsPerSecond(),
            run.microsPerTask(),
            MachineInfo.peakRssBytes());
    ChildJvm.emit(run);
    return 0;
  }
}
