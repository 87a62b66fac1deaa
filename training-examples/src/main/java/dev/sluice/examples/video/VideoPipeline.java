package dev.sluice.examples.video;

import dev.sluice.examples.demo.ByteSizeConverter;
import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.sink.BatchSink;
import dev.sluice.loader.sink.JsonLinesSink;
import dev.sluice.nd4j.VideoSource;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The pipeline of the Ray Data streaming post, step by step, on Sluice: read video files -> decode
 * frames (tasks of 4 CPUs, FFmpeg through {@link VideoSource}) -> annotate (an actor pool of 5,
 * {@link FrameAnnotator}) -> classify with a DL4J model (an actor pool of 2 asking for one GPU
 * each, batches of 64, {@link FrameClassifier}) -> write JSON lines. Decoding expands the data a
 * hundred times and more; the memory budget holds however large the videos are, because every stage
 * runs at once and the reader decodes only what the next block holds.
 *
 * <p>It generates its own videos ({@link SyntheticVideos}, written with FFmpeg) unless given a
 * folder of the user's own ({@code --videos}). On a machine without a GPU (ND4J's CPU backend) the
 * classify pool asks for one CPU per actor instead of a GPU, and says so. Logical CPUs are
 * admission tokens, as in Ray: the runtime offers at least what the plan's actor pools and one
 * decode task ask for, however many processors the machine has. Prints the DAG, the progress line
 * (on a console, or with {@code --progress ON}), the execution's statistics and the peak memory
 * against the budget.
 *
 * <p>Exit codes: 0 on success, 1 on an error, 2 for bad arguments, 3 when the frames written are
 * not the frames the generated videos hold.
 */
@Command(
    name = "sluice-video",
    mixinStandardHelpOptions = true,
    description =
        "Ray Data's streaming video pipeline: read -> decode frames -> annotate -> classify -> JSON lines, under a memory budget.")
public final class VideoPipeline implements Callable<Integer> {

  @Option(
      names = "--videos",
      description =
          "A folder (or pattern) of your own videos; default: videos generated under --work-dir.")
  String videos;

  @Option(
      names = "--work-dir",
      description =
          "Where videos are generated (reused when present), the model saved and the output written. Default: ${DEFAULT-VALUE}")
  Path workDir = Path.of("target", "video-data");

  @Option(
      names = "--out",
      description = "Directory of the JSON lines output. Default: <work-dir>/predictions")
  Path outputDir;

  @Option(names = "--generate", description = "Videos to generate. Default: ${DEFAULT-VALUE}")
  int generate = 12;

  @Option(names = "--frames", description = "Frames per generated video. Default: ${DEFAULT-VALUE}")
  int frames = 250;

  @Option(
      names = "--fps",
      description = "Frame rate of generated videos. Default: ${DEFAULT-VALUE}")
  int fps = 25;

  @Option(
      names = "--video-size",
      description = "Width x height of generated videos. Default: ${DEFAULT-VALUE}")
  String videoSize = "320x240";

  @Option(
      names = "--frame-size",
      description =
          "Frames are resized to this square size for the model. Default: ${DEFAULT-VALUE}")
  int frameSize = 112;

  @Option(names = "--stride", description = "Keep every n-th frame. Default: ${DEFAULT-VALUE}")
  int stride = 1;

  @Option(names = "--max-frames", description = "Frames kept per video at most. Default: all")
  Long maxFrames;

  @Option(
      names = "--split-seconds",
      description =
          "Cut videos into splits of this length (0: one per file). Default: ${DEFAULT-VALUE}")
  double splitSeconds = 0;

  @Option(
      names = "--budget",
      converter = ByteSizeConverter.class,
      description = "Memory budget of the pipeline (e.g. 16m, 1g). Default: 16m")
  long budget = 16L << 20;

  @Option(
      names = "--decode-cpus",
      description = "CPUs each decode task asks for (FFmpeg threads). Default: ${DEFAULT-VALUE}")
  int decodeCpus = 4;

  @Option(names = "--annotators", description = "Annotate actors. Default: ${DEFAULT-VALUE}")
  int annotators = 5;

  @Option(
      names = "--annotator-cpus",
      description = "CPUs each annotate actor asks for. Default: ${DEFAULT-VALUE}")
  double annotatorCpus = 0.5;

  @Option(names = "--classifiers", description = "Classify actors. Default: ${DEFAULT-VALUE}")
  int classifiers = 2;

  @Option(names = "--batch-size", description = "Frames per model call. Default: ${DEFAULT-VALUE}")
  int batchSize = 64;

  @Option(
      names = "--bad-records",
      description = "Bad videos skipped (and counted) before failing. Default: ${DEFAULT-VALUE}")
  long badRecords = 0;

  @Option(
      names = "--progress",
      description = "Progress line: ${COMPLETION-CANDIDATES}. Default: ${DEFAULT-VALUE}")
  ExecutionOptions.Progress progress = ExecutionOptions.Progress.AUTO;

  private final PrintStream out;

  /** The example printing its report to standard output. */
  public VideoPipeline() {
    this(System.out);
  }

  VideoPipeline(PrintStream out) {
    this.out = out;
  }

  /** Runs the example; see {@code --help}. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new VideoPipeline()).execute(args));
  }

  /**
   * The shape of the pipeline: what each step asks for.
   *
   * @param frameSize the square size frames are resized to (the model's input)
   * @param stride keep every n-th frame
   * @param maxFrames frames kept per video at most ({@link Long#MAX_VALUE}: all)
   * @param splitSeconds split length (0: one split per file)
   * @param decodeCpus CPUs per decode task, and FFmpeg's threads
   * @param annotators actors of the annotate pool
   * @param annotatorCpus CPUs per annotate actor
   * @param classifiers actors of the classify pool
   * @param batchSize frames per model call
   * @param gpu whether the classify actors ask for a GPU each (else a CPU)
   */
  public record Plan(
      int frameSize,
      int stride,
      long maxFrames,
      double splitSeconds,
      int decodeCpus,
      int annotators,
      double annotatorCpus,
      int classifiers,
      int batchSize,
      boolean gpu) {

    /** The post's plan for frames of {@code frameSize}, on a GPU if {@code gpu}. */
    public static Plan post(int frameSize, boolean gpu) {
      return new Plan(frameSize, 1, Long.MAX_VALUE, 0, 4, 5, 0.5, 2, 64, gpu);
    }

    /** The resources one classify actor asks for. */
    public MapOptions classifyOptions() {
      MapOptions named = MapOptions.DEFAULT.withName("Classify").withBatchSize(batchSize);
      return gpu ? named.withCpus(0).withGpus(1) : named.withCpus(1);
    }

    /**
     * What the runtime offers: the machine's processors, or (when more) what the actor pools and
     * one decode task ask for together, so that the plan runs as the post wrote it on any machine.
     */
    public Resources resources(int processors, int gpus) {
      double pools = annotators * annotatorCpus + (gpu ? 0 : classifiers);
      return new Resources(Math.max(processors, pools + decodeCpus), gpus);
    }

    /** The bytes of one decoded frame. */
    public long frameBytes() {
      return 3L * frameSize * frameSize;
    }
  }

  /** Whether ND4J runs on a GPU here, and how many devices it sees. */
  public static int gpus() {
    return Nd4j.getEnvironment().isCPU() ? 0 : Nd4j.getAffinityManager().getNumberOfDevices();
  }

  /**
   * The pipeline: read and decode (tasks of {@code decodeCpus}), annotate (an actor pool), classify
   * (an actor pool running the model in {@code modelFile}).
   */
  public static Dataset build(Sluice sluice, String videos, Plan plan, Path modelFile) {
    VideoSource.Builder source =
        VideoSource.builder(videos)
            .resize(plan.frameSize(), plan.frameSize())
            .frameStride(plan.stride())
            .decoderThreads(plan.decodeCpus())
            .splitSeconds(plan.splitSeconds());
    if (plan.maxFrames() < Long.MAX_VALUE) {
      source.maxFrames(plan.maxFrames());
    }
    List<String> keep =
        List.of(
            VideoSource.VIDEO_COLUMN,
            VideoSource.INDEX_COLUMN,
            VideoSource.TIMESTAMP_COLUMN,
            FrameAnnotator.BRIGHTNESS,
            FrameAnnotator.HOT_SHARE,
            FrameAnnotator.ANNOTATOR);
    return sluice
        .read(source.build(), MapOptions.DEFAULT.withCpus(plan.decodeCpus()))
        .mapBatches(
            FrameAnnotator::new,
            ActorPool.fixed(plan.annotators()),
            MapOptions.DEFAULT.withName("Annotate").withCpus(plan.annotatorCpus()))
        .mapBatches(
            () -> new FrameClassifier(modelFile, keep),
            ActorPool.fixed(plan.classifiers()),
            plan.classifyOptions());
  }

  /**
   * What a write did.
   *
   * @param rows rows written
   * @param files JSON lines files written
   * @param firstWriteNanos from the start of the write to the first batch written and flushed by
   *     the sink, or -1 when nothing was written
   * @param wallNanos from the start of the write to its end
   */
  public record Written(long rows, int files, long firstWriteNanos, long wallNanos) {}

  /**
   * Runs {@code ds} and writes it as JSON lines into {@code dir} (created; {@code part-*.jsonl}
   * files from an earlier run are deleted first), timing the first written batch.
   */
  public static Written writeJsonLines(Dataset ds, Path dir) throws IOException {
    Files.createDirectories(dir);
    try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, "part-*.jsonl")) {
      for (Path p : old) {
        Files.delete(p);
      }
    }
    long t0 = System.nanoTime();
    long[] rows = {0};
    long[] first = {-1};
    ds.write(
        () -> {
          JsonLinesSink json = new JsonLinesSink(dir);
          return new BatchSink() {
            @Override
            public void write(Batch batch) throws IOException {
              json.write(batch);
              rows[0] += batch.rowCount();
              if (first[0] < 0) {
                first[0] = System.nanoTime() - t0;
              }
            }

            @Override
            public void close() throws IOException {
              json.close();
            }
          };
        });
    long wall = System.nanoTime() - t0;
    int files;
    try (DirectoryStream<Path> written = Files.newDirectoryStream(dir, "part-*.jsonl")) {
      files = 0;
      for (Path ignored : written) {
        files++;
      }
    }
    return new Written(rows[0], files, first[0], wall);
  }

  @Override
  public Integer call() throws Exception {
    CommandLine cli = new CommandLine(this);
    int[] size = parseSize(videoSize, cli);
    if (stride < 1 || frameSize < 8 || decodeCpus < 1 || annotators < 1 || classifiers < 1) {
      throw new CommandLine.ParameterException(
          cli, "--stride, --decode-cpus, --annotators, --classifiers >= 1; --frame-size >= 8");
    }
    int gpus = gpus();
    Plan plan =
        new Plan(
            frameSize,
            stride,
            maxFrames == null ? Long.MAX_VALUE : maxFrames,
            splitSeconds,
            decodeCpus,
            annotators,
            annotatorCpus,
            classifiers,
            batchSize,
            gpus > 0);
    Path work = workDir.toAbsolutePath();
    long expectedFrames = -1;
    String pattern;
    if (videos != null) {
      pattern = videos;
      out.println("Reading your videos: " + videos);
    } else {
      SyntheticVideos.Spec spec = new SyntheticVideos.Spec(generate, frames, fps, size[0], size[1]);
      long t0 = System.nanoTime();
      SyntheticVideos.Videos data = SyntheticVideos.ensure(work.resolve("videos"), spec);
      pattern = data.dir().toString();
      long perVideo = (frames + stride - 1) / stride;
      expectedFrames = (long) generate * Math.min(perVideo, plan.maxFrames());
      out.printf(
          Locale.ROOT,
          "%s %d videos of %d frames (%dx%d, %d fps, %s on disk) under %s%s%n",
          data.generated() ? "Generated" : "Reusing",
          generate,
          frames,
          size[0],
          size[1],
          fps,
          DatasetStats.bytes(data.bytesOnDisk()),
          data.dir(),
          data.generated()
              ? String.format(Locale.ROOT, " in %.1f s", (System.nanoTime() - t0) / 1e9)
              : "");
      long decoded = expectedFrames * plan.frameBytes();
      out.printf(
          Locale.ROOT,
          "Decoded frames (%dx%d RGB): %s, %.0fx the files, %.1fx the %s memory budget%n",
          frameSize,
          frameSize,
          DatasetStats.bytes(decoded),
          (double) decoded / data.bytesOnDisk(),
          (double) decoded / budget,
          DatasetStats.bytes(budget));
    }
    Path modelFile =
        FrameClassifier.writeModel(work.resolve("frame-classifier.zip"), frameSize, 10, 7);
    Resources resources = plan.resources(Runtime.getRuntime().availableProcessors(), gpus);
    if (gpus > 0) {
      out.printf(
          Locale.ROOT,
          "Classify: %d actors on one GPU each (%d GPUs seen by ND4J)%n",
          classifiers,
          gpus);
    } else {
      out.printf(
          Locale.ROOT,
          "Classify: no GPU here (ND4J's CPU backend): the %d classify actors ask for one CPU each instead of one GPU%n",
          classifiers);
    }
    out.printf(
        Locale.ROOT,
        "Runtime: %.1f logical CPUs (%d processors), %d GPUs; decode tasks of %d CPUs, %d annotators of %.2f CPU%n",
        resources.cpus(),
        Runtime.getRuntime().availableProcessors(),
        gpus,
        decodeCpus,
        annotators,
        annotatorCpus);
    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withMemoryBudget(budget)
            .withTargetBlockBytes(blockBytes(budget))
            .withBadRecordAllowance(badRecords)
            .withProgress(progress);
    Path outDir = outputDir != null ? outputDir : work.resolve("predictions");
    Written written;
    DatasetStats stats;
    try (Sluice sluice = Sluice.builder().resources(resources).options(options).build()) {
      Dataset ds = build(sluice, pattern, plan, modelFile);
      this.out.println("Plan: " + ds.explain());
      written = writeJsonLines(ds, outDir);
      stats = ds.stats();
      this.out.println(stats.format());
    }
    // Sluice.close() above has checked that every Arrow buffer was released.
    this.out.printf(
        Locale.ROOT,
        "Peak memory %s of a %s budget (%.0f%%): %s%n",
        DatasetStats.bytes(stats.peakMemory()),
        DatasetStats.bytes(budget),
        100.0 * stats.peakMemory() / budget,
        stats.peakMemory() <= budget ? "within budget" : "OVER budget");
    this.out.printf(
        Locale.ROOT,
        "Wrote %d frames' predictions in %d JSON lines files under %s: first written after %.2f s, all in %.2f s (%.0f frames/s)%n",
        written.rows(),
        written.files(),
        outDir,
        written.firstWriteNanos() / 1e9,
        written.wallNanos() / 1e9,
        written.rows() / (written.wallNanos() / 1e9));
    if (expectedFrames >= 0 && written.rows() != expectedFrames) {
      this.out.printf(Locale.ROOT, "MISMATCH: the videos hold %d frames to keep%n", expectedFrames);
      return 3;
    }
    return 0;
  }

  /** Blocks of at most a sixteenth of the budget (and Sluice's default 16 MiB). */
  public static long blockBytes(long budget) {
    return Math.max(1, Math.min(16L << 20, budget / 16));
  }

  private static int[] parseSize(String s, CommandLine cli) {
    String[] parts = s.toLowerCase(Locale.ROOT).split("x");
    try {
      if (parts.length == 2) {
        int w = Integer.parseInt(parts[0].trim());
        int h = Integer.parseInt(parts[1].trim());
        if (w >= 2 && h >= 2 && w % 2 == 0 && h % 2 == 0) {
          return new int[] {w, h};
        }
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new CommandLine.ParameterException(
        cli, "--video-size must be WIDTHxHEIGHT, both even and at least 2: " + s);
  }
}
