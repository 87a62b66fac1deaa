package dev.sluice.nd4j;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import dev.sluice.loader.source.PathPatterns;
import dev.sluice.loader.source.ReadContext;
import dev.sluice.loader.source.Source;
import dev.sluice.loader.source.SplitReader;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.bytedeco.ffmpeg.avformat.AVFormatContext;
import org.bytedeco.ffmpeg.avformat.AVStream;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameGrabber;
import org.bytedeco.javacv.Frame;
import org.bytedeco.javacv.FrameGrabber;

/**
 * Frames of video files, decoded with FFmpeg through JavaCV's {@link FFmpegFrameGrabber} (which
 * DL4J already brings): Sluice's {@code read_videos}. One row per frame kept:
 *
 * <ul>
 *   <li>{@link Batch#KEY_COLUMN}: {@code <video>#<frame index>};
 *   <li>{@link Batch#URL_COLUMN}: the video's absolute path;
 *   <li>{@link #VIDEO_COLUMN} (utf8): the video's name, its path relative to the {@linkplain
 *       Builder#root root} with '/' separators;
 *   <li>{@link #INDEX_COLUMN} (int64): the frame's index in the video, from 0, counting every frame
 *       decoded (those a stride skips included);
 *   <li>{@link #TIMESTAMP_COLUMN} (float64): the frame's presentation time in seconds, as FFmpeg
 *       reports it (microsecond precision);
 *   <li>{@link #FRAME_COLUMN}: the frame as a uint8 tensor {@code [height, width, 3]}, RGB, rows
 *       top to bottom ({@link TensorSpec}).
 * </ul>
 *
 * <p><b>Options.</b> A {@linkplain Builder#frameStride stride} keeps the frames whose index is a
 * multiple of it; {@linkplain Builder#maxFrames maxFrames} keeps at most that many frames per video
 * (the first ones the stride keeps; decoding stops there); {@linkplain Builder#resize resize}
 * scales every frame to a fixed size inside FFmpeg ({@code swscale}, bilinear), so that the schema
 * is known up front ({@link #schema()}); without it a video's frames keep its own size, and videos
 * of different sizes give batches of different schemas (resize when they go into one model). {@link
 * Builder#decoderThreads} is FFmpeg's decoding threads per video (default 1: ask for as many CPUs
 * per read task with {@code Sluice.read(source, MapOptions.DEFAULT.withCpus(n))}).
 *
 * <p><b>Splits.</b> One split per file (the patterns' expansion in sorted order, {@link
 * PathPatterns}; a literal directory stands for the files with a video extension under it,
 * recursively, see {@link #isVideo}), or, with {@linkplain Builder#splitSeconds splitSeconds}, one
 * per time range of that length: {@code start}/{@code end} of the split are microseconds, planning
 * opens each file once to learn its duration (a file that does not open stays one whole split, and
 * fails as a bad record when read), and a reader seeks to its start and keeps the frames whose
 * timestamp lies in {@code [start, end)}. A range's first frame gets the index {@code round(t *
 * frame rate)}: exact for constant-frame-rate video, which time ranges assume (read variable-rate
 * video one split per file). Row counts are not known before decoding ({@code estimatedRows} -1).
 *
 * <p><b>Streaming.</b> A reader decodes only as many frames as its next block holds, straight into
 * the block's tensor buffer (one copy from FFmpeg's RGB frame): {@link ReadContext#targetRows()}
 * frames or {@link ReadContext#targetBytes()} of pixels, at least one frame per block. It never
 * decodes a file ahead, so a video that expands hundreds of times on decoding stays within the
 * pipeline's memory budget. Outside that budget (not in Arrow memory) each open reader holds
 * FFmpeg's own state: its demuxer and decoder, about {@code decoderThreads + 2} raw frames, and one
 * RGB frame.
 *
 * <p><b>Bad input.</b> A file that FFmpeg cannot open or that holds no video stream, a frame that
 * fails to decode, and a video whose decoding stops early (more than two frame intervals before the
 * duration its stream or container declares: a truncated or corrupt file, which FFmpeg itself reads
 * to a premature end without an error) are bad records named by the file and the frame position
 * ({@code frame N (t s)}). Within the execution's allowance ({@link ReadContext#badRecords()}) the
 * split ends there, keeping the frames handed on before; otherwise the reader throws a {@link
 * dev.sluice.loader.SluiceException} with that name.
 *
 * <p>Immutable and thread-safe; each reader is used by one thread at a time and closes its grabber
 * on {@link SplitReader#close()}.
 */
public final class VideoSource implements Source {
  /** The operator name of the read, and readers report bad records under. */
  public static final String NAME = "ReadVideo";

  /** The column of the video's name. */
  public static final String VIDEO_COLUMN = "video";

  /** The column of the frame's index. */
  public static final String INDEX_COLUMN = "frame_index";

  /** The column of the frame's timestamp, in seconds. */
  public static final String TIMESTAMP_COLUMN = "frame_timestamp";

  /** The column of the frame's pixels. */
  public static final String FRAME_COLUMN = "frame";

  /** File extensions a literal directory contributes (lower case). */
  public static final Set<String> VIDEO_EXTENSIONS =
      Set.of(
          "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "m2ts", "flv", "wmv",
          "ogv", "3gp");

  private final List<String> patterns;
  private final Path root;
  private final String sourceId;
  private final int stride;
  private final long maxFrames;
  private final int width;
  private final int height;
  private final long splitMicros;
  private final int decoderThreads;

  private VideoSource(Builder b) {
    this.patterns = b.patterns;
    this.root =
        b.root != null ? b.root.toAbsolutePath().normalize() : PathPatterns.baseDirectory(patterns);
    this.sourceId = b.sourceId != null ? b.sourceId : "video:" + String.join(",", patterns);
    this.stride = b.stride;
    this.maxFrames = b.maxFrames;
    this.width = b.width;
    this.height = b.height;
    this.splitMicros = b.splitMicros;
    this.decoderThreads = b.decoderThreads;
  }

  /** The videos named by the given directories or patterns, every frame at its own size. */
  public static VideoSource of(String... patterns) {
    return builder(patterns).build();
  }

  /** A builder over the given directories or path patterns (see {@link PathPatterns}). */
  public static Builder builder(String... patterns) {
    return new Builder(List.of(patterns));
  }

  /** A builder over the given directories or path patterns (see {@link PathPatterns}). */
  public static Builder builder(List<String> patterns) {
    return new Builder(patterns);
  }

  /** Configures a {@link VideoSource}. Not thread-safe. */
  public static final class Builder {
    private final List<String> patterns;
    private Path root;
    private String sourceId;
    private int stride = 1;
    private long maxFrames = Long.MAX_VALUE;
    private int width;
    private int height;
    private long splitMicros;
    private int decoderThreads = 1;

    private Builder(List<String> patterns) {
      if (patterns.isEmpty()) {
        throw new IllegalArgumentException("no video patterns given");
      }
      this.patterns = List.copyOf(patterns);
    }

    /** The directory video names are relative to; every file must lie under it. */
    public Builder root(Path root) {
      this.root = Objects.requireNonNull(root, "root");
      return this;
    }

    /** The identifier of the source in splits (default: derived from the patterns). */
    public Builder sourceId(String sourceId) {
      this.sourceId = Objects.requireNonNull(sourceId, "sourceId");
      return this;
    }

    /** Keeps the frames whose index is a multiple of {@code stride} (default 1: every frame). */
    public Builder frameStride(int stride) {
      if (stride < 1) {
        throw new IllegalArgumentException("frame stride must be >= 1: " + stride);
      }
      this.stride = stride;
      return this;
    }

    /** Keeps at most this many frames of each video, the first the stride keeps (default all). */
    public Builder maxFrames(long maxFrames) {
      if (maxFrames < 1) {
        throw new IllegalArgumentException("maxFrames must be >= 1: " + maxFrames);
      }
      this.maxFrames = maxFrames;
      return this;
    }

    /** Scales every frame to {@code width x height} (default: each video's own size). */
    public Builder resize(int width, int height) {
      if (width < 1 || height < 1) {
        throw new IllegalArgumentException("frame size must be positive: " + width + "x" + height);
      }
      this.width = width;
      this.height = height;
      return this;
    }

    /**
     * Cuts each video into splits of this many seconds (0, the default: one split per file).
     * Assumes a constant frame rate (see the class comment).
     */
    public Builder splitSeconds(double seconds) {
      if (!(seconds >= 0) || seconds > 1e9) {
        throw new IllegalArgumentException("splitSeconds must be >= 0: " + seconds);
      }
      this.splitMicros = Math.round(seconds * 1e6);
      if (seconds > 0 && splitMicros == 0) {
        throw new IllegalArgumentException("splitSeconds below a microsecond: " + seconds);
      }
      return this;
    }

    /** FFmpeg's decoding threads per open video (default 1). */
    public Builder decoderThreads(int threads) {
      if (threads < 1) {
        throw new IllegalArgumentException("decoderThreads must be >= 1: " + threads);
      }
      this.decoderThreads = threads;
      return this;
    }

    /** The source. Touches storage only to tell whether a literal path is a directory. */
    public VideoSource build() {
      return new VideoSource(this);
    }
  }

  /** The schema of frames of the given size. */
  public static Schema schemaFor(int width, int height) {
    List<Field> fields = new ArrayList<>();
    fields.add(Columns.utf8(Batch.KEY_COLUMN));
    fields.add(Columns.utf8(Batch.URL_COLUMN));
    fields.add(Columns.utf8(VIDEO_COLUMN));
    fields.add(Columns.int64(INDEX_COLUMN));
    fields.add(Columns.float64(TIMESTAMP_COLUMN));
    fields.add(Columns.tensor(FRAME_COLUMN, ElementType.UINT8, height, width, 3));
    return new Schema(fields);
  }

  /** Whether a file's extension is one of {@link #VIDEO_EXTENSIONS}. */
  public static boolean isVideo(Path file) {
    String name = file.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return dot > 0 && VIDEO_EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
  }

  @Override
  public String name() {
    return NAME;
  }

  /** Known when frames are {@linkplain Builder#resize resized}; null otherwise. */
  @Override
  public Schema schema() {
    return width > 0 ? schemaFor(width, height) : null;
  }

  /** The path patterns. */
  public List<String> patterns() {
    return patterns;
  }

  /** The directory video names are relative to (absolute). */
  public Path root() {
    return root;
  }

  /** The identifier of the source in its splits. */
  public String sourceId() {
    return sourceId;
  }

  /** The frame stride. */
  public int frameStride() {
    return stride;
  }

  /** The most frames kept per video ({@link Long#MAX_VALUE}: all). */
  public long maxFrames() {
    return maxFrames;
  }

  @Override
  public List<SourceSplit> planSplits() throws IOException {
    List<Path> files =
        PathPatterns.expand(patterns, PathPatterns.Directories.walk(VideoSource::isVideo));
    List<SourceSplit> splits = new ArrayList<>();
    for (Path file : files) {
      if (!file.startsWith(root)) {
        throw new IOException("file " + file + " is not under the source's root " + root);
      }
      long size = Files.size(file);
      Probe probe = splitMicros > 0 ? probe(file) : null;
      if (probe == null || probe.durationMicros() <= splitMicros) {
        splits.add(SourceSplit.wholeFile(sourceId, splits.size(), file.toString(), -1, size));
        continue;
      }
      // Ranges past the last frame maxFrames keeps are not planned at all.
      long lastKept = maxFrames == Long.MAX_VALUE ? -1 : (maxFrames - 1) * stride;
      long keptUntil =
          lastKept < 0 || probe.frameRate() <= 0
              ? Long.MAX_VALUE
              : (long) Math.ceil((lastKept + 1) * 1e6 / probe.frameRate());
      for (long start = 0; start < probe.durationMicros() && start < keptUntil; ) {
        long end = start + splitMicros;
        boolean last = end >= probe.durationMicros() || end >= keptUntil;
        long bytes =
            Math.max(
                1,
                size
                    * Math.min(splitMicros, probe.durationMicros() - start)
                    / probe.durationMicros());
        splits.add(
            new SourceSplit(
                sourceId,
                splits.size(),
                List.of(file.toString()),
                start,
                last ? -1 : end,
                -1,
                bytes,
                List.of()));
        start = end;
      }
    }
    return splits;
  }

  /** What planning learns of a video: its duration and frame rate. */
  private record Probe(long durationMicros, double frameRate) {}

  /** The video's duration and frame rate, or null when FFmpeg cannot open it. */
  private static Probe probe(Path file) {
    try (FFmpegFrameGrabber g = new FFmpegFrameGrabber(file.toFile())) {
      g.start();
      if (!g.hasVideo()) {
        return null;
      }
      long duration = declaredDurationMicros(g);
      return duration > 0 ? new Probe(duration, g.getVideoFrameRate()) : null;
    } catch (FrameGrabber.Exception | RuntimeException e) {
      return null;
    }
  }

  /**
   * The duration of the first video stream in microseconds as the file declares it (the stream's,
   * else the container's), or -1 when unknown.
   */
  static long declaredDurationMicros(FFmpegFrameGrabber g) {
    AVFormatContext oc = g.getFormatContext();
    if (oc != null) {
      for (int i = 0; i < oc.nb_streams(); i++) {
        AVStream st = oc.streams(i);
        if (st.codecpar().codec_type() == avutil.AVMEDIA_TYPE_VIDEO) {
          if (st.duration() != avutil.AV_NOPTS_VALUE && st.duration() > 0) {
            return Math.round(st.duration() * 1e6 * avutil.av_q2d(st.time_base()));
          }
          break;
        }
      }
    }
    long t = g.getLengthInTime();
    return t > 0 ? t : -1;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) {
    if (split.paths().size() != 1) {
      throw new IllegalArgumentException("a video split reads one file: " + split.describe());
    }
    return new VideoReader(split, context);
  }

  @Override
  public String toString() {
    return NAME
        + patterns
        + (stride > 1 ? " stride " + stride : "")
        + (maxFrames < Long.MAX_VALUE ? " max " + maxFrames + " frames" : "")
        + (width > 0 ? " resized to " + width + "x" + height : "")
        + (splitMicros > 0 ? " in " + splitMicros / 1e6 + " s ranges" : "");
  }

  /** A video's name: its path relative to {@code root}, with '/' separators. */
  static String key(Path root, Path file) {
    StringBuilder sb = new StringBuilder();
    for (Path part : root.relativize(file)) {
      if (sb.length() > 0) {
        sb.append('/');
      }
      sb.append(part);
    }
    return sb.toString();
  }

  /** A bad record found while reading: the position it names, and why. */
  private static final class BadVideo extends IOException {
    private static final long serialVersionUID = 1L;
    final String entry;

    BadVideo(String message, String entry, Throwable cause) {
      super(message, cause);
      this.entry = entry;
    }
  }

  private final class VideoReader implements SplitReader {
    private final SourceSplit split;
    private final ReadContext context;
    private final String url;
    private final String name;
    private final long start;
    private final long end;
    private FFmpegFrameGrabber grabber;
    private Schema schema;
    private TensorSpec spec;
    private double frameRate;

    /** The index the next decoded frame gets; -1 until the first frame of a range is seen. */
    private long nextIndex = -1;

    private long lastTimestamp = -1;
    private boolean done;
    private boolean closed;

    VideoReader(SourceSplit split, ReadContext context) {
      this.split = split;
      this.context = context;
      this.url = split.paths().get(0);
      this.name = key(root, Paths.get(url));
      this.start = split.start();
      this.end = split.end();
    }

    @Override
    public Batch next(BufferAllocator allocator) throws IOException {
      if (closed) {
        throw new IllegalStateException("reader of " + split.describe() + " is closed");
      }
      if (done) {
        return null;
      }
      if (grabber == null) {
        try {
          open();
        } catch (BadVideo e) {
          done = true;
          context.badRecords().report(NAME, url, e.entry, e);
          return null;
        }
      }
      int rowBytes = spec.rowBytes();
      int capacity =
          (int) Math.max(1, Math.min(context.targetRows(), context.targetBytes() / rowBytes));
      long textBytes = (long) capacity * (2L * url.length() + name.length() + 24);
      int rows = 0;
      BatchBuilder b =
          BatchBuilder.createUninitialized(allocator, schema, capacity, textBytes, List.of(url));
      try {
        ArrowBuf pixels = b.tensorData(FRAME_COLUMN);
        while (rows < capacity) {
          Frame frame;
          try {
            frame = nextKeptFrame();
          } catch (BadVideo e) {
            done = true;
            // Within the allowance the split ends here; the frames decoded so far are kept.
            context.badRecords().report(NAME, url, e.entry, e);
            break;
          }
          if (frame == null) {
            done = true;
            break;
          }
          long index = nextIndex - 1;
          copyPixels(frame, pixels, (long) rows * rowBytes);
          b.setString(Batch.KEY_COLUMN, rows, name + "#" + index);
          b.setString(Batch.URL_COLUMN, rows, url);
          b.setString(VIDEO_COLUMN, rows, name);
          b.setLong(INDEX_COLUMN, rows, index);
          b.setDouble(TIMESTAMP_COLUMN, rows, frame.timestamp / 1e6);
          rows++;
        }
        if (rows == 0) {
          return null;
        }
        Batch built = b.build(rows);
        if (rows == capacity) {
          return built;
        }
        // The video ended inside the block: hand on a block sized to its rows, not the capacity.
        try (built) {
          return built.slice(allocator, 0, rows);
        }
      } finally {
        b.close();
      }
    }

    private void open() throws BadVideo {
      FFmpegFrameGrabber g = new FFmpegFrameGrabber(url);
      g.setPixelFormat(avutil.AV_PIX_FMT_RGB24);
      g.setVideoOption("threads", Integer.toString(decoderThreads));
      if (width > 0) {
        g.setImageWidth(width);
        g.setImageHeight(height);
      }
      try {
        try {
          g.start();
        } catch (FrameGrabber.Exception | RuntimeException e) {
          throw new BadVideo(
              "not a readable video: FFmpeg cannot open it (" + describe(e) + ")",
              "frame 0 (opening)",
              e);
        }
        if (!g.hasVideo() || g.getImageWidth() <= 0 || g.getImageHeight() <= 0) {
          throw new BadVideo("no video stream in the file", "frame 0 (opening)", null);
        }
        frameRate = g.getVideoFrameRate();
        if (start > 0) {
          try {
            g.setVideoTimestamp(start);
          } catch (FrameGrabber.Exception | RuntimeException e) {
            throw new BadVideo(
                "cannot seek to " + seconds(start) + " (" + describe(e) + ")",
                "frame at " + seconds(start),
                e);
          }
        } else {
          nextIndex = 0;
        }
      } catch (BadVideo e) {
        release(g);
        throw e;
      }
      grabber = g;
      int w = g.getImageWidth();
      int h = g.getImageHeight();
      schema = schemaFor(w, h);
      spec = TensorSpec.of(ElementType.UINT8, h, w, 3);
    }

    /** The next frame the split keeps (its index is {@code nextIndex - 1}), or null at its end. */
    private Frame nextKeptFrame() throws BadVideo {
      while (true) {
        Frame frame;
        try {
          frame = grabber.grabImage();
        } catch (FrameGrabber.Exception | RuntimeException e) {
          throw new BadVideo(
              "frame " + position() + " does not decode: " + describe(e), "frame " + position(), e);
        }
        if (frame == null) {
          checkComplete();
          return null;
        }
        long ts = frame.timestamp;
        if (ts < start) {
          continue; // the seek lands on the frame before the range
        }
        if (end >= 0 && ts >= end) {
          return null;
        }
        if (nextIndex < 0) {
          nextIndex = frameRate > 0 ? Math.round(ts * frameRate / 1e6) : 0;
        }
        long index = nextIndex++;
        lastTimestamp = ts;
        if (index / stride >= maxFrames) {
          return null;
        }
        if (index % stride != 0) {
          continue;
        }
        if (frame.imageWidth != spec.shape()[1]
            || frame.imageHeight != spec.shape()[0]
            || frame.imageDepth != Frame.DEPTH_UBYTE) {
          throw new BadVideo(
              "frame "
                  + index
                  + " is "
                  + frame.imageWidth
                  + "x"
                  + frame.imageHeight
                  + ", the video's first frames "
                  + spec
                  + " (a size change mid-stream: give a resize)",
              "frame " + index + " (" + seconds(ts) + ")",
              null);
        }
        return frame;
      }
    }

    /**
     * FFmpeg reads a cut or damaged file to an early end without an error: compare where decoding
     * stopped with the duration the file declares.
     */
    private void checkComplete() throws BadVideo {
      long declared = declaredDurationMicros(grabber);
      if (declared <= 0) {
        return;
      }
      long expectedEnd = end >= 0 ? Math.min(end, declared) : declared;
      double interval = frameRate > 0 ? 1e6 / frameRate : 40_000;
      long reached = lastTimestamp < 0 ? Math.max(start, 0) : (long) (lastTimestamp + interval);
      if (reached < expectedEnd - 2 * interval) {
        throw new BadVideo(
            "decoding stops early at frame "
                + position()
                + (lastTimestamp < 0 ? "" : " (after " + seconds(lastTimestamp) + ")")
                + " although the video declares "
                + seconds(declared)
                + (frameRate > 0
                    ? " (about " + Math.round(declared * frameRate / 1e6) + " frames)"
                    : "")
                + ": the file is truncated or corrupt",
            "frame " + position(),
            null);
      }
    }

    /** The next frame's position for messages: its index, or the range start before the first. */
    private String position() {
      if (nextIndex >= 0) {
        return nextIndex + (lastTimestamp >= 0 ? " (after " + seconds(lastTimestamp) + ")" : "");
      }
      return "at " + seconds(start);
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        FFmpegFrameGrabber g = grabber;
        grabber = null;
        if (g != null) {
          release(g);
        }
      }
    }

    @Override
    public String toString() {
      return NAME + "[" + split.describe() + "]";
    }
  }

  /**
   * Copies one RGB24 frame (rows possibly padded: JavaCV's {@code imageChannels} is the padded
   * stride over the width, so it is not relied on) into {@code to} at {@code offset}.
   */
  private static void copyPixels(Frame frame, ArrowBuf to, long offset) {
    ByteBuffer src = (ByteBuffer) frame.image[0];
    int rowBytes = frame.imageWidth * 3;
    int stride = frame.imageStride;
    if (stride == rowBytes) {
      to.setBytes(offset, src, 0, rowBytes * frame.imageHeight);
      return;
    }
    for (int y = 0; y < frame.imageHeight; y++) {
      to.setBytes(offset + (long) y * rowBytes, src, y * stride, rowBytes);
    }
  }

  private static void release(FFmpegFrameGrabber g) {
    try {
      g.close();
    } catch (FrameGrabber.Exception | RuntimeException e) {
      // Releasing native state cannot be retried; the reader is finished either way.
      org.slf4j.LoggerFactory.getLogger(VideoSource.class).warn("closing a video grabber", e);
    }
  }

  private static String seconds(long micros) {
    return String.format(Locale.ROOT, "%.3f s", micros / 1e6);
  }

  private static String describe(Throwable e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
