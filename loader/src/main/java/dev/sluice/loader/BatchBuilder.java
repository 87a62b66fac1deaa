package dev.sluice.loader;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes a {@link Batch} of a fixed schema, row by row or, for tensor columns, straight into the
 * column's contiguous buffer.
 *
 * <p>Memory is allocated up front in the given allocator for {@code rowCapacity} rows (and the
 * given variable-length bytes), so that a builder sized right never grows its buffers by doubling.
 * Writing past the capacity grows them (correct, but briefly holds old and new buffers).
 *
 * <p><b>Ownership.</b> Until {@link #build} the builder owns the memory and {@link #close()}
 * releases it; {@code build} hands it to the returned batch, after which {@code close()} does
 * nothing. Not thread-safe.
 */
public final class BatchBuilder implements AutoCloseable {
  private final VectorSchemaRoot root;
  private final List<String> sources;
  private final int rowCapacity;
  private boolean built;

  private BatchBuilder(VectorSchemaRoot root, int rowCapacity, List<String> sources) {
    this.root = root;
    this.rowCapacity = rowCapacity;
    this.sources = sources;
  }

  /**
   * A builder for up to {@code rowCapacity} rows.
   *
   * @param allocator where the batch's memory is allocated (and accounted)
   * @param schema the columns (see {@link Columns})
   * @param rowCapacity rows to allocate for
   * @param variableBytes bytes to allocate for each variable-length column (binary, UTF-8)
   * @param sources the files the rows come from, carried by the batch for error messages
   */
  public static BatchBuilder create(
      BufferAllocator allocator,
      Schema schema,
      int rowCapacity,
      long variableBytes,
      List<String> sources) {
    return create(allocator, schema, rowCapacity, variableBytes, sources, true);
  }

  /**
   * Like {@link #create(BufferAllocator, Schema, int, long, List)}, but the tensor columns' data is
   * not zeroed: for a writer that writes every row it builds in full (a decoder filling whole
   * images), so that a block's pixels are written once rather than cleared first. A row left
   * unwritten holds whatever the memory held before (the store recycles released blocks).
   */
  public static BatchBuilder createUninitialized(
      BufferAllocator allocator,
      Schema schema,
      int rowCapacity,
      long variableBytes,
      List<String> sources) {
    return create(allocator, schema, rowCapacity, variableBytes, sources, false);
  }

  private static BatchBuilder create(
      BufferAllocator allocator,
      Schema schema,
      int rowCapacity,
      long variableBytes,
      List<String> sources,
      boolean zeroTensors) {
    VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
    try {
      for (FieldVector v : root.getFieldVectors()) {
        if (v instanceof FixedSizeBinaryVector fixed
            && TensorSpec.fromField(v.getField()) != null) {
          // Validity and data in buffers of their own: Arrow's one combined buffer of a row's
          // bytes plus its validity bits rounds up past a power of two (8 MiB + 1 byte -> 16 MiB).
          allocateUninitialized(fixed, Math.max(rowCapacity, 1));
          if (zeroTensors) {
            fixed.getDataBuffer().setZero(0, fixed.getDataBuffer().capacity());
          }
        } else {
          // Arrow zeroes a fixed-width vector's buffers as it allocates them.
          Batch.allocate(v, rowCapacity, variableBytes);
        }
      }
      return new BatchBuilder(root, rowCapacity, List.copyOf(sources));
    } catch (RuntimeException e) {
      root.close();
      throw e;
    }
  }

  // A cleared validity buffer (all rows null until build) and a data buffer as the allocator gives
  // it.
  static void allocateUninitialized(FixedSizeBinaryVector vector, int rows) {
    BufferAllocator allocator = vector.getAllocator();
    try (ArrowBuf validity = allocator.getEmpty();
        ArrowBuf data = allocator.buffer((long) rows * vector.getByteWidth())) {
      // A node whose rows are all null: Arrow allocates a cleared validity buffer for it and keeps
      // (retains) the data buffer as it is.
      vector.loadFieldBuffers(new ArrowFieldNode(rows, rows), List.of(validity, data));
    }
    vector.setValueCount(0);
  }

  /** A builder with no variable-length pre-allocation hint and no sources. */
  public static BatchBuilder create(BufferAllocator allocator, Schema schema, int rowCapacity) {
    return create(allocator, schema, rowCapacity, 0, List.of());
  }

  /** The row capacity the builder was sized for. */
  public int rowCapacity() {
    return rowCapacity;
  }

  /** Sets a binary (or UTF-8, or tensor) cell to the given bytes. */
  public BatchBuilder setBytes(String column, int row, byte[] value) {
    FieldVector v = vector(column);
    if (value == null) {
      setNull(column, row);
    } else if (v instanceof BaseVariableWidthVector var) {
      var.setSafe(row, value);
    } else if (v instanceof FixedSizeBinaryVector fixed) {
      if (value.length != fixed.getByteWidth()) {
        throw new IllegalArgumentException(
            "column '"
                + column
                + "' holds "
                + fixed.getByteWidth()
                + " bytes per row, got "
                + value.length);
      }
      fixed.setSafe(row, value);
    } else {
      throw new IllegalArgumentException("column '" + column + "' is not binary");
    }
    return this;
  }

  /** Sets a UTF-8 cell. */
  public BatchBuilder setString(String column, int row, String value) {
    return setBytes(column, row, value == null ? null : value.getBytes(StandardCharsets.UTF_8));
  }

  /** Sets an integer cell of any width (checked). */
  public BatchBuilder setLong(String column, int row, long value) {
    FieldVector v = vector(column);
    if (v instanceof BigIntVector b) {
      b.setSafe(row, value);
    } else if (v instanceof IntVector i) {
      i.setSafe(row, Math.toIntExact(value));
    } else if (v instanceof SmallIntVector s) {
      s.setSafe(row, (short) value);
    } else if (v instanceof TinyIntVector t) {
      t.setSafe(row, (byte) value);
    } else {
      throw new IllegalArgumentException("column '" + column + "' is not an integer column");
    }
    return this;
  }

  /** Sets a floating-point cell. */
  public BatchBuilder setDouble(String column, int row, double value) {
    FieldVector v = vector(column);
    if (v instanceof Float8Vector d) {
      d.setSafe(row, value);
    } else if (v instanceof Float4Vector f) {
      f.setSafe(row, (float) value);
    } else {
      throw new IllegalArgumentException("column '" + column + "' is not a floating-point column");
    }
    return this;
  }

  /** Sets a boolean cell. */
  public BatchBuilder setBoolean(String column, int row, boolean value) {
    FieldVector v = vector(column);
    if (!(v instanceof BitVector bits)) {
      throw new IllegalArgumentException("column '" + column + "' is not a boolean column");
    }
    bits.setSafe(row, value ? 1 : 0);
    return this;
  }

  /** Sets a cell to null. */
  public BatchBuilder setNull(String column, int row) {
    FieldVector v = vector(column);
    if (!v.getField().isNullable()) {
      throw new IllegalArgumentException("column '" + column + "' is not nullable");
    }
    if (v instanceof BaseFixedWidthVector fixed) {
      fixed.setNull(row);
    } else if (v instanceof BaseVariableWidthVector var) {
      var.setNull(row);
    } else {
      throw new IllegalArgumentException("cannot set null in column '" + column + "'");
    }
    return this;
  }

  /**
   * The contiguous data buffer of a tensor column, for writing in place: row {@code i} occupies
   * bytes {@code [i * rowBytes, (i + 1) * rowBytes)}. Rows written this way must lie within the
   * capacity; they become valid at {@link #build}.
   */
  public ArrowBuf tensorData(String column) {
    FieldVector v = vector(column);
    if (!(v instanceof FixedSizeBinaryVector) || TensorSpec.fromField(v.getField()) == null) {
      throw new IllegalArgumentException("column '" + column + "' is not a tensor column");
    }
    return v.getDataBuffer();
  }

  /** The tensor spec of a tensor column. */
  public TensorSpec tensorSpec(String column) {
    TensorSpec spec = TensorSpec.fromField(vector(column).getField());
    if (spec == null) {
      throw new IllegalArgumentException("column '" + column + "' is not a tensor column");
    }
    return spec;
  }

  /**
   * Finishes the batch with {@code rowCount} rows and hands its memory to it. Tensor columns are
   * marked valid for every row.
   */
  public Batch build(int rowCount) {
    if (built) {
      throw new IllegalStateException("already built");
    }
    for (FieldVector v : root.getFieldVectors()) {
      if (v instanceof FixedSizeBinaryVector fixed && TensorSpec.fromField(v.getField()) != null) {
        if (rowCount > fixed.getValueCapacity()) {
          throw new IllegalStateException(
              "tensor column '"
                  + v.getName()
                  + "' has capacity "
                  + fixed.getValueCapacity()
                  + " < "
                  + rowCount);
        }
        for (int r = 0; r < rowCount; r++) {
          BitVectorHelper.setBit(fixed.getValidityBuffer(), r);
        }
      }
      v.setValueCount(rowCount);
    }
    root.setRowCount(rowCount);
    built = true;
    return new Batch(root, sources);
  }

  @Override
  public void close() {
    if (!built) {
      built = true;
      root.close();
    }
  }

  private FieldVector vector(String column) {
    if (built) {
      throw new IllegalStateException("builder already built or closed");
    }
    FieldVector v = root.getVector(column);
    if (v == null) {
      throw new IllegalArgumentException("no column '" + column + "' in " + root.getSchema());
    }
    return v;
  }

  /** The field of a column, for callers that build schemas from other schemas. */
  public Field field(String column) {
    return vector(column).getField();
  }
}
