package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.examples.demo.ByteSizeConverter;
import dev.sluice.examples.demo.ExpandDecode;
import dev.sluice.examples.demo.SyntheticShards;
import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.ExecutionOptions.Mode;
import dev.sluice.loader.IterOptions;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.WebDatasetSource;
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
 * Scenario {@code streaming-vs-bulk}: tar shards -> a 10:1 CPU decode (stateless tasks) -> a
 * fixed-rate stand-in for a GPU model (an actor pool of one, on one logical GPU) -> a sink that
 * consumes and closes, with a memory budget far below the decoded size. The same pipeline runs in
 * {@link Mode#STREAMING} and in {@link Mode#BULK}, alternating, each run in a fresh JVM; measured:
 * end-to-end time, time to the first output batch, the execution allocator's peak and the process's
 * peak RSS.
 */
@Command(
    name = "streaming-vs-bulk",
    mixinStandardHelpOptions = true,
    description =
        "Streaming vs bulk execution of read -> decode (10:1) -> fixed-rate model -> sink under a memory budget.")
final class StreamingVsBulk implements Callable<Integer> {
  static final String NAME = "streaming-vs-bulk";

  @Mixin CommonOptions common = new CommonOptions();

  @Option(names = "--samples", description = "Samples. Default: 12000 (quick), 36000 (full)")
  Long samples;

  @Option(names = "--shards", description = "Tar shards. Default: 24 (quick), 48 (full)")
  Integer shards;

  @Option(
      names = "--payload-bytes",
      converter = ByteSizeConverter.class,
      description = "Encoded bytes per sample. Default: ${DEFAULT-VALUE}")
  long payloadBytes = 6_500;

  @Option(names = "--ratio", description = "Decode expansion. Default: ${DEFAULT-VALUE}")
  int ratio = 10;

  @Option(
      names = "--budget",
      converter = ByteSizeConverter.class,
      description = "Memory budget. Default: 64m")
  long budget = 64L << 20;

  @Option(names = "--block-rows", description = "Samples per block read. Default: ${DEFAULT-VALUE}")
  int blockRows = 32;

  @Option(
      names = "--model-micros-per-row",
      description = "The simulated model's time per row. Default: ${DEFAULT-VALUE}")
  long modelMicrosPerRow = 750;

  @Option(
      names = "--child",
      hidden = true,
      description = "Run one measurement in this JVM and print its result.")
  boolean child;

  @Option(names = "--mode", hidden = true, description = "The mode of a child run.")
  Mode mode;

  @Option(names = "--data-dir", hidden = true, description = "The shards of a child run.")
  Path dataDir;

  /**
   * One measured run.
   *
   * @param mode STREAMING or BULK
   * @param run the run's number (from 1)
   * @param wallSeconds from the call to iterBatches to the last batch closed
   * @param firstBatchSeconds the executor's time to the first batch delivered ({@link
   *     DatasetStats#firstBatchNanos})
   * @param consumerFirstBatchSeconds the sink's time from the call to iterBatches to its first
   *     batch
   * @param peakMemoryBytes the execution allocator's peak ({@link DatasetStats#peakMemory})
   * @param peakRssBytes the child JVM's peak resident set ({@code VmHWM})
   * @param rows rows the sink received
   * @param stats the execution's statistics report
   */
  record Run(
      String mode,
      int run,
      double wallSeconds,
      double firstBatchSeconds,
      double consumerFirstBatchSeconds,
      long peakMemoryBytes,
      long peakRssBytes,
      long rows,
      String stats) {}

  @Override
  public Integer call() throws Exception {
    return child ? runChild() : runParent();
  }

  private SyntheticShards.Spec spec() {
    long n = samples != null ? samples : common.size == BenchSize.QUICK ? 12_000 : 36_000;
    int s = shards != null ? shards : common.size == BenchSize.QUICK ? 24 : 48;
    if (payloadBytes < 1 || payloadBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("--payload-bytes must be in [1, 2 GiB)");
    }
    return new SyntheticShards.Spec(n, s, (int) payloadBytes, 10, 42);
  }

  private int runParent() throws Exception {
    SyntheticShards.Spec spec = spec();
    ExpandDecode decode = new ExpandDecode(spec.payloadBytes(), ratio);
    long decoded = spec.samples() * decode.decodedRowBytes();
    Path dir =
        common.work.resolve(
            String.format(
                Locale.ROOT,
                "shards-%d-%d-%d",
                spec.samples(),
                spec.shards(),
                spec.payloadBytes()));
    SyntheticShards.Shards data = SyntheticShards.ensure(dir.toAbsolutePath(), spec);
    System.out.printf(
        Locale.ROOT,
        "%s: %d samples in %d shards (%s), decoded %s = %.1fx the %s budget; model %d us/row; %d runs per mode%n",
        NAME,
        spec.samples(),
        spec.shards(),
        DatasetStats.bytes(data.bytesOnDisk()),
        DatasetStats.bytes(decoded),
        (double) decoded / budget,
        DatasetStats.bytes(budget),
        modelMicrosPerRow,
        common.runs());

    ChildJvm jvm = new ChildJvm(common.childHeap, Duration.ofMinutes(20));
    ObjectMapper json = new ObjectMapper();
    List<Run> runs = new ArrayList<>();
    for (int r = 1; r <= common.runs(); r++) {
      // Alternate which mode goes first, so that neither always runs on a cooler machine.
      List<Mode> order =
          r % 2 == 1 ? List.of(Mode.STREAMING, Mode.BULK) : List.of(Mode.BULK, Mode.STREAMING);
      for (Mode m : order) {
        List<String> args =
            new ArrayList<>(
                List.of(
                    NAME,
                    "--child",
                    "--mode",
                    m.name(),
                    "--data-dir",
                    data.dir().toString(),
                    "--size",
                    common.size.name(),
                    "--samples",
                    Long.toString(spec.samples()),
                    "--shards",
                    Integer.toString(spec.shards()),
                    "--payload-bytes",
                    Long.toString(payloadBytes),
                    "--ratio",
                    Integer.toString(ratio),
                    "--budget",
                    Long.toString(budget),
                    "--block-rows",
                    Integer.toString(blockRows),
                    "--model-micros-per-row",
                    Long.toString(modelMicrosPerRow)));
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
                        m.name().toLowerCase(Locale.ROOT),
                        r));
        JsonNode node = jvm.run(args, log);
        Run run = json.treeToValue(node, Run.class);
        run =
            new Run(
                run.mode(),
                r,
                run.wallSeconds(),
                run.firstBatchSeconds(),
                run.consumerFirstBatchSeconds(),
                run.peakMemoryBytes(),
                run.peakRssBytes(),
                run.rows(),
                run.stats());
        if (run.rows() != spec.samples()) {
          throw new IllegalStateException(
              m + " run " + r + " delivered " + run.rows() + " rows, expected " + spec.samples());
        }
        runs.add(run);
        System.out.printf(
            Locale.ROOT,
            "  run %d %-9s %6.2f s, first batch %6.3f s, allocator peak %9s, RSS peak %9s%n",
            r,
            m,
            run.wallSeconds(),
            run.firstBatchSeconds(),
            DatasetStats.bytes(run.peakMemoryBytes()),
            DatasetStats.bytes(run.peakRssBytes()));
      }
    }

    Map<String, Map<String, Summary>> summaries = new LinkedHashMap<>();
    Map<String, Double> ratios = new LinkedHashMap<>();
    metric(summaries, ratios, runs, "wallSeconds", Run::wallSeconds);
    metric(summaries, ratios, runs, "firstBatchSeconds", Run::firstBatchSeconds);
    metric(summaries, ratios, runs, "consumerFirstBatchSeconds", Run::consumerFirstBatchSeconds);
    metric(summaries, ratios, runs, "peakMemoryMiB", r -> r.peakMemoryBytes() / (double) (1 << 20));
    metric(summaries, ratios, runs, "peakRssMiB", r -> r.peakRssBytes() / (double) (1 << 20));

    Map<String, Object> config = new LinkedHashMap<>();
    config.put("samples", spec.samples());
    config.put("shards", spec.shards());
    config.put("payloadBytes", spec.payloadBytes());
    config.put("ratio", ratio);
    config.put("decodedBytes", decoded);
    config.put("bytesOnDisk", data.bytesOnDisk());
    config.put("memoryBudgetBytes", budget);
    config.put("blockRows", blockRows);
    config.put("modelMicrosPerRow", modelMicrosPerRow);
    config.put("runsPerMode", common.runs());
    config.put("resources", "all processors as CPUs + 1 logical GPU (the simulated model's)");
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("scenario", NAME);
    result.put("size", common.size.label());
    result.put("machine", MachineInfo.collect(parseHeap(common.childHeap), jvm.jvmArgs()));
    result.put("config", config);
    result.put("summary", summaries);
    result.put("ratiosStreamingOverBulk", ratios);
    result.put("runs", runs);
    Path jsonFile = common.out.resolve(NAME + "-" + common.size.label() + ".json");
    ResultFile.write(jsonFile, result);

    Path png = common.out.resolve(NAME + "-" + common.size.label() + ".png");
    Charts.writeGrid(
        png,
        String.format(
            Locale.ROOT,
            "Streaming vs bulk: %d samples, decoded %s, budget %s, %d runs per mode (%s)",
            spec.samples(),
            DatasetStats.bytes(decoded),
            DatasetStats.bytes(budget),
            common.runs(),
            common.size.label()),
        List.of(
            new Charts.Panel("End-to-end time", "seconds", summaries.get("wallSeconds")),
            new Charts.Panel(
                "Time to first output batch", "seconds", summaries.get("firstBatchSeconds")),
            new Charts.Panel(
                "Allocator peak (budget " + DatasetStats.bytes(budget) + ")",
                "MiB",
                summaries.get("peakMemoryMiB")),
            new Charts.Panel("Process RSS peak (VmHWM)", "MiB", summaries.get("peakRssMiB"))),
        2);

    System.out.println();
    System.out.println(table(summaries, ratios));
    System.out.println("Wrote " + jsonFile + " and " + png);
    return 0;
  }

  private static void metric(
      Map<String, Map<String, Summary>> out,
      Map<String, Double> ratios,
      List<Run> runs,
      String name,
      ToDoubleFunction<Run> f) {
    Map<String, Summary> byMode = new LinkedHashMap<>();
    Summary.byGroup(
            runs, java.util.Arrays.stream(Mode.values()).map(Mode::name).toList(), Run::mode, f)
        .forEach((mode, s) -> byMode.put(mode.toLowerCase(Locale.ROOT), s));
    out.put(name, byMode);
    ratios.put(name, byMode.get("streaming").medianRatio(byMode.get("bulk")));
  }

  /** The summary as a Markdown table. */
  static String table(Map<String, Map<String, Summary>> summaries, Map<String, Double> ratios) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        "| metric | streaming min / median / max | bulk min / median / max | streaming / bulk (medians) |\n");
    sb.append("| --- | --- | --- | --- |\n");
    for (var e : summaries.entrySet()) {
      Summary s = e.getValue().get("streaming");
      Summary b = e.getValue().get("bulk");
      sb.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %s | %.3f |%n",
              e.getKey(),
              fmt(s),
              fmt(b),
              ratios.get(e.getKey())));
    }
    return sb.toString();
  }

  static String fmt(Summary s) {
    return String.format(Locale.ROOT, "%.3f / %.3f / %.3f", s.min(), s.median(), s.max());
  }

  static long parseHeap(String heap) {
    return ByteSizeConverter.parse(heap);
  }

  private int runChild() throws Exception {
    if (mode == null || dataDir == null) {
      throw new IllegalArgumentException("a child run needs --mode and --data-dir");
    }
    SyntheticShards.Spec spec = spec();
    // The parent generated the data; a child only reads it (never regenerates, so never overwrites
    // it).
    SyntheticShards.Shards data = SyntheticShards.existing(dataDir, spec);
    if (data == null) {
      throw new IllegalStateException(
          "the child found no complete data for "
              + spec.samples()
              + " samples under "
              + dataDir
              + " (run by hand, a child needs the parent's --size and data options)");
    }
    ExpandDecode decode = new ExpandDecode(spec.payloadBytes(), ratio);
    long decoded = spec.samples() * decode.decodedRowBytes();
    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withMode(mode)
            .withMemoryBudget(budget)
            .withTargetBlockRows(blockRows)
            .withProgress(ExecutionOptions.Progress.OFF);
    int cpus = Runtime.getRuntime().availableProcessors();
    Run run;
    try (Sluice sluice =
        Sluice.builder()
            .resources(new Resources(cpus, 1))
            // Bulk mode holds every decoded block at once: the store must be able to take them all.
            .storeLimit(Math.max(1L << 30, 2 * decoded + (256L << 20)))
            .options(options)
            .build()) {
      long model = modelMicrosPerRow;
      Dataset ds =
          sluice
              .read(
                  WebDatasetSource.builder(data.pattern())
                      .extensions(SyntheticShards.PAYLOAD_EXT, SyntheticShards.LABEL_EXT)
                      .build())
              .mapBatches(decode, MapOptions.DEFAULT.withName("ExpandDecode"))
              .mapBatches(
                  () -> new SimulatedModel(model),
                  ActorPool.fixed(1),
                  MapOptions.DEFAULT.withName("SimulatedModel").withCpus(0).withGpus(1));
      long rows = 0;
      long labels = 0;
      long first = -1;
      long t0 = System.nanoTime();
      try (BatchIterator it = ds.iterBatches(IterOptions.blocks())) {
        while (it.hasNext()) {
          try (Batch b = it.next()) {
            if (first < 0) {
              first = System.nanoTime() - t0;
            }
            for (int r = 0; r < b.rowCount(); r++) {
              labels += b.getLong(SimulatedModel.PREDICTION, r);
            }
            rows += b.rowCount();
          }
        }
      }
      long wall = System.nanoTime() - t0;
      DatasetStats stats = ds.stats();
      System.err.println(stats.format());
      System.err.println("prediction sum " + labels);
      run =
          new Run(
              mode.name(),
              0,
              wall / 1e9,
              stats.firstBatchNanos() / 1e9,
              first / 1e9,
              stats.peakMemory(),
              -1,
              rows,
              stats.format());
    }
    // After Sluice.close() (which fails on leaked Arrow memory): the peak of the whole process.
    run =
        new Run(
            run.mode(),
            run.run(),
            run.wallSeconds(),
            run.firstBatchSeconds(),
            run.consumerFirstBatchSeconds(),
            run.peakMemoryBytes(),
            MachineInfo.peakRssBytes(),
            run.rows(),
            run.stats());
    ChildJvm.emit(run);
    return 0;
  }
}
