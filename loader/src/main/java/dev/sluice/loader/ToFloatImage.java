package dev.sluice.loader;

import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Turns a uint8 image tensor column {@code [H, W, C]} into a float32 column {@code [C, H, W]}
 * (channels first, as DL4J's convolution layers take it), each value {@code (v * scale - mean[c]) /
 * std[c]}: torchvision's {@code ToTensor} and {@code Normalize} as a pipeline step, so that the
 * conversion runs in parallel tasks rather than on a trainer's prefetch thread, and the iterator
 * can hand the bytes to ND4J with one memory copy. Other columns are carried over. Stateless and
 * thread-safe.
 */
public final class ToFloatImage implements BatchFunction {
  private final String column;
  private final String output;
  private final float scale;
  private final float[] mean;
  private final float[] std;

  private ToFloatImage(String column, String output, float scale, float[] mean, float[] std) {
    this.column = column;
    this.output = output;
    this.scale = scale;
    this.mean = mean.clone();
    this.std = std.clone();
  }

  /** Scales to [0, 1] ({@code v / 255}), channels first, into {@code output} (which may be {@code column}). */
  public static ToFloatImage of(String column, String output) {
    return new ToFloatImage(column, output, 1 / 255f, new float[0], new float[0]);
  }

  /** The same, then {@code (x - mean[c]) / std[c]} per channel. */
  public ToFloatImage normalized(float[] mean, float[] std) {
    if (mean.length != std.length) {
      throw new IllegalArgumentException("mean and std need one value per channel");
    }
    return new ToFloatImage(column, output, scale, mean, std);
  }

  @Override
  public Batch apply(Batch in, BatchContext ctx) {
    TensorSpec spec = in.tensorSpec(column);
    int[] s = spec.shape();
    if (spec.elementType() != ElementType.UINT8 || s.length != 3) {
      throw new IllegalArgumentException("column '" + column + "' must be a uint8 [H, W, C] tensor, is " + spec);
    }
    int h = s[0];
    int w = s[1];
    int c = s[2];
    if (mean.length > 0 && mean.length != c) {
      throw new IllegalArgumentException("normalisation has " + mean.length + " channels, the image " + c);
    }
    List<Field> fields = new ArrayList<>();
    for (Field f : in.schema().getFields()) {
      if (!f.getName().equals(column) && !f.getName().equals(output)) {
        fields.add(f);
      }
    }
    fields.add(Columns.tensor(output, ElementType.FLOAT32, c, h, w));
    int n = in.rowCount();
    try (BatchBuilder out = BatchBuilder.create(ctx.allocator(), new Schema(fields), Math.max(n, 1), 0, in.sources())) {
      ArrowBuf src = in.tensorData(column);
      ArrowBuf dst = out.tensorData(output);
      int hw = h * w;
      byte[] row = new byte[hw * c];
      float[] plane = new float[hw];
      float[] a = new float[c];
      float[] b = new float[c];
      for (int k = 0; k < c; k++) {
        float sd = std.length > 0 ? std[k] : 1f;
        a[k] = scale / sd;
        b[k] = (mean.length > 0 ? -mean[k] : 0f) / sd;
      }
      for (int r = 0; r < n; r++) {
        src.getBytes((long) r * hw * c, row, 0, row.length);
        long base = (long) r * hw * c * 4;
        for (int k = 0; k < c; k++) {
          float ak = a[k];
          float bk = b[k];
          for (int p = 0, q = k; p < hw; p++, q += c) {
            plane[p] = (row[q] & 0xFF) * ak + bk;
          }
          long at = base + (long) k * hw * 4;
          dst.nioBuffer(at, hw * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(plane);
        }
      }
      for (Field f : fields) {
        if (!f.getName().equals(output)) {
          FieldVector v = in.vector(f.getName());
          for (int r = 0; r < n; r++) {
            if (v.isNull(r)) {
              out.setNull(f.getName(), r);
            } else if (v instanceof org.apache.arrow.vector.BaseIntVector) {
              out.setLong(f.getName(), r, in.getLong(f.getName(), r));
            } else if (v instanceof org.apache.arrow.vector.FloatingPointVector) {
              out.setDouble(f.getName(), r, in.getDouble(f.getName(), r));
            } else {
              out.setBytes(f.getName(), r, in.getBytes(f.getName(), r));
            }
          }
        }
      }
      return out.build(n);
    }
  }
}
