package dev.sluice.nd4j.internal;

import dev.sluice.loader.Batch;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;

/**
 * One column of a batch seen as a contiguous, row-major buffer of {@code rows x rowShape} elements:
 * a tensor column, or a fixed-width numeric column (a per-row shape of {@code [1]}). Valid only
 * while the batch is open.
 *
 * @param column the column name, for messages
 * @param type the element type
 * @param rowShape the shape of one row's tensor
 * @param rows the number of rows
 * @param data the column's data buffer (a view owned by the batch)
 * @param scalar whether the column is a numeric scalar column rather than a tensor column
 */
public record ColumnData(
    String column, ElementType type, int[] rowShape, int rows, ArrowBuf data, boolean scalar) {

  /**
   * Resolves a column of a batch; fails with a message naming the column when it cannot be used.
   */
  public static ColumnData of(Batch batch, String column) {
    FieldVector v = batch.vector(column);
    int rows = batch.rowCount();
    if (v instanceof FixedSizeBinaryVector) {
      TensorSpec spec = TensorSpec.fromField(v.getField());
      if (spec == null) {
        throw new IllegalArgumentException(
            "column '"
                + column
                + "' is fixed-size binary without tensor metadata ("
                + TensorSpec.SHAPE_KEY
                + ")");
      }
      return new ColumnData(
          column, spec.elementType(), spec.shape(), rows, batch.tensorData(column), false);
    }
    if (v instanceof BaseFixedWidthVector fixed) {
      ElementType t = scalarType(v.getField().getType());
      if (t == null) {
        throw new IllegalArgumentException(
            "column '"
                + column
                + "' of type "
                + v.getField().getType()
                + " cannot become an INDArray");
      }
      if (fixed.getNullCount() > 0) {
        for (int r = 0; r < rows; r++) {
          if (fixed.isNull(r)) {
            throw new IllegalArgumentException(
                "column '" + column + "' has a null value at " + batch.describeRow(r));
          }
        }
      }
      return new ColumnData(column, t, new int[] {1}, rows, fixed.getDataBuffer(), true);
    }
    throw new IllegalArgumentException(
        "column '"
            + column
            + "' of type "
            + v.getField().getType()
            + " is neither a tensor nor a numeric column");
  }

  private static ElementType scalarType(ArrowType type) {
    if (type instanceof ArrowType.Int i) {
      return switch (i.getBitWidth()) {
        case 8 -> i.getIsSigned() ? ElementType.INT8 : ElementType.UINT8;
        case 16 -> i.getIsSigned() ? ElementType.INT16 : null;
        case 32 -> i.getIsSigned() ? ElementType.INT32 : null;
        case 64 -> i.getIsSigned() ? ElementType.INT64 : null;
        default -> null;
      };
    }
    if (type instanceof ArrowType.FloatingPoint fp) {
      return fp.getPrecision() == FloatingPointPrecision.SINGLE
          ? ElementType.FLOAT32
          : fp.getPrecision() == FloatingPointPrecision.DOUBLE ? ElementType.FLOAT64 : null;
    }
    return null;
  }

  @Override
  public int[] rowShape() {
    return rowShape.clone();
  }

  /** Elements in one row. */
  public int rowElements() {
    int n = 1;
    for (int d : rowShape) {
      n *= d;
    }
    return n;
  }

  /** Elements in the whole column, checked to fit in an int (ND4J's NIO views are int-indexed). */
  public int totalElements() {
    long n = (long) rows * rowElements();
    if (n > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "column '" + column + "' holds " + n + " elements, more than 2^31 - 1 per batch");
    }
    return (int) n;
  }

  /** Bytes of the whole column. */
  public long byteLength() {
    return (long) totalElements() * type.byteWidth();
  }

  /** The shape {@code [rows, rowShape...]}. */
  public long[] batchShape() {
    long[] s = new long[rowShape.length + 1];
    s[0] = rows;
    for (int i = 0; i < rowShape.length; i++) {
      s[i + 1] = rowShape[i];
    }
    return s;
  }

  /** A little-endian NIO view of the column's bytes (valid while the batch is open). */
  public ByteBuffer bytes() {
    if (byteLength() == 0) {
      return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
    }
    if (byteLength() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "column '" + column + "' holds more than 2 GiB in one batch");
    }
    return data.nioBuffer(0, (int) byteLength()).order(ByteOrder.LITTLE_ENDIAN);
  }
}
