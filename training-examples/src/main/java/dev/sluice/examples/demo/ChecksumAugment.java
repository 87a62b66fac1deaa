package dev.sluice.examples.demo;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FloatingPointVector;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A stateful "augment" stage for an actor pool: inverts every byte of a {@code uint8} tensor column
 * ({@code v -> 255 - v}, a cheap stand-in for a colour augmentation) and adds an int64 column
 * {@value #CHECKSUM} with a 64-bit hash of each row's augmented tensor, so that the consumer can
 * verify what it received. Every other column is copied.
 *
 * <p>The state is what an actor would keep between calls (here the output schema, derived once from
 * the first input, and counters). Instances are not thread-safe: an actor calls its own instance
 * from one thread at a time.
 */
public final class ChecksumAugment implements BatchFunction {
  /** The added column. */
  public static final String CHECKSUM = "checksum";

  private final String tensorColumn;
  private Schema inputSchema;
  private Schema outputSchema;
  private long rows;
  private long batches;

  /** Augments the {@value ExpandDecode#PIXELS} column (the no-argument constructor actors use). */
  public ChecksumAugment() {
    this(ExpandDecode.PIXELS);
  }

  /** Augments the given tensor column, which must hold {@code UINT8} elements. */
  public ChecksumAugment(String tensorColumn) {
    this.tensorColumn = tensorColumn;
  }

  @Override
  public Batch apply(Batch input, BatchContext context) {
    Schema schema = schemaFor(input);
    int n = input.rowCount();
    TensorSpec spec = input.tensorSpec(tensorColumn);
    int rowBytes = spec.rowBytes();
    long varBytes = 0;
    for (Field f : input.schema().getFields()) {
      if (input.vector(f.getName()) instanceof BaseVariableWidthVector v) {
        long total = 0;
        for (int r = 0; r < n; r++) {
          total += v.isNull(r) ? 0 : v.getValueLength(r);
        }
        varBytes = Math.max(varBytes, total);
      }
    }
    try (BatchBuilder out =
        BatchBuilder.create(context.allocator(), schema, n, varBytes, input.sources())) {
      ArrowBuf from = input.tensorData(tensorColumn);
      ArrowBuf to = out.tensorData(tensorColumn);
      for (int r = 0; r < n; r++) {
        out.setLong(CHECKSUM, r, invertAndHash(from, to, (long) r * rowBytes, rowBytes));
      }
      for (Field f : input.schema().getFields()) {
        if (!f.getName().equals(tensorColumn)) {
          copyColumn(input, out, f.getName());
        }
      }
      rows += n;
      batches++;
      return out.build(n);
    }
  }

  /** Rows this instance has augmented. */
  public long rowsAugmented() {
    return rows;
  }

  /** Calls this instance has served. */
  public long batchesAugmented() {
    return batches;
  }

  /**
   * Writes {@code 255 - v} for each of the {@code length} bytes at {@code offset} of {@code from}
   * into {@code to} at the same offset, eight at a time, and returns a hash of what it wrote.
   */
  static long invertAndHash(ArrowBuf from, ArrowBuf to, long offset, int length) {
    long h = 0xCBF29CE484222325L;
    int i = 0;
    for (; i + 8 <= length; i += 8) {
      long w = ~from.getLong(offset + i);
      to.setLong(offset + i, w);
      h = (h ^ w) * 0x100000001B3L;
    }
    for (; i < length; i++) {
      byte b = (byte) ~from.getByte(offset + i);
      to.setByte(offset + i, b);
      h = (h ^ (b & 0xFF)) * 0x100000001B3L;
    }
    return h ^ (h >>> 29);
  }

  /** Copies a small column (keys, labels) cell by cell. */
  private static void copyColumn(Batch input, BatchBuilder out, String column) {
    FieldVector v = input.vector(column);
    for (int r = 0; r < input.rowCount(); r++) {
      if (v.isNull(r)) {
        out.setNull(column, r);
      } else if (v instanceof BaseVariableWidthVector) {
        out.setBytes(column, r, input.getBytes(column, r));
      } else if (v instanceof BaseIntVector) {
        out.setLong(column, r, input.getLong(column, r));
      } else if (v instanceof FloatingPointVector) {
        out.setDouble(column, r, input.getDouble(column, r));
      } else {
        throw new IllegalArgumentException(
            "cannot copy column '" + column + "' of type " + v.getField().getType());
      }
    }
  }

  private Schema schemaFor(Batch input) {
    if (!input.schema().equals(inputSchema)) {
      TensorSpec spec = input.tensorSpec(tensorColumn);
      if (spec.elementType() != ElementType.UINT8) {
        throw new IllegalArgumentException(
            "column '" + tensorColumn + "' holds " + spec + ", expected uint8");
      }
      if (ExpandDecode.hasColumn(input, CHECKSUM)) {
        throw new IllegalArgumentException("input already has a '" + CHECKSUM + "' column");
      }
      List<Field> fields = new ArrayList<>(input.schema().getFields());
      fields.add(Columns.int64(CHECKSUM));
      inputSchema = input.schema();
      outputSchema = new Schema(fields);
    }
    return outputSchema;
  }

  @Override
  public String toString() {
    return "ChecksumAugment[" + tensorColumn + ", " + rows + " rows]";
  }
}
