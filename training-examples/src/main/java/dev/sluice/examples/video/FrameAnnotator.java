package dev.sluice.examples.video;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.TensorSpec;
import dev.sluice.nd4j.VideoSource;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The "annotate" step of the video pipeline, a stateful function for an actor pool: adds to every
 * frame its mean brightness (0..1, over every pixel and channel), the share of "hot" pixels (red
 * above 200 and green below 128: the generated videos' moving square) and the number of the actor
 * that annotated it (so that the output shows the pool at work). The frame itself is carried over
 * without a copy ({@link Batch#withColumnsOf}). One instance per actor, called by one thread.
 */
public final class FrameAnnotator implements BatchFunction {
  /** The mean-brightness column. */
  public static final String BRIGHTNESS = "brightness";

  /** The hot-pixel share column. */
  public static final String HOT_SHARE = "hot_share";

  /** The annotating actor's number column. */
  public static final String ANNOTATOR = "annotator";

  private static final AtomicInteger ACTORS = new AtomicInteger();
  private static final Schema ADDED =
      new Schema(
          List.of(
              Columns.float64(BRIGHTNESS), Columns.float64(HOT_SHARE), Columns.int32(ANNOTATOR)));

  private final int actor = ACTORS.incrementAndGet();

  @Override
  public Batch apply(Batch in, BatchContext ctx) {
    int rows = in.rowCount();
    TensorSpec spec = in.tensorSpec(VideoSource.FRAME_COLUMN);
    ArrowBuf data = in.tensorData(VideoSource.FRAME_COLUMN);
    int rowBytes = spec.rowBytes();
    byte[] pixels = new byte[rowBytes];
    try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), ADDED, rows)) {
      for (int r = 0; r < rows; r++) {
        data.getBytes((long) r * rowBytes, pixels);
        long sum = 0;
        int hot = 0;
        for (int i = 0; i + 2 < rowBytes; i += 3) {
          int red = pixels[i] & 0xff;
          int green = pixels[i + 1] & 0xff;
          sum += red + green + (pixels[i + 2] & 0xff);
          if (red > 200 && green < 128) {
            hot++;
          }
        }
        b.setDouble(BRIGHTNESS, r, sum / (255.0 * rowBytes));
        b.setDouble(HOT_SHARE, r, hot / (rowBytes / 3.0));
        b.setLong(ANNOTATOR, r, actor);
      }
      try (Batch added = b.build(rows)) {
        return in.withColumnsOf(ctx.allocator(), List.of(), added);
      }
    }
  }
}
