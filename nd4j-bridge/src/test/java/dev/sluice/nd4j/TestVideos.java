package dev.sluice.nd4j;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.ffmpeg.global.avutil;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Frame;

/** Small videos for tests, written with FFmpeg (MPEG-4 part 2, high quality, every frame flat). */
final class TestVideos {
  private TestVideos() {}

  /** The gray level of frame {@code i}: far enough apart to survive lossy coding. */
  static int level(int i) {
    return 16 + (i * 8) % 224;
  }

  /**
   * Writes {@code frames} frames of {@code width x height} at {@code fps} in {@code format} ("mp4",
   * "matroska"); frame {@code i} is uniformly {@link #level(int)}.
   */
  static Path write(Path file, String format, int width, int height, int frames, int fps)
      throws Exception {
    try (FFmpegFrameRecorder r = new FFmpegFrameRecorder(file.toFile(), width, height, 0)) {
      r.setFormat(format);
      r.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
      r.setVideoQuality(2);
      r.setGopSize(10);
      r.setFrameRate(fps);
      r.setPixelFormat(avutil.AV_PIX_FMT_YUV420P);
      r.start();
      try (Frame frame = new Frame(width, height, Frame.DEPTH_UBYTE, 3)) {
        ByteBuffer pixels = (ByteBuffer) frame.image[0];
        for (int i = 0; i < frames; i++) {
          byte v = (byte) level(i);
          for (int p = 0; p < pixels.capacity(); p++) {
            pixels.put(p, v);
          }
          r.record(frame, avutil.AV_PIX_FMT_BGR24);
        }
      }
      r.stop();
    }
    return file;
  }
}
