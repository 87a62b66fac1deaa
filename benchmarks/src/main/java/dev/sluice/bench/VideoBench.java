package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.examples.demo.ByteSizeConverter;
import dev.sluice.examples.video.FrameClassifier;
import dev.sluice.examples.video.SyntheticVideos;
import dev.sluice.examples.video.VideoPipeline;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.ExecutionOptions.Mode;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.nd4j.VideoSource;
import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Scenario {@code video}: the video pipeline of the Ray Data streaming post ({@link VideoPipeline}:
 * read and decode frames with FFmpeg in tasks of 4 CPUs -> annotate in a pool of 5 actors ->
 * classify with a small DL4J model in a pool of 2 -> JSON lines), over generated videos whose
 * decoded frames are many times the memory budget, in {@link Mode#STREAMING} and in {@link
 * Mode#BULK}, alternating, each run in a fresh JVM. Measured: end-to-end time, time to the first
 * written output, the execution allocator's peak and the process's peak RSS.
 *
 * <p>Beside them, in a third kind of child run, decoding alone: FFmpeg (JavaCV's {@link
 * FFmpegFrameGrabber}) decoding the same files in a tight loop on one thread, against Sluice's
 * {@link VideoSource} read of them (every core, one FFmpeg thread per decoder, frames copied into
 * Arrow blocks), both with the same pixel format and resize, in one JVM one after the other (order
 * alternating between runs): frames per second and frames per CPU-second of the process (per core).
 */
@Command(
    name = "video",
    mixinStandardHelpOptions = true,
    description =
        "The video pipeline (read -> decode -> annotate -> classify -> JSON) streaming vs bulk, and decoding against FFmpeg alone.")
final class VideoBench implements Callable<Integer> {
  static final String NAME = "video";

  @Mixin CommonOptions common = new CommonOptions();

  @Option(names = "--videos", description = "Videos. Default: 6 (quick), 16 (full)")
  Integer videos;

  @Option(names = "--frames", description = "Frames per video. Default: ${DEFAULT-VALUE}")
  int frames = 250;

  @Option(names = "--video-size", description = "Width x height. Default: ${DEFAULT-VALUE}")
  String videoSize = "320x240";

  @Option(
      names = "--frame-size",
      description = "Frames resized to this square for the model. Default: ${DEFAULT-VALUE}")
  int frameSize = 112;

  @Option(
      names = "--budget",
      converter = ByteSizeConverter.class,
      description = "Memory budget. Default: 16m")
  long budget = 16L << 20;

  @Option(
      names = "--decode-cpus",
      description = "CPUs per decode task (FFmpeg threads). Default: ${DEFAULT-VALUE}")
  int decodeCpus = 4;

  @Option(names = "--batch-size", description = "Frames per model call. Default: ${DEFAULT-VALUE}")
  int batchSize = 64;

  @Option(
      names = "--child",
      hidden = true,
      description = "Run one measurement in this JVM and print its result.")
  boolean child;

  @Option(names = "--mode", hidden = true, description = "STREAMING, BULK or DECODE.")
  String mode;

  @Option(names = "--data-dir", hidden = true, description = "The videos of a child run.")
  Path dataDir;

  @Option(names = "--model", hidden = true, description = "The model of a child run.")
  Path model;

  @Option(names = "--run", hidden = true, description = "The run's number.")
  int run;

  /**
   * One pipeline run.
   *
   * @param mode STREAMING or BULK
   * @param run the run's number (from 1)
   * @param wallSeconds from the start of the write to its end
   * @param firstOutputSeconds from the start of the write to the first batch written
   * @param peakMemoryBytes the execution allocator's peak ({@link DatasetStats#peakMemory})
   * @param peakRssBytes the child JVM's peak resident set ({@code VmHWM})
   * @param rows frames written
   * @param stats the execution's statistics report
   */
  record PipelineRun(
      String mode,
      int run,
      double wallSeconds,
      double firstOutputSeconds,
      long peakMemoryBytes,
      long peakRssBytes,
      long rows,
      String stats) {}

  /**
   * One decode-only run: FFmpeg alone and Sluice's read, the same files.
   *
   * @param run the run's number
   * @param ffmpegFirst whether FFmpeg's loop ran first
   * @param frames frames each decoded
   * @param ffmpegSeconds the loop's wall time
   * @param ffmpegCpuSeconds the process's CPU time during the loop
   * @param sluiceSeconds the read's wall time, on every core
   * @param sluiceCpuSeconds the process's CPU time during that read
   * @param sluiceOneCoreSeconds the read's wall time on a runtime of one CPU (one decoder at once)
   * @param sluiceOneCoreCpuSeconds the process's CPU time during that read
   * @param cores processors available
   */
  record DecodeRun(
      int run,
      boolean ffmpegFirst,
      long frames,
      double ffmpegSeconds,
      double ffmpegCpuSeconds,
      double sluiceSeconds,
      double sluiceCpuSeconds,
      double sluiceOneCoreSeconds,
      double sluiceOneCoreCpuSeconds,
      int cores) {
    double ffmpegFramesPerSecond() {
      return frames / ffmpegSeconds;
    }

    double ffmpegFramesPerCpuSecond() {
      return frames / ffmpegCpuSeconds;
    }

    double sluiceFramesPerSecond() {
      return frames / sluiceSeconds;
    }

    double sluiceFramesPerCpuSecond() {
      return frames / sluiceCpuSeconds;
    }

    double sluiceOneCoreFramesPerSecond() {
      return frames / sluiceOneCoreSeconds;
    }

    double sluiceOneCoreFramesPerCpuSecond() {
      return frames / sluiceOneCoreCpuSeconds;
    }
  }

  @Override
  public Integer call() throws Exception {
    return child ? runChild() : runParent();
  }

  private SyntheticVideos.Spec spec() {
    int n = videos != null ? videos : common.size == BenchSize.QUICK ? 6 : 16;
    String[] wh = videoSize.toLowerCase(Locale.ROOT).split("x");
    if (wh.length != 2) {
      throw new IllegalArgumentException("--video-size must be WIDTHxHEIGHT: " + videoSize);
    }
    return new SyntheticVideos.Spec(
        n, frames, 25, Integer.parseInt(wh[0].trim()), Integer.parseInt(wh[1].trim()));
  }

  private VideoPipeline.Plan plan() {
    VideoPipeline.Plan post = VideoPipeline.Plan.post(frameSize, false);
    return new VideoPipeline.Plan(
        frameSize,
        1,
        Long.MAX_VALUE,
        0,
        decodeCpus,
        post.annotators(),
        post.annotatorCpus(),
        post.classifiers(),
        batchSize,
        false);
  }

  private int runParent() throws Exception {
    SyntheticVideos.Spec spec = spec();
    VideoPipeline.Plan plan = plan();
    Path dir =
        common.work.resolve(
            String.format(
                Locale.ROOT,
                "videos-%d-%d-%dx%d",
                spec.videos(),
                spec.frames(),
                spec.width(),
                spec.height()));
    long t0 = System.nanoTime();
    SyntheticVideos.Videos data = SyntheticVideos.ensure(dir.toAbsolutePath(), spec);
    double generateSeconds = (System.nanoTime() - t0) / 1e9;
    Path modelFile =
        FrameClassifier.writeModel(
            common.work.resolve("frame-classifier-" + frameSize + ".zip").toAbsolutePath(),
            frameSize,
            10,
            7);
    long decoded = spec.totalFrames() * plan.frameBytes();
    System.out.printf(
        Locale.ROOT,
        "%s: %d videos x %d frames (%dx%d, %s on disk%s), decoded at %dx%d: %s = %.0fx the files, %.1fx the %s budget; %d runs%n",
        NAME,
        spec.videos(),
        spec.frames(),
        spec.width(),
        spec.height(),
        DatasetStats.bytes(data.bytesOnDisk()),
        data.generated()
            ? String.format(Locale.ROOT, ", generated in %.1f s", generateSeconds)
            : "",
        frameSize,
        frameSize,
        DatasetStats.bytes(decoded),
        (double) decoded / data.bytesOnDisk(),
        (double) decoded / budget,
        DatasetStats.bytes(budget),
        common.runs());

    ChildJvm jvm = new ChildJvm(common.childHeap, Duration.ofMinutes(20));
    ObjectMapper json = new ObjectMapper();
    List<PipelineRun> runs = new ArrayList<>();
    List<DecodeRun> decodes = new ArrayList<>();
    for (int r = 1; r <= common.runs(); r++) {
      List<String> order =
          r % 2 == 1
              ? List.of("STREAMING", "BULK", "DECODE")
              : List.of("DECODE", "BULK", "STREAMING");
      for (String m : order) {
        List<String> args =
            new ArrayList<>(
                List.of(
                    NAME,
                    "--child",
                    "--mode",
                    m,
                    "--run",
                    Integer.toString(r),
                    "--data-dir",
                    data.dir().toString(),
                    "--model",
                    modelFile.toString(),
                    "--size",
                    common.size.name(),
                    "--work",
                    common.work.toAbsolutePath().toString(),
                    "--videos",
                    Integer.toString(spec.videos()),
                    "--frames",
                    Integer.toString(spec.frames()),
                    "--video-size",
                    videoSize,
                    "--frame-size",
                    Integer.toString(frameSize),
                    "--budget",
                    Long.toString(budget),
                    "--decode-cpus",
                    Integer.toString(decodeCpus),
                    "--batch-size",
                    Integer.toString(batchSize)));
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
                        m.toLowerCase(Locale.ROOT),
                        r));
        JsonNode node = jvm.run(args, log);
        if (m.equals("DECODE")) {
          DecodeRun d = json.treeToValue(node, DecodeRun.class);
          if (d.frames() != spec.totalFrames()) {
            throw new IllegalStateException(
                "decode run "
                    + r
                    + " decoded "
                    + d.frames()
                    + " frames, expected "
                    + spec.totalFrames());
          }
          decodes.add(d);
          System.out.printf(
              Locale.ROOT,
              "  run %d DECODE    FFmpeg loop %5.0f frames/s (%5.0f per CPU-s); Sluice read, 1 CPU %5.0f"
                  + " (%5.0f per CPU-s), %d CPUs %5.0f (%5.0f per CPU-s)%n",
              r,
              d.ffmpegFramesPerSecond(),
              d.ffmpegFramesPerCpuSecond(),
              d.sluiceOneCoreFramesPerSecond(),
              d.sluiceOneCoreFramesPerCpuSecond(),
              d.cores(),
              d.sluiceFramesPerSecond(),
              d.sluiceFramesPerCpuSecond());
        } else {
          PipelineRun p = json.treeToValue(node, PipelineRun.class);
          if (p.rows() != spec.totalFrames()) {
            throw new IllegalStateException(
                m + " run " + r + " wrote " + p.rows() + " frames, expected " + spec.totalFrames());
          }
          runs.add(p);
          System.out.printf(
              Locale.ROOT,
              "  run %d %-9s %6.2f s, first output %6.3f s, allocator peak %9s, RSS peak %9s%n",
              r,
              m,
              p.wallSeconds(),
              p.firstOutputSeconds(),
              DatasetStats.bytes(p.peakMemoryBytes()),
              DatasetStats.bytes(p.peakRssBytes()));
        }
      }
    }

    Map<String, Map<String, Summary>> summaries = new LinkedHashMap<>();
    Map<String, Double> ratios = new LinkedHashMap<>();
    metric(summaries, ratios, runs, "wallSeconds", PipelineRun::wallSeconds);
    metric(summaries, ratios, runs, "firstOutputSeconds", PipelineRun::firstOutputSeconds);
    metric(summaries, ratios, runs, "peakMemoryMiB", r -> r.peakMemoryBytes() / (double) (1 << 20));
    metric(summaries, ratios, runs, "peakRssMiB", r -> r.peakRssBytes() / (double) (1 << 20));

    Map<String, Summary> decoding = new LinkedHashMap<>();
    decoding.put("ffmpegFramesPerSecond", summary(decodes, DecodeRun::ffmpegFramesPerSecond));
    decoding.put("ffmpegFramesPerCpuSecond", summary(decodes, DecodeRun::ffmpegFramesPerCpuSecond));
    decoding.put("sluiceFramesPerSecond", summary(decodes, DecodeRun::sluiceFramesPerSecond));
    decoding.put("sluiceFramesPerCpuSecond", summary(decodes, DecodeRun::sluiceFramesPerCpuSecond));
    decoding.put(
        "sluiceOneCoreFramesPerSecond", summary(decodes, DecodeRun::sluiceOneCoreFramesPerSecond));
    decoding.put(
        "sluiceOneCoreFramesPerCpuSecond",
        summary(decodes, DecodeRun::sluiceOneCoreFramesPerCpuSecond));
    // Ratios run by run (both measured side by side in one JVM), then summarised.
    decoding.put(
        "sluiceOverFfmpegPerCpuSecond",
        summary(decodes, d -> d.sluiceFramesPerCpuSecond() / d.ffmpegFramesPerCpuSecond()));
    decoding.put(
        "sluiceOverFfmpegPerSecond",
        summary(decodes, d -> d.sluiceFramesPerSecond() / d.ffmpegFramesPerSecond()));
    decoding.put(
        "sluiceOneCoreOverFfmpegPerCpuSecond",
        summary(decodes, d -> d.sluiceOneCoreFramesPerCpuSecond() / d.ffmpegFramesPerCpuSecond()));
    decoding.put(
        "sluiceOneCoreOverFfmpegPerSecond",
        summary(decodes, d -> d.sluiceOneCoreFramesPerSecond() / d.ffmpegFramesPerSecond()));

    Map<String, Object> config = new LinkedHashMap<>();
    config.put("videos", spec.videos());
    config.put("framesPerVideo", spec.frames());
    config.put("fps", spec.fps());
    config.put("videoSize", spec.width() + "x" + spec.height());
    config.put("codec", "MPEG-4 part 2 in MP4 (FFmpegFrameRecorder, quality 4, GOP 25)");
    config.put("frameSize", frameSize + "x" + frameSize + "x3 uint8");
    config.put("frames", spec.totalFrames());
    config.put("bytesOnDisk", data.bytesOnDisk());
    config.put("decodedBytes", decoded);
    config.put("memoryBudgetBytes", budget);
    config.put("blockBytes", VideoPipeline.blockBytes(budget));
    config.put("decodeCpusPerTask", decodeCpus);
    config.put("annotators", plan.annotators() + " actors of " + plan.annotatorCpus() + " CPU");
    config.put("classifiers", plan.classifiers() + " actors of 1 CPU (no GPU here)");
    config.put("batchSize", batchSize);
    config.put(
        "resources",
        plan.resources(Runtime.getRuntime().availableProcessors(), 0).cpus()
            + " logical CPUs on "
            + Runtime.getRuntime().availableProcessors()
            + " processors");
    config.put(
        "decodeComparison",
        "FFmpegFrameGrabber.grabImage() in a loop on one thread vs VideoSource read (count) on a"
            + " runtime of one CPU and of all cores, all RGB24 resized to the frame size with one"
            + " FFmpeg thread per decoder; per CPU-second = frames / the process's CPU time");
    config.put("runsPerMode", common.runs());
    config.put(
        "rerun",
        "./mvnw -B -q -pl benchmarks exec:exec -Dbench.args=\"video --size "
            + common.size.label()
            + "\"");
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("scenario", NAME);
    result.put("size", common.size.label());
    result.put(
        "machine", MachineInfo.collect(StreamingVsBulk.parseHeap(common.childHeap), jvm.jvmArgs()));
    result.put("config", config);
    result.put("summary", summaries);
    result.put("ratiosStreamingOverBulk", ratios);
    result.put("decoding", decoding);
    result.put("runs", runs);
    result.put("decodeRuns", decodes);
    Path jsonFile = common.out.resolve(NAME + "-" + common.size.label() + ".json");
    ResultFile.write(jsonFile, result);

    Path png = common.out.resolve(NAME + "-" + common.size.label() + ".png");
    Charts.writeGrid(
        png,
        String.format(
            Locale.ROOT,
            "Video pipeline: %d frames, decoded %s, budget %s, %d runs per mode (%s)",
            spec.totalFrames(),
            DatasetStats.bytes(decoded),
            DatasetStats.bytes(budget),
            common.runs(),
            common.size.label()),
        List.of(
            new Charts.Panel("End-to-end time", "seconds", summaries.get("wallSeconds")),
            new Charts.Panel(
                "Time to first written output", "seconds", summaries.get("firstOutputSeconds")),
            new Charts.Panel(
                "Allocator peak (budget " + DatasetStats.bytes(budget) + ")",
                "MiB",
                summaries.get("peakMemoryMiB")),
            new Charts.Panel("Process RSS peak (VmHWM)", "MiB", summaries.get("peakRssMiB")),
            new Charts.Panel("Frames decoded per CPU-second", "frames", perCpuSecond(decoding))),
        2);

    System.out.println();
    System.out.println(StreamingVsBulk.table(summaries, ratios));
    System.out.println("| decoding | min / median / max |");
    System.out.println("| --- | --- |");
    decoding.forEach(
        (k, s) -> System.out.printf(Locale.ROOT, "| %s | %s |%n", k, StreamingVsBulk.fmt(s)));
    System.out.println("Wrote " + jsonFile + " and " + png);
    return 0;
  }

  private static Map<String, Summary> perCpuSecond(Map<String, Summary> decoding) {
    Map<String, Summary> m = new LinkedHashMap<>();
    m.put("ffmpeg loop (1 thread)", decoding.get("ffmpegFramesPerCpuSecond"));
    m.put("sluice read (1 CPU)", decoding.get("sluiceOneCoreFramesPerCpuSecond"));
    m.put("sluice read (all cores)", decoding.get("sluiceFramesPerCpuSecond"));
    return m;
  }

  private static <R> Summary summary(List<R> runs, ToDoubleFunction<R> f) {
    List<Double> values = new ArrayList<>();
    for (R r : runs) {
      values.add(f.applyAsDouble(r));
    }
    return Summary.of(values);
  }

  private static void metric(
      Map<String, Map<String, Summary>> out,
      Map<String, Double> ratios,
      List<PipelineRun> runs,
      String name,
      ToDoubleFunction<PipelineRun> f) {
    Map<String, Summary> byMode = new LinkedHashMap<>();
    Summary.byGroup(runs, List.of("STREAMING", "BULK"), PipelineRun::mode, f)
        .forEach((m, s) -> byMode.put(m.toLowerCase(Locale.ROOT), s));
    out.put(name, byMode);
    ratios.put(name, byMode.get("streaming").medianRatio(byMode.get("bulk")));
  }

  private int runChild() throws Exception {
    if (mode == null || dataDir == null || model == null) {
      throw new IllegalArgumentException("a child run needs --mode, --data-dir and --model");
    }
    SyntheticVideos.Spec spec = spec();
    SyntheticVideos.Videos data = SyntheticVideos.existing(dataDir, spec);
    if (data == null) {
      throw new IllegalStateException(
          "the child found no complete videos under "
              + dataDir
              + " (run by hand, a child needs the parent's size options)");
    }
    if (mode.equals("DECODE")) {
      ChildJvm.emit(decode(data));
      return 0;
    }
    Mode m = Mode.valueOf(mode);
    VideoPipeline.Plan plan = plan();
    long decoded = spec.totalFrames() * plan.frameBytes();
    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withMode(m)
            .withMemoryBudget(budget)
            .withTargetBlockBytes(VideoPipeline.blockBytes(budget))
            .withProgress(ExecutionOptions.Progress.OFF);
    PipelineRun result;
    Path out =
        common.work.resolve("video-out").resolve(mode.toLowerCase(Locale.ROOT) + "-run" + run);
    try (Sluice sluice =
        Sluice.builder()
            .resources(plan.resources(Runtime.getRuntime().availableProcessors(), 0))
            // Bulk mode holds every decoded frame at once: the store must be able to take them.
            .storeLimit(Math.max(1L << 30, 2 * decoded + (256L << 20)))
            .options(options)
            .build()) {
      Dataset ds = VideoPipeline.build(sluice, data.dir().toString(), plan, model);
      VideoPipeline.Written w = VideoPipeline.writeJsonLines(ds, out);
      DatasetStats stats = ds.stats();
      System.err.println(stats.format());
      result =
          new PipelineRun(
              m.name(),
              run,
              w.wallNanos() / 1e9,
              w.firstWriteNanos() / 1e9,
              stats.peakMemory(),
              -1,
              w.rows(),
              stats.format());
    }
    // After Sluice.close() (which fails on leaked Arrow memory): the peak of the whole process.
    ChildJvm.emit(
        new PipelineRun(
            result.mode(),
            result.run(),
            result.wallSeconds(),
            result.firstOutputSeconds(),
            result.peakMemoryBytes(),
            MachineInfo.peakRssBytes(),
            result.rows(),
            result.stats()));
    return 0;
  }

  /** FFmpeg's tight loop and Sluice's read over the same files, side by side in this JVM. */
  private DecodeRun decode(SyntheticVideos.Videos data) throws Exception {
    int cores = Runtime.getRuntime().availableProcessors();
    boolean ffmpegFirst = run % 2 == 1;
    // Unmeasured first: FFmpeg over one file (natives loaded, files in the page cache) and a whole
    // Sluice read (its Java code compiled: a read of one file left the measured read paying for
    // the JIT, about 0.65x FFmpeg per CPU-second against 0.70x warm).
    ffmpegLoop(List.of(data.files().get(0)));
    sluiceRead(data.dir().toString(), cores);
    long[] ffmpeg = null;
    long[] sluiceOne = null;
    long[] sluiceAll = null;
    // FFmpeg, Sluice on one CPU, Sluice on every core; the reverse order in even runs.
    for (int i = 0; i < 3; i++) {
      int which = ffmpegFirst ? i : 2 - i;
      if (which == 0) {
        ffmpeg = measure(() -> ffmpegLoop(data.files()));
      } else if (which == 1) {
        sluiceOne = measure(() -> sluiceRead(data.dir().toString(), 1));
      } else {
        sluiceAll = measure(() -> sluiceRead(data.dir().toString(), cores));
      }
    }
    if (ffmpeg[0] != sluiceAll[0] || ffmpeg[0] != sluiceOne[0]) {
      throw new IllegalStateException(
          "FFmpeg decoded "
              + ffmpeg[0]
              + " frames, Sluice "
              + sluiceOne[0]
              + " on one CPU and "
              + sluiceAll[0]
              + " on all");
    }
    return new DecodeRun(
        run,
        ffmpegFirst,
        ffmpeg[0],
        ffmpeg[1] / 1e9,
        ffmpeg[2] / 1e9,
        sluiceAll[1] / 1e9,
        sluiceAll[2] / 1e9,
        sluiceOne[1] / 1e9,
        sluiceOne[2] / 1e9,
        cores);
  }

  private interface FrameCount {
    long run() throws Exception;
  }

  /** Frames, wall nanoseconds and process CPU nanoseconds of {@code work}. */
  private static long[] measure(FrameCount work) throws Exception {
    var os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    long cpu0 = os.getProcessCpuTime();
    long t0 = System.nanoTime();
    long frames = work.run();
    long wall = System.nanoTime() - t0;
    long cpu = os.getProcessCpuTime() - cpu0;
    return new long[] {frames, wall, cpu};
  }

  /** The baseline: every frame of every file through FFmpegFrameGrabber, as Sluice decodes it. */
  private long ffmpegLoop(List<Path> files) throws Exception {
    long frames = 0;
    for (Path f : files) {
      try (FFmpegFrameGrabber g = new FFmpegFrameGrabber(new File(f.toString()))) {
        g.setPixelFormat(avutil.AV_PIX_FMT_RGB24);
        g.setVideoOption("threads", "1");
        g.setImageWidth(frameSize);
        g.setImageHeight(frameSize);
        g.start();
        for (Frame fr = g.grabImage(); fr != null; fr = g.grabImage()) {
          frames++;
        }
        g.stop();
      }
    }
    return frames;
  }

  /** Sluice's read of the same files: decoded into Arrow blocks on every core, then counted. */
  private long sluiceRead(String videos, int cores) {
    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withMemoryBudget(budget)
            .withTargetBlockBytes(VideoPipeline.blockBytes(budget))
            .withProgress(ExecutionOptions.Progress.OFF);
    try (Sluice sluice =
        Sluice.builder().resources(Resources.cpus(cores)).options(options).build()) {
      return sluice
          .read(
              VideoSource.builder(videos).resize(frameSize, frameSize).build(), MapOptions.DEFAULT)
          .count();
    }
  }
}
