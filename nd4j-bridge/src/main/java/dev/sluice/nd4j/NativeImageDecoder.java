package dev.sluice.nd4j;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;

/**
 * Decodes an encoded image column (JPEG, PNG, ...) natively with OpenCV's {@code imdecode}
 * (through JavaCV, which DL4J already brings) into a uint8 tensor column {@code [H, W, C]} (RGB or
 * gray, row-major), resizing with area interpolation when shrinking and bilinear when growing.
 * The pass after decoding (colour swap, copy or resize) writes straight into the Arrow tensor
 * buffer: no intermediate copy.
 * Same contract and output as the pure-Java {@link dev.sluice.loader.ImageDecoder}: other columns
 * are carried over; an image that does not decode is a bad record naming its file and key.
 *
 * <p>Channel order: RGB, unlike DataVec's {@code NativeImageLoader}, which hands OpenCV's BGR on.
 * A model trained on DataVec's images expects BGR: reverse the channel axis for it.
 *
 * <p>Stateless and thread-safe (each call uses its own native buffers, released before it returns).
 */
public final class NativeImageDecoder implements BatchFunction {
  private final String column;
  private final String output;
  private final int height;
  private final int width;
  private final int channels;

  private NativeImageDecoder(String column, String output, int height, int width, int channels) {
    if (height <= 0 || width <= 0 || (channels != 1 && channels != 3)) {
      throw new IllegalArgumentException("need a positive size and 1 or 3 channels");
    }
    this.column = column;
    this.output = output;
    this.height = height;
    this.width = width;
    this.channels = channels;
  }

  /**
   * A decoder of {@code column} into a uint8 tensor column {@code output} of shape
   * {@code [height, width, channels]}.
   */
  public static NativeImageDecoder of(String column, String output, int height, int width, int channels) {
    return new NativeImageDecoder(column, output, height, width, channels);
  }

  /** The schema of the output for an input schema. */
  public Schema outputSchema(Schema input) {
    List<Field> fields = new ArrayList<>();
    for (Field f : input.getFields()) {
      if (!f.getName().equals(column) && !f.getName().equals(output)) {
        fields.add(f);
      }
    }
    fields.add(TensorSpec.of(ElementType.UINT8, height, width, channels).toField(output));
    return new Schema(fields);
  }

  @Override
  public Batch apply(Batch in, BatchContext ctx) {
    FieldVector encoded = in.vector(column);
    if (!(encoded instanceof BaseVariableWidthVector bytes)) {
      throw new IllegalArgumentException("column '" + column + "' is not a binary column");
    }
    int n = in.rowCount();
    int rowBytes = height * width * channels;
    Schema pixelsOnly = new Schema(List.of(TensorSpec.of(ElementType.UINT8, height, width, channels).toField(output)));
    int[] good = new int[n];
    int kept = 0;
    Batch pixelBatch;
    try (BatchBuilder out = BatchBuilder.createUninitialized(ctx.allocator(), pixelsOnly, Math.max(n, 1), 0, in.sources())) {
      ArrowBuf pixels = out.tensorData(output);
      ArrowBuf data = bytes.getDataBuffer();
      for (int r = 0; r < n; r++) {
        if (bytes.isNull(r)) {
          report(in, r, ctx, new IllegalArgumentException("no image in column '" + column + "'"));
          continue;
        }
        long start = bytes.getStartOffset(r);
        int length = bytes.getValueLength(r);
        if (!decodeInto(data.memoryAddress() + start, length, pixels.memoryAddress() + (long) kept * rowBytes)) {
          report(in, r, ctx, new IllegalArgumentException("OpenCV cannot decode the image (" + length + " bytes)"));
          continue;
        }
        good[kept++] = r;
      }
      pixelBatch = out.build(kept);
    }
    // The other columns: shared with the input when every row decoded (the usual case), else the
    // rows that did, copied.
    try {
      if (kept == n) {
        return in.withColumnsOf(ctx.allocator(), List.of(column, output), pixelBatch);
      }
      try (Batch rows = in.select(ctx.allocator(), java.util.Arrays.copyOf(good, kept))) {
        return rows.withColumnsOf(ctx.allocator(), List.of(column, output), pixelBatch);
      }
    } finally {
      pixelBatch.close(); // (already consumed unless adding failed)
    }
  }


  /**
   * Decodes the bytes at {@code src} into the {@code height x width x channels} row at {@code dst};
   * false when they do not decode. OpenCV decodes into its own matrix (only an empty result tells a
   * failure apart), and the one pass that must follow anyway writes the row in place: the BGR to
   * RGB swap for colour, a copy for gray, the resize for another size.
   */
  private boolean decodeInto(long src, int length, long dst) {
    int type = channels == 1 ? opencv_core.CV_8UC1 : opencv_core.CV_8UC3;
    try (Pointer encodedBytes = at(src, length);
        Mat encoded = new Mat(1, length, opencv_core.CV_8UC1, encodedBytes);
        Mat decoded = opencv_imgcodecs.imdecode(encoded,
            channels == 1 ? opencv_imgcodecs.IMREAD_GRAYSCALE : opencv_imgcodecs.IMREAD_COLOR);
        Pointer rowBytes = at(dst, (long) height * width * channels);
        Mat row = new Mat(height, width, type, rowBytes)) {
      if (decoded == null || decoded.empty()) {
        return false;
      }
      Mat sized = decoded;
      Mat resized = null;
      try {
        if (decoded.rows() != height || decoded.cols() != width) {
          boolean shrinking = decoded.rows() > height || decoded.cols() > width;
          resized = channels == 1 ? row : new Mat();
          try (Size size = new Size(width, height)) {
            opencv_imgproc.resize(decoded, resized, size, 0, 0,
                shrinking ? opencv_imgproc.INTER_AREA : opencv_imgproc.INTER_LINEAR);
          }
          sized = resized;
        }
        if (channels == 3) {
          opencv_imgproc.cvtColor(sized, row, opencv_imgproc.COLOR_BGR2RGB);
        } else if (sized != row) {
          sized.copyTo(row);
        }
      } finally {
        if (resized != null && resized != row) {
          resized.close();
        }
      }
      if (row.data().address() != dst) {
        throw new IllegalStateException("OpenCV wrote the image to new memory instead of the tensor row");
      }
      return true;
    }
  }

  /** A pointer to native memory this class does not own (closing it frees nothing). */
  private static Pointer at(long memory, long bytes) {
    return new Pointer() {
      {
        address = memory; // (a parameter named address would be shadowed by Pointer's field here)
        capacity = bytes;
        limit = bytes;
      }
    };
  }

  private static void report(Batch in, int row, BatchContext ctx, Exception cause) {
    String file = in.hasColumn(Batch.URL_COLUMN) ? in.getString(Batch.URL_COLUMN, row) : String.join(", ", in.sources());
    String key = in.hasColumn(Batch.KEY_COLUMN) ? in.getString(Batch.KEY_COLUMN, row) : "row " + row;
    ctx.badRecords().report(ctx.operatorName(), file, key, cause);
  }


}
