package dev.sluice.examples.demo;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.IterOptions;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.source.WebDatasetSource;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Sluice demo: generates synthetic WebDataset shards (once), then streams them through read, a
 * 10:1 CPU decode as stateless tasks, a checksum "augment" in an actor pool of one to two actors,
 * and a consumer that takes fixed-size batches, while the memory budget holds however much the data
 * expands. Prints the plan, the progress line (on a console, or with {@code --progress ON}), the
 * execution's statistics and the peak memory against the budget.
 *
 * <p>Exit codes: 0 on success, 1 on an error, 2 for bad arguments, 3 when the consumer did not get
 * every sample exactly once or the checksums disagree.
 */
@Command(
    name = "sluice-demo",
    mixinStandardHelpOptions = true,
    description =
        "Streams synthetic tar shards through decode (10:1) and an actor-pool stage under a memory budget.")
public final class DemoPipeline implements Callable<Integer> {

  @Option(
      names = "--work-dir",
      description =
          "Where the shards are generated (reused when present). Default: ${DEFAULT-VALUE}")
  Path workDir = Path.of("target", "demo-data");

  @Option(names = "--samples", description = "Samples to generate. Default: ${DEFAULT-VALUE}")
  long samples = 10_000;

  @Option(
      names = "--shards",
      description = "Tar shards to spread them over. Default: ${DEFAULT-VALUE}")
  int shards = 16;

  // 6,500 bytes decode to 65,000: a block of 32 decoded rows just fits a 2 MiB buffer (Arrow rounds
  // each allocation up to a power of two, so 8 KiB payloads would waste 37% of every block).
  @Option(
      names = "--payload-bytes",
      converter = ByteSizeConverter.class,
      description =
          "Bytes of each sample's encoded payload (e.g. 6500, 8k). Default: ${DEFAULT-VALUE}")
  long payloadBytes = 6_500;

  @Option(names = "--ratio", description = "Decode expansion ratio. Default: ${DEFAULT-VALUE}")
  int ratio = 10;

  @Option(
      names = "--budget",
      converter = ByteSizeConverter.class,
      description = "Memory budget of the pipeline (e.g. 64m, 1g). Default: 64m")
  long budget = 64L << 20;

  @Option(names = "--block-rows", description = "Samples per block read. Default: ${DEFAULT-VALUE}")
  int blockRows = 32;

  @Option(
      names = "--batch-size",
      description = "Rows per batch handed to the consumer. Default: ${DEFAULT-VALUE}")
  int batchSize = 64;

  @Option(
      names = "--progress",
      description = "Progress line: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}")
  ExecutionOptions.Progress progress = ExecutionOptions.Progress.AUTO;

  @Option(names = "--operator-progress", description = "Draw one progress bar per operator too.")
  boolean operatorProgress;

  private final PrintStream out;

  /** A demo printing its report to standard output. */
  public DemoPipeline() {
    this(System.out);
  }

  DemoPipeline(PrintStream out) {
    this.out = out;
  }

  /** Runs the demo; see {@code --help}. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new DemoPipeline()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (payloadBytes < 1 || payloadBytes > Integer.MAX_VALUE) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "--payload-bytes must be in [1, 2 GiB)");
    }
    SyntheticShards.Spec spec =
        new SyntheticShards.Spec(samples, shards, (int) payloadBytes, 10, 42);
    ExpandDecode decode = new ExpandDecode((int) payloadBytes, ratio);

    long t0 = System.nanoTime();
    SyntheticShards.Shards data = SyntheticShards.ensure(workDir.toAbsolutePath(), spec);
    out.printf(
        Locale.ROOT,
        "%s %d samples in %d shards (%s on disk) under %s%s%n",
        data.generated() ? "Generated" : "Reusing",
        samples,
        shards,
        DatasetStats.bytes(data.bytesOnDisk()),
        data.dir(),
        data.generated()
            ? String.format(Locale.ROOT, " in %.1f s", (System.nanoTime() - t0) / 1e9)
            : "");
    long decodedTotal = samples * decode.decodedRowBytes();
    out.printf(
        Locale.ROOT,
        "Decoded size %s (%dx), memory budget %s%n",
        DatasetStats.bytes(decodedTotal),
        ratio,
        DatasetStats.bytes(budget));

    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withMemoryBudget(budget)
            .withTargetBlockRows(blockRows)
            .withProgress(progress)
            .withOperatorProgress(operatorProgress);
    Result result;
    try (Sluice sluice = Sluice.builder().options(options).build()) {
      Dataset ds =
          sluice
              .read(
                  WebDatasetSource.builder(data.pattern())
                      .extensions(SyntheticShards.PAYLOAD_EXT, SyntheticShards.LABEL_EXT)
                      .build())
              .mapBatches(decode, MapOptions.DEFAULT.withName("ExpandDecode"))
              // Half a CPU per actor: the augment is light, and a pool of two whole-CPU actors
              // would
              // hold every CPU of a 2-core machine, leaving none for the decode tasks that feed it.
              .mapBatches(
                  ChecksumAugment::new,
                  ActorPool.of(1, 2),
                  MapOptions.DEFAULT.withName("ChecksumAugment").withCpus(0.5));
      out.println("Plan: " + ds.explain());
      result = consume(ds);
      DatasetStats stats = ds.stats();
      out.println(stats.format());
      out.printf(
          Locale.ROOT,
          "Peak memory %s of a %s budget (%.0f%%): %s; decoded data %.1fx the budget%n",
          DatasetStats.bytes(stats.peakMemory()),
          DatasetStats.bytes(budget),
          100.0 * stats.peakMemory() / budget,
          stats.peakMemory() <= budget ? "within budget" : "OVER budget",
          (double) decodedTotal / budget);
    }
    // Sluice.close() above has checked that every Arrow buffer was released.

    long expected = expectedDigest(spec, decode);
    boolean ok = result.rows() == samples && result.digest() == expected;
    out.printf(
        Locale.ROOT,
        "Consumer: %d rows in %d batches, checksum digest %016x (%s)%n",
        result.rows(),
        result.batches(),
        result.digest(),
        ok
            ? "matches the generator"
            : "MISMATCH: expected " + samples + " rows and digest " + Long.toHexString(expected));
    return ok ? 0 : 3;
  }

  /** What the consumer saw. */
  private record Result(long rows, long batches, long digest) {}

  private Result consume(Dataset ds) {
    long rows = 0;
    long batches = 0;
    long digest = 0;
    try (BatchIterator it = ds.iterBatches(IterOptions.batches(batchSize))) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          for (int r = 0; r < b.rowCount(); r++) {
            // A sum of per-row hashes keyed by the sample: independent of arrival order.
            digest +=
                rowDigest(
                    b.getString(Batch.KEY_COLUMN, r),
                    b.getLong(ChecksumAugment.CHECKSUM, r),
                    b.getInt(ExpandDecode.LABEL, r));
          }
          rows += b.rowCount();
          batches++;
        }
      }
    }
    return new Result(rows, batches, digest);
  }

  /** The digest the consumer must see: recomputed from the generator, without Sluice. */
  private static long expectedDigest(SyntheticShards.Spec spec, ExpandDecode decode) {
    byte[] decoded = new byte[decode.decodedRowBytes()];
    long digest = 0;
    try (var alloc = new org.apache.arrow.memory.RootAllocator();
        var from = alloc.buffer(decoded.length);
        var to = alloc.buffer(decoded.length)) {
      for (long i = 0; i < spec.samples(); i++) {
        ExpandDecode.expand(SyntheticShards.payload(spec, i), decoded, decode.ratio());
        from.setBytes(0, decoded);
        long checksum = ChecksumAugment.invertAndHash(from, to, 0, decoded.length);
        digest += rowDigest(SyntheticShards.key(i), checksum, SyntheticShards.label(spec, i));
      }
    }
    return digest;
  }

  private static long rowDigest(String key, long checksum, int label) {
    long h = key.hashCode() * 0x9E3779B97F4A7C15L ^ checksum ^ ((long) label << 56);
    h = (h ^ (h >>> 31)) * 0xBF58476D1CE4E5B9L;
    return h ^ (h >>> 29);
  }
}
