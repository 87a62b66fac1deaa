package dev.sluice.nd4j.internal;

import dev.sluice.loader.ElementType;
import dev.sluice.loader.internal.convert.FloatConversion;
import dev.sluice.nd4j.Layout;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The converting copy from a column's Arrow bytes into a fresh ND4J array: element type conversion,
 * scaling and the NHWC to NCHW transposition in one pass over the source, row by row through a
 * small scratch row (so the whole batch is read once and written once).
 */
public final class TensorCopy {
  private TensorCopy() {}

  /** The shape of the array {@link #copy} fills for a column and a layout. */
  public static long[] shape(ColumnData src, Layout layout) {
    long[] s = src.batchShape();
    if (layout == Layout.NCHW) {
      if (s.length != 4) {
        throw new IllegalArgumentException(
            "layout NCHW needs a per-row shape [h, w, c]; column '"
                + src.column()
                + "' has "
                + java.util.Arrays.toString(src.rowShape()));
      }
      return new long[] {s[0], s[3], s[1], s[2]};
    }
    return s;
  }

  /** Whether {@code dst} may be filled by a plain memory copy of the column's bytes. */
  public static boolean isBitwise(ColumnData src, Layout layout, double scale, DataType dst) {
    return NativeMemory.dataType(src.type()) == dst
        && scale == 1.0
        && (layout == Layout.AS_STORED || src.rowShape().length == 3 && src.rowShape()[2] == 1);
  }

  /**
   * Fills {@code dst} (a fresh, 'c'-ordered, host-resident array of {@link #shape}) from the
   * column. Floating-point targets are computed in their own precision; integer targets go through
   * double and are rounded toward zero (exact for every integer below 2^53).
   */
  public static void copy(ColumnData src, Layout layout, double scale, INDArray dst) {
    if (src.totalElements() == 0) {
      return;
    }
    DataType type = dst.dataType();
    if (isBitwise(src, layout, scale, type)) {
      NativeMemory.copy(
          src.data().memoryAddress(),
          dst.data().addressPointer().address() + dst.offset() * type.width(),
          src.byteLength());
      return;
    }
    ByteBuffer in = src.bytes();
    ByteBuffer out = NativeMemory.hostBytes(dst);
    int e = src.rowElements();
    int[] rs = src.rowShape();
    boolean nchw = layout == Layout.NCHW;
    int h = nchw ? rs[0] : 0;
    int w = nchw ? rs[1] : 0;
    int c = nchw ? rs[2] : 0;
    if (type == DataType.FLOAT && src.type() == ElementType.UINT8) {
      bytesToFloats(in, out.asFloatBuffer(), src.rows(), e, nchw ? h * w : 0, c, (float) scale);
    } else if (type == DataType.FLOAT) {
      FloatBuffer o = out.asFloatBuffer();
      float[] row = new float[e];
      float[] t = nchw ? new float[e] : row;
      float s = (float) scale;
      for (int r = 0; r < src.rows(); r++) {
        readRow(in, src.type(), r, e, row);
        if (nchw) {
          transpose(row, t, h * w, c);
        }
        if (s != 1f) {
          for (int k = 0; k < e; k++) {
            t[k] *= s;
          }
        }
        o.put(r * e, t);
      }
    } else if (type == DataType.DOUBLE || type.isIntType()) {
      double[] row = new double[e];
      double[] t = nchw ? new double[e] : row;
      DoubleBuffer dOut = type == DataType.DOUBLE ? out.asDoubleBuffer() : null;
      for (int r = 0; r < src.rows(); r++) {
        readRow(in, src.type(), r, e, row);
        if (nchw) {
          transpose(row, t, h * w, c);
        }
        if (scale != 1.0) {
          for (int k = 0; k < e; k++) {
            t[k] *= scale;
          }
        }
        if (dOut != null) {
          dOut.put(r * e, t);
        } else {
          writeIntegers(out, type, r * e, t);
        }
      }
    } else {
      throw new IllegalArgumentException("cannot convert column '" + src.column() + "' to " + type);
    }
  }

  /**
   * Images' bytes to scaled floats, the commonest conversion: the loader's {@link FloatConversion},
   * which {@link dev.sluice.loader.ToFloatImage} uses too, so that converting in the pipeline and
   * here give the same values. With {@code hw > 0} each row goes from HWC to CHW.
   */
  public static void bytesToFloats(
      ByteBuffer in, FloatBuffer out, int rows, int e, int hw, int c, float scale) {
    FloatConversion.bytesToFloats(in, out, rows, e, hw, new float[] {scale}, new float[] {0f});
  }

  /** {@code t[ch * hw + p] = row[p * c + ch]}: HWC to CHW. */
  private static void transpose(float[] row, float[] t, int hw, int c) {
    for (int ch = 0; ch < c; ch++) {
      int base = ch * hw;
      for (int p = 0; p < hw; p++) {
        t[base + p] = row[p * c + ch];
      }
    }
  }

  private static void transpose(double[] row, double[] t, int hw, int c) {
    for (int ch = 0; ch < c; ch++) {
      int base = ch * hw;
      for (int p = 0; p < hw; p++) {
        t[base + p] = row[p * c + ch];
      }
    }
  }

  private static void readRow(ByteBuffer in, ElementType type, int r, int e, float[] row) {
    int at = r * e * type.byteWidth();
    switch (type) {
      case UINT8 -> {
        for (int k = 0; k < e; k++) row[k] = in.get(at + k) & 0xFF;
      }
      case INT8 -> {
        for (int k = 0; k < e; k++) row[k] = in.get(at + k);
      }
      case INT16 -> {
        for (int k = 0; k < e; k++) row[k] = in.getShort(at + 2 * k);
      }
      case INT32 -> {
        for (int k = 0; k < e; k++) row[k] = in.getInt(at + 4 * k);
      }
      case INT64 -> {
        for (int k = 0; k < e; k++) row[k] = in.getLong(at + 8 * k);
      }
      case FLOAT32 -> {
        for (int k = 0; k < e; k++) row[k] = in.getFloat(at + 4 * k);
      }
      case FLOAT64 -> {
        for (int k = 0; k < e; k++) row[k] = (float) in.getDouble(at + 8 * k);
      }
    }
  }

  private static void readRow(ByteBuffer in, ElementType type, int r, int e, double[] row) {
    int at = r * e * type.byteWidth();
    switch (type) {
      case UINT8 -> {
        for (int k = 0; k < e; k++) row[k] = in.get(at + k) & 0xFF;
      }
      case INT8 -> {
        for (int k = 0; k < e; k++) row[k] = in.get(at + k);
      }
      case INT16 -> {
        for (int k = 0; k < e; k++) row[k] = in.getShort(at + 2 * k);
      }
      case INT32 -> {
        for (int k = 0; k < e; k++) row[k] = in.getInt(at + 4 * k);
      }
      case INT64 -> {
        for (int k = 0; k < e; k++) row[k] = in.getLong(at + 8 * k);
      }
      case FLOAT32 -> {
        for (int k = 0; k < e; k++) row[k] = in.getFloat(at + 4 * k);
      }
      case FLOAT64 -> {
        for (int k = 0; k < e; k++) row[k] = in.getDouble(at + 8 * k);
      }
    }
  }

  private static void writeIntegers(ByteBuffer out, DataType type, int from, double[] v) {
    switch (type) {
      case UBYTE, BYTE -> {
        for (int k = 0; k < v.length; k++) out.put(from + k, (byte) (long) v[k]);
      }
      case SHORT -> {
        for (int k = 0; k < v.length; k++) out.putShort(2 * (from + k), (short) (long) v[k]);
      }
      case INT -> {
        for (int k = 0; k < v.length; k++) out.putInt(4 * (from + k), (int) (long) v[k]);
      }
      case LONG -> {
        for (int k = 0; k < v.length; k++) out.putLong(8 * (from + k), (long) v[k]);
      }
      default -> throw new IllegalArgumentException("cannot convert to " + type);
    }
  }

  /**
   * Reads element {@code row} of a column of one integer per row, for class indices. Fails on a
   * non-integer element type or a row of more than one element.
   */
  public static long integerAt(ColumnData src, ByteBuffer in, int row) {
    return switch (src.type()) {
      case UINT8 -> in.get(row) & 0xFF;
      case INT8 -> in.get(row);
      case INT16 -> in.getShort(2 * row);
      case INT32 -> in.getInt(4 * row);
      case INT64 -> in.getLong(8 * row);
      case FLOAT32, FLOAT64 ->
          throw new IllegalArgumentException(
              "column '" + src.column() + "' holds " + src.type() + ", not class indices");
    };
  }
}
