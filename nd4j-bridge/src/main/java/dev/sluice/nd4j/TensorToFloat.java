package dev.sluice.nd4j;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import dev.sluice.nd4j.internal.ColumnData;
import dev.sluice.nd4j.internal.TensorCopy;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Converts a uint8 image tensor column (rows {@code [height, width, channels]}, as {@link
 * dev.sluice.loader.ImageDecoder} and {@link NativeImageDecoder} emit them) to float32 in Arrow
 * memory, scaled, with rows {@code [channels, height, width]} ({@link Layout#NCHW}) or as stored
 * ({@link Layout#AS_STORED}). The column keeps its name; the other columns are shared, not copied.
 *
 * <p>Why: an iterator converts a uint8 column to the model's floats on its one prefetch thread.
 * Fused after a decoder, this function does it in the pipeline's tasks, on every core, and leaves a
 * column that {@link IteratorBuilder#shareBatchMemory} hands to DL4J without a copy. On a machine
 * whose cores the decoding fills, that also keeps the prefetch thread from competing with the
 * training thread (measured in {@code benchmarks/RESULTS.md}). The values are exactly those of the
 * iterator's own conversion: {@code (float) v * (float) scale}.
 *
 * <p>Stateless and thread-safe.
 */
public final class TensorToFloat implements BatchFunction {
  private final String column;
  private final double scale;
  private final Layout layout;

  private TensorToFloat(String column, double scale, Layout layout) {
    this.column = column;
    this.scale = scale;
    this.layout = layout;
  }

  /**
   * A conversion of {@code column}.
   *
   * @param scale the factor applied to every value, finite and positive ({@code 1 / 255.0} for
   *     values in [0, 1])
   * @param layout {@link Layout#NCHW} for channels first (the column's rows must then be
   *     {@code [height, width, channels]}), or {@link Layout#AS_STORED}
   * @throws IllegalArgumentException when the scale is not finite and positive
   */
  public static TensorToFloat of(String column, double scale, Layout layout) {
    Objects.requireNonNull(column, "column");
    Objects.requireNonNull(layout, "layout");
    if (!Double.isFinite(scale) || scale <= 0) {
      throw new IllegalArgumentException("scale must be finite and positive: " + scale);
    }
    return new TensorToFloat(column, scale, layout);
  }

  /**
   * @throws IllegalArgumentException naming the column when it is missing, not a uint8 tensor
   *     column, has null rows, or (for {@link Layout#NCHW}) rows that are not {@code [h, w, c]}
   */
  @Override
  public Batch apply(Batch in, BatchContext ctx) {
    ColumnData src = ColumnData.of(in, column);
    if (src.scalar() || src.type() != ElementType.UINT8) {
      throw new IllegalArgumentException("column '" + column + "' is not a uint8 tensor column (it holds "
          + src.type() + (src.scalar() ? " scalars" : " tensors") + ")");
    }
    if (in.vector(column).getNullCount() > 0) {
      throw new IllegalArgumentException("column '" + column + "' has " + in.vector(column).getNullCount()
          + " null rows: no image to convert");
    }
    int[] rs = src.rowShape();
    boolean nchw = layout == Layout.NCHW;
    if (nchw && rs.length != 3) {
      throw new IllegalArgumentException("column '" + column + "' has rows of shape " + java.util.Arrays.toString(rs)
          + ": NCHW needs [height, width, channels]");
    }
    TensorSpec spec = nchw ? TensorSpec.of(ElementType.FLOAT32, rs[2], rs[0], rs[1]) : TensorSpec.of(ElementType.FLOAT32, rs);
    int n = in.rowCount();
    Batch floats;
    try (BatchBuilder out = BatchBuilder.createUninitialized(ctx.allocator(), new Schema(List.of(spec.toField(column))),
        Math.max(n, 1), 0, in.sources())) {
      if (n > 0) {
        ArrowBuf dst = out.tensorData(column);
        long bytes = 4L * src.totalElements();
        if (bytes > Integer.MAX_VALUE) {
          throw new IllegalArgumentException("column '" + column + "' would take " + bytes + " bytes as floats in one batch,"
              + " more than 2 GiB: use smaller batches");
        }
        TensorCopy.bytesToFloats(src.bytes(), dst.nioBuffer(0, (int) bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer(),
            n, src.rowElements(), nchw ? rs[0] * rs[1] : 0, nchw ? rs[2] : 0, (float) scale);
      }
      floats = out.build(n);
    }
    try {
      return in.withColumnsOf(ctx.allocator(), List.of(column), floats);
    } finally {
      floats.close(); // (already consumed unless adding failed)
    }
  }

  @Override
  public String toString() {
    return "TensorToFloat[" + column + ", scale " + scale + ", " + layout + "]";
  }
}
