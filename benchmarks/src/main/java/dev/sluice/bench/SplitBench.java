package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Columns;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.MapOptions;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.ToDoubleFunction;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Scenario {@code split}: {@code streamingSplit(4)} over one pipeline, with trainers of unequal
 * speed, against a single trainer. The pipeline: {@code Sluice.range} -> a stateless "decode" that
 * makes a float32 tensor of {@code --features} values per row -> the consumers. Each consumer
 * stands in for a trainer that needs a fixed time per row ({@code --row-micros} times its speed
 * factor: 1, 1, 2 and 4 for the four split consumers; 1 for the single one), spent parked: the wait
 * is the simulated device time. Measured: total rows/s over all consumers, each consumer's rows,
 * and the peak bytes buffered in the split's consumer queues; for {@code unequal} (dynamic shares)
 * and {@code equal} (exactly equal shares) splits.
 */
@Command(
    name = "split",
    mixinStandardHelpOptions = true,
    description =
        "streamingSplit(4) with trainers of unequal speed vs one trainer: total throughput and buffered bytes.")
final class SplitBench implements Callable<Integer> {
  static final String NAME = "split";
  private static final double[] SPEEDS = {1, 1, 2, 4};

  /** The variants. */
  enum Variant {
    SINGLE,
    SPLIT4_UNEQUAL,
    SPLIT4_EQUAL;

    String label() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  @Mixin CommonOptions common = new CommonOptions();

  @Option(names = "--rows", description = "Rows. Default: 100000 (quick), 400000 (full)")
  Long rows;

  @Option(names = "--features", description = "float32 values per row. Default: ${DEFAULT-VALUE}")
  int features = 256;

  @Option(
      names = "--row-micros",
      description =
          "Simulated trainer time per row for the fastest trainer. Default: ${DEFAULT-VALUE}")
  double rowMicros = 20;

  @Option(names = "--block-rows", description = "Rows per block. Default: ${DEFAULT-VALUE}")
  int blockRows = 256;

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
   * @param rows rows delivered over all consumers
   * @param wallSeconds from the start of the execution to the last consumer's end
   * @param rowsPerSecond total rows / wall time
   * @param rowsPerConsumer rows each consumer got
   * @param peakBufferedBytes the most bytes in the split's consumer queues at once (0 for single)
   * @param peakMemoryBytes the execution allocator's peak
   * @param budgetBytes the memory budget
   */
  record Run(
      String variant,
      int run,
      long rows,
      double wallSeconds,
      double rowsPerSecond,
      List<Long> rowsPerConsumer,
      long peakBufferedBytes,
      long peakMemoryBytes,
      long budgetBytes) {}

  @Override
  public Integer call() throws Exception {
    return child ? runChild() : runParent();
  }

  private long rows() {
    return rows != null ? rows : common.size == BenchSize.QUICK ? 100_000 : 400_000;
  }

  private BatchFunction decode() {
    Schema schema =
        new Schema(
            List.of(Columns.int64("id"), Columns.tensor("x", ElementType.FLOAT32, features)));
    int f = features;
    return (in, ctx) -> {
      int n = in.rowCount();
      try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), schema, n)) {
        ArrowBuf x = b.tensorData("x");
        for (int r = 0; r < n; r++) {
          long id = in.getLong("id", r);
          b.setLong("id", r, id);
          for (int j = 0; j < f; j++) {
            x.setFloat(((long) r * f + j) * 4L, (float) Math.sin(id * 0.001 + j));
          }
        }
        return b.build(n);
      }
    };
  }

  /** Drains a share, parking {@code micros} per row: the simulated trainer. Returns rows. */
  private static long train(BatchIterator it, double micros) {
    long n = 0;
    try (it) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          n += b.rowCount();
          // Simulated device time of the trainer (the behaviour being modelled, not
          // synchronisation).
          LockSupport.parkNanos((long) (b.rowCount() * micros * 1000));
        }
      }
    }
    return n;
  }

  private int runChild() throws Exception {
    long budget = 64L << 20;
    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withMemoryBudget(budget)
            .withTargetBlockRows(blockRows)
            .withProgress(ExecutionOptions.Progress.OFF);
    Run run;
    try (Sluice sluice =
        Sluice.builder()
            .resources(Resources.cpus(Runtime.getRuntime().availableProcessors()))
            .options(options)
            .build()) {
      Dataset ds =
          sluice.range(rows(), 16).mapBatches(decode(), MapOptions.DEFAULT.withName("Decode"));
      long t0 = System.nanoTime();
      List<Long> perConsumer = new ArrayList<>();
      long peakBuffered = 0;
      long peakMemory;
      if (variant == Variant.SINGLE) {
        BatchIterator it = ds.iterBatches();
        perConsumer.add(train(it, rowMicros));
        peakMemory = it.peakMemory();
      } else {
        List<BatchIterator> its = ds.streamingSplit(SPEEDS.length, variant == Variant.SPLIT4_EQUAL);
        List<CompletableFuture<Long>> fs = new ArrayList<>();
        for (int i = 0; i < its.size(); i++) {
          BatchIterator it = its.get(i);
          double micros = rowMicros * SPEEDS[i];
          fs.add(CompletableFuture.supplyAsync(() -> train(it, micros)));
        }
        for (CompletableFuture<Long> f : fs) {
          perConsumer.add(f.get(30, TimeUnit.MINUTES));
        }
        peakBuffered = ds.lastSplitPeakBufferedBytes();
        peakMemory = its.get(0).peakMemory();
      }
      double wall = (System.nanoTime() - t0) / 1e9;
      long total = perConsumer.stream().mapToLong(Long::longValue).sum();
      run =
          new Run(
              variant.label(),
              0,
              total,
              wall,
              total / wall,
              perConsumer,
              peakBuffered,
              peakMemory,
              budget);
    }
    ChildJvm.emit(run);
    return 0;
  }

  private int runParent() throws Exception {
    System.out.printf(
        Locale.ROOT,
        "%s: %d rows of %d floats; trainers at %.0f us/row x speed factors %s; %d runs%n",
        NAME,
        rows(),
        features,
        rowMicros,
        java.util.Arrays.toString(SPEEDS),
        common.runs());
    ChildJvm jvm = new ChildJvm(common.childHeap, Duration.ofMinutes(30));
    ObjectMapper json = new ObjectMapper();
    List<Run> runs = new ArrayList<>();
    for (int r = 1; r <= common.runs(); r++) {
      for (int i = 0; i < Variant.values().length; i++) {
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
                "--features",
                Integer.toString(features),
                "--row-micros",
                Double.toString(rowMicros),
                "--block-rows",
                Integer.toString(blockRows));
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
                run.rows(),
                run.wallSeconds(),
                run.rowsPerSecond(),
                run.rowsPerConsumer(),
                run.peakBufferedBytes(),
                run.peakMemoryBytes(),
                run.budgetBytes());
        runs.add(run);
        System.out.printf(
            Locale.ROOT,
            "  run %d %-15s %7.3f s, %,10.0f rows/s, rows per consumer %s, peak buffered %.1f MiB%n",
            r,
            v.label(),
            run.wallSeconds(),
            run.rowsPerSecond(),
            run.rowsPerConsumer(),
            run.peakBufferedBytes() / 1048576.0);
      }
    }
    Map<String, Map<String, Summary>> summaries = new LinkedHashMap<>();
    metric(summaries, runs, "rowsPerSecond", Run::rowsPerSecond);
    metric(summaries, runs, "wallSeconds", Run::wallSeconds);
    metric(summaries, runs, "peakBufferedMiB", x -> x.peakBufferedBytes() / 1048576.0);
    metric(summaries, runs, "peakMemoryMiB", x -> x.peakMemoryBytes() / 1048576.0);
    Map<String, Double> ratios = new LinkedHashMap<>();
    Summary single = summaries.get("rowsPerSecond").get(Variant.SINGLE.label());
    for (Variant v : List.of(Variant.SPLIT4_UNEQUAL, Variant.SPLIT4_EQUAL)) {
      ratios.put(
          v.label() + " / single (rows/s medians)",
          summaries.get("rowsPerSecond").get(v.label()).medianRatio(single));
    }
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("rows", rows());
    config.put("features", features);
    config.put("rowMicros", rowMicros);
    config.put("speedFactors", SPEEDS);
    config.put("blockRows", blockRows);
    config.put("budgetBytes", 64L << 20);
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("scenario", NAME);
    result.put("size", common.size.label());
    result.put(
        "machine", MachineInfo.collect(StreamingVsBulk.parseHeap(common.childHeap), jvm.jvmArgs()));
    result.put("config", config);
    result.put("summary", summaries);
    result.put("ratios", ratios);
    result.put("runs", runs);
    Path jsonFile = common.out.resolve(NAME + "-" + common.size.label() + ".json");
    ResultFile.write(jsonFile, result);
    Path png = common.out.resolve(NAME + "-" + common.size.label() + ".png");
    Charts.writeGrid(
        png,
        String.format(
            Locale.ROOT,
            "streamingSplit(4), trainers at %.0f us/row x %s vs one trainer (%s)",
            rowMicros,
            java.util.Arrays.toString(SPEEDS),
            common.size.label()),
        List.of(
            new Charts.Panel("Total throughput", "rows/s", summaries.get("rowsPerSecond")),
            new Charts.Panel(
                "Peak buffered in the split", "MiB", summaries.get("peakBufferedMiB"))),
        2);
    System.out.println();
    for (var e : summaries.entrySet()) {
      System.out.println(e.getKey() + ": " + e.getValue());
    }
    System.out.println(ratios);
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
}
