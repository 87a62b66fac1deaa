package dev.sluice.loader;

import dev.sluice.loader.internal.convert.FloatConversion;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Objects;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Turns a uint8 image tensor column into float32: each value {@code v * scale}, or {@code (v *
 * scale - mean[c]) / std[c]} per channel (torchvision's {@code ToTensor} and {@code Normalize} as a
 * pipeline step), with rows {@code [H, W, C]} turned channels first, {@code [C, H, W]}, as DL4J's
 * convolution layers take them (or kept as stored, {@link #channelsLast()}).
 *
 * <p>Why: fused after a decoder, the conversion runs in the pipeline's tasks on every core rather
 * than on a trainer's one prefetch thread, and leaves a float column that the DL4J iterator can
 * hand to ND4J without a copy ({@code shareBatchMemory}). The values are exactly those of the
 * iterator's own conversion of a uint8 column (the same code computes both).
 *
 * <p>The result is written to {@code output} (by default the column itself); the input column is
 * dropped, the other columns are shared with the input, not copied. Immutable, stateless and
 * thread-safe.
 */
public final class ToFloatImage implements BatchFunction {
  private final String column;
  private final String output;
  private final float scale;
  private final float[] mean;
  private final float[] std;
  private final boolean channelsFirst;

  private ToFloatImage(
      String column, String output, float scale, float[] mean, float[] std, boolean channelsFirst) {
    this.column = Objects.requireNonNull(column, "column");
    this.output = Objects.requireNonNull(output, "output");
    this.scale = scale;
    this.mean = mean.clone();
    this.std = std.clone();
    this.channelsFirst = channelsFirst;
  }

  /** {@code column} scaled to [0, 1] ({@code v / 255}), channels first, in place. */
  public static ToFloatImage of(String column) {
    return of(column, column);
  }

  /** {@code column} scaled to [0, 1] ({@code v / 255}), channels first, into {@code output}. */
  public static ToFloatImage of(String column, String output) {
    return new ToFloatImage(column, output, 1 / 255f, new float[0], new float[0], true);
  }

  /**
   * The same with another factor ({@code 1 / 255.0} by default; 1 keeps the byte values).
   *
   * @throws IllegalArgumentException when the scale is not finite and positive
   */
  public ToFloatImage scaled(double scale) {
    if (!Double.isFinite(scale) || scale <= 0) {
      throw new IllegalArgumentException("scale must be finite and positive: " + scale);
    }
    return new ToFloatImage(column, output, (float) scale, mean, std, channelsFirst);
  }

  /**
   * The same, then {@code (x - mean[c]) / std[c]} per channel.
   *
   * @throws IllegalArgumentException unless there is one mean and one positive std per channel
   */
  public ToFloatImage normalized(float[] mean, float[] std) {
    if (mean.length != std.length || mean.length == 0) {
      throw new IllegalArgumentException("mean and std need one value per channel");
    }
    for (float s : std) {
      if (!(s > 0) || !Float.isFinite(s)) {
        throw new IllegalArgumentException("std must be finite and positive: " + s);
      }
    }
    return new ToFloatImage(column, output, scale, mean, std, channelsFirst);
  }

  /** The same, keeping each row's shape as stored (any shape; channels last when normalized). */
  public ToFloatImage channelsLast() {
    return new ToFloatImage(column, output, scale, mean, std, false);
  }

  /**
   * @throws IllegalArgumentException naming the column when it is missing, not a uint8 tensor
   *     column, has null rows, or has rows that are not {@code [H, W, C]} (channels first) or whose
   *     channels do not match the normalisation's
   */
  @Override
  public Batch apply(Batch in, BatchContext ctx) {
    TensorSpec spec = in.tensorSpec(column);
    if (spec.elementType() != ElementType.UINT8) {
      throw new IllegalArgumentException(
          "column '" + column + "' must be a uint8 tensor column, is " + spec);
    }
    long nulls = in.vector(column).getNullCount();
    if (nulls > 0) {
      throw new IllegalArgumentException(
          "column '" + column + "' has " + nulls + " null rows: no image to convert");
    }
    int[] s = spec.shape();
    if (channelsFirst && s.length != 3) {
      throw new IllegalArgumentException(
          "column '"
              + column
              + "' has rows of shape "
              + java.util.Arrays.toString(s)
              + ": channels first needs [H, W, C]");
    }
    int channels = s.length == 0 ? 1 : s[s.length - 1];
    if (mean.length > 0 && mean.length != channels) {
      throw new IllegalArgumentException(
          "the normalisation has "
              + mean.length
              + " channels, column '"
              + column
              + "' "
              + channels);
    }
    TensorSpec floatSpec =
        channelsFirst
            ? TensorSpec.of(ElementType.FLOAT32, s[2], s[0], s[1])
            : TensorSpec.of(ElementType.FLOAT32, s);
    int n = in.rowCount();
    long elements = (long) n * spec.elementCount();
    if (elements * 4 > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "column '"
              + column
              + "' would take "
              + elements * 4
              + " bytes as floats in one"
              + " batch, more than 2 GiB: use smaller batches");
    }
    Batch floats;
    try (BatchBuilder out =
        BatchBuilder.createUninitialized(
            ctx.allocator(),
            new Schema(List.of(floatSpec.toField(output))),
            Math.max(n, 1),
            0,
            in.sources())) {
      if (n > 0) {
        ArrowBuf src = in.tensorData(column);
        ArrowBuf dst = out.tensorData(output);
        int e = (int) spec.elementCount();
        FloatConversion.bytesToFloats(
            src.nioBuffer(0, (int) elements),
            dst.nioBuffer(0, (int) elements * 4).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer(),
            n,
            e,
            channelsFirst ? s[0] * s[1] : 0,
            factors(),
            offsets());
      }
      floats = out.build(n);
    }
    try {
      return in.withColumnsOf(
          ctx.allocator(),
          output.equals(column) ? List.of(column) : List.of(column, output),
          floats);
    } finally {
      floats.close(); // (already consumed unless adding failed)
    }
  }

  private float[] factors() {
    if (mean.length == 0) {
      return new float[] {scale};
    }
    float[] a = new float[mean.length];
    for (int k = 0; k < a.length; k++) {
      a[k] = scale / std[k];
    }
    return a;
  }

  private float[] offsets() {
    if (mean.length == 0) {
      return new float[] {0f};
    }
    float[] b = new float[mean.length];
    for (int k = 0; k < b.length; k++) {
      b[k] = -mean[k] / std[k];
    }
    return b;
  }

  @Override
  public String toString() {
    return "ToFloatImage["
        + column
        + (output.equals(column) ? "" : " -> " + output)
        + ", scale "
        + scale
        + (mean.length > 0 ? ", normalized" : "")
        + (channelsFirst ? ", channels first" : ", as stored")
        + "]";
  }
}
