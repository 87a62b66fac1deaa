package dev.sluice.examples.video;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Frame;

/**
 * Test videos written with FFmpeg ({@link FFmpegFrameRecorder}, MPEG-4 part 2 in MP4), so that the
 * video example and benchmark run anywhere: each frame is a scrolling texture (a different one per
 * video) with a square moving across it, which compresses well, as real video does: decoding
 * expands it about 50-200 times.
 *
 * <p>A directory is complete when its {@value #MARKER} file, written last, describes the same spec:
 * {@link #ensure} reuses such a directory and otherwise writes it again.
 */
public final class SyntheticVideos {
  /** The file written once every video is complete, holding the spec. */
  public static final String MARKER = "videos.spec";

  private SyntheticVideos() {}

  /**
   * What to generate.
   *
   * @param videos how many files
   * @param frames frames per video
   * @param fps frames per second
   * @param width frame width
   * @param height frame height
   */
  public record Spec(int videos, int frames, int fps, int width, int height) {
    public Spec {
      if (videos < 1 || frames < 1 || fps < 1 || width < 2 || height < 2) {
        throw new IllegalArgumentException("a video spec needs positive sizes: " + this);
      }
      if (width % 2 != 0 || height % 2 != 0) {
        throw new IllegalArgumentException("YUV 4:2:0 needs an even frame size: " + this);
      }
    }

    /** Total frames. */
    public long totalFrames() {
      return (long) videos * frames;
    }

    String describe() {
      return String.format(
          Locale.ROOT,
          "videos=%d frames=%d fps=%d size=%dx%d codec=mpeg4 v1",
          videos,
          frames,
          fps,
          width,
          height);
    }
  }

  /**
   * The videos in a directory.
   *
   * @param dir the directory
   * @param files the video files, in order
   * @param bytesOnDisk their total size
   * @param generated whether this call wrote them
   */
  public record Videos(Path dir, List<Path> files, long bytesOnDisk, boolean generated) {}

  /** The videos of {@code spec} in {@code dir}: reused when complete, else written. */
  public static Videos ensure(Path dir, Spec spec) throws IOException {
    Videos existing = existing(dir, spec);
    if (existing != null) {
      return existing;
    }
    Files.createDirectories(dir);
    Files.deleteIfExists(dir.resolve(MARKER));
    List<Path> files = new ArrayList<>();
    long bytes = 0;
    for (int v = 0; v < spec.videos(); v++) {
      Path file = dir.resolve(fileName(v));
      Path tmp = dir.resolve(fileName(v) + ".tmp.mp4");
      write(tmp, spec, v);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      files.add(file);
      bytes += Files.size(file);
    }
    Files.writeString(dir.resolve(MARKER), spec.describe(), StandardCharsets.UTF_8);
    return new Videos(dir, files, bytes, true);
  }

  /** The complete videos of {@code spec} in {@code dir}, or null when there are none. */
  public static Videos existing(Path dir, Spec spec) throws IOException {
    Path marker = dir.resolve(MARKER);
    if (!Files.isRegularFile(marker)
        || !Files.readString(marker, StandardCharsets.UTF_8).equals(spec.describe())) {
      return null;
    }
    List<Path> files = new ArrayList<>();
    long bytes = 0;
    for (int v = 0; v < spec.videos(); v++) {
      Path file = dir.resolve(fileName(v));
      if (!Files.isRegularFile(file)) {
        return null;
      }
      files.add(file);
      bytes += Files.size(file);
    }
    return new Videos(dir, files, bytes, false);
  }

  /** The name of video {@code v}. */
  public static String fileName(int v) {
    return String.format(Locale.ROOT, "video-%03d.mp4", v);
  }

  private static void write(Path file, Spec spec, int video) throws IOException {
    int w = spec.width();
    int h = spec.height();
    byte[] rgb = new byte[w * h * 3];
    try (FFmpegFrameRecorder r = new FFmpegFrameRecorder(file.toFile(), w, h, 0);
        Frame frame = new Frame(w, h, Frame.DEPTH_UBYTE, 3)) {
      r.setFormat("mp4");
      r.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
      r.setVideoQuality(4);
      r.setGopSize(spec.fps());
      r.setFrameRate(spec.fps());
      r.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
      r.start();
      ByteBuffer pixels = (ByteBuffer) frame.image[0];
      int rowBytes = frame.imageStride;
      int side = Math.max(2, Math.min(w, h) / 4);
      for (int t = 0; t < spec.frames(); t++) {
        paint(rgb, w, h, video, t, side);
        for (int y = 0; y < h; y++) {
          pixels.position(y * rowBytes);
          pixels.put(rgb, y * w * 3, w * 3);
        }
        pixels.position(0);
        r.record(frame, avutil.AV_PIX_FMT_RGB24);
      }
      r.stop();
    } catch (FFmpegFrameRecorder.Exception e) {
      throw new IOException("cannot write video " + file + ": " + e.getMessage(), e);
    }
  }

  /** Frame {@code t} of video {@code v}: a scrolling texture and a moving square. */
  static void paint(byte[] rgb, int w, int h, int v, int t, int side) {
    int sx = (t * 3 + v * 17) % Math.max(1, w - side);
    int sy = (t * 2 + v * 29) % Math.max(1, h - side);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int i = (y * w + x) * 3;
        boolean square = x >= sx && x < sx + side && y >= sy && y < sy + side;
        if (square) {
          rgb[i] = (byte) 240;
          rgb[i + 1] = (byte) (40 + (v * 13) % 80);
          rgb[i + 2] = (byte) 40;
        } else {
          int u = x + t * (1 + v % 3);
          rgb[i] = (byte) ((u * 2 + v * 40) & 0xff);
          rgb[i + 1] = (byte) (((u / 8) ^ (y / 8)) * 16 + v * 9);
          rgb[i + 2] = (byte) ((y * 3 + t) & 0xff);
        }
      }
    }
  }
}
