package dev.sluice.loader.sink;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import dev.sluice.loader.Batch;
import dev.sluice.loader.TensorSpec;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseIntVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.LargeVarCharVector;
import org.apache.arrow.vector.UInt8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.arrow.vector.util.Text;

/**
 * Writes batches as JSON Lines, one JSON object per row, into {@code part-00000.jsonl}, {@code
 * part-00001.jsonl}, ... in a directory, with Jackson's streaming {@link JsonGenerator}.
 *
 * <p>Each object has the batch's columns as fields, in schema order:
 *
 * <ul>
 *   <li>null cells as {@code null};
 *   <li>integers, floats and booleans as JSON numbers and booleans (NaN and infinities as the
 *       strings {@code "NaN"}, {@code "Infinity"}, {@code "-Infinity"});
 *   <li>UTF-8 columns as strings;
 *   <li>binary columns (including fixed-size binary that is not a tensor) as base64 strings (RFC
 *       4648, padded, no line breaks);
 *   <li>tensor columns ({@link TensorSpec}) as nested arrays of numbers following the per-row shape
 *       (a row of shape {@code [2, 3]} is {@code [[a, b, c], [d, e, f]]}), {@code UINT8} elements
 *       as 0..255;
 *   <li>other Arrow types (decimals, dates, lists, structs, ...) through Arrow's {@code getObject}:
 *       numbers, lists as arrays, structs and maps as objects, anything else as its string form.
 * </ul>
 *
 * <p>Files roll after {@link WriteOptions#maxRowsPerFile()} rows, are written atomically and refuse
 * existing output unless overwriting, as every {@link FileSink}. {@link
 * dev.sluice.loader.source.JsonLinesSource} reads them back (given the schema, for tensor and
 * binary columns).
 *
 * <p><b>Ownership.</b> {@link #write} neither takes nor keeps the batch. Not thread-safe.
 */
public final class JsonLinesSink extends FileSink {
  private static final JsonFactory JSON = JsonFactory.builder().build();

  /** A sink writing into {@code directory} (created if missing) with the given options. */
  public JsonLinesSink(Path directory, WriteOptions options) throws IOException {
    super(directory, "jsonl", options);
  }

  /**
   * A sink writing into {@code directory} (created if missing), rolling after {@code
   * maxRowsPerFile} rows, refusing existing output.
   */
  public JsonLinesSink(Path directory, long maxRowsPerFile) throws IOException {
    this(directory, WriteOptions.defaults().withMaxRowsPerFile(maxRowsPerFile));
  }

  /** A sink writing all rows into one file, {@code part-00000.jsonl}. */
  public JsonLinesSink(Path directory) throws IOException {
    this(directory, Long.MAX_VALUE);
  }

  @Override
  PartWriter openPart(Path temporary, Schema schema) throws IOException {
    OutputStream out =
        new BufferedOutputStream(
            Files.newOutputStream(
                temporary, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
            1 << 16);
    JsonGenerator generator;
    try {
      generator = JSON.createGenerator(out, JsonEncoding.UTF8);
      // Rows are separated by our own newlines, not the generator's default space.
      generator.setRootValueSeparator(null);
    } catch (IOException | RuntimeException e) {
      out.close();
      FileSink.deleteQuietly(temporary);
      throw e;
    }
    return new JsonPart(temporary, generator);
  }

  private static final class JsonPart implements PartWriter {
    private final Path file;
    private final JsonGenerator generator;

    JsonPart(Path file, JsonGenerator generator) {
      this.file = file;
      this.generator = generator;
    }

    @Override
    public void write(Batch batch) throws IOException {
      List<Column> columns = new ArrayList<>();
      for (Field field : batch.schema().getFields()) {
        columns.add(column(batch.vector(field.getName())));
      }
      for (int r = 0; r < batch.rowCount(); r++) {
        generator.writeStartObject();
        for (Column column : columns) {
          generator.writeFieldName(column.name());
          if (column.vector().isNull(r)) {
            generator.writeNull();
          } else {
            column.cell().write(generator, r);
          }
        }
        generator.writeEndObject();
        generator.writeRaw('\n');
      }
    }

    @Override
    public Path finish() throws IOException {
      generator.close();
      return file;
    }

    @Override
    public void discard() {
      try {
        generator.close();
      } catch (IOException e) {
        // Deleted below.
      }
      FileSink.deleteQuietly(file);
    }
  }

  /** One column of a batch and how to write its non-null cells. */
  private record Column(String name, FieldVector vector, CellWriter cell) {}

  @FunctionalInterface
  private interface CellWriter {
    void write(JsonGenerator g, int row) throws IOException;
  }

  private static Column column(FieldVector v) {
    String name = v.getName();
    TensorSpec spec = TensorSpec.fromField(v.getField());
    if (spec != null && v instanceof FixedSizeBinaryVector) {
      ArrowBuf data = v.getDataBuffer();
      int[] shape = spec.shape();
      int rowBytes = spec.rowBytes();
      return new Column(
          name, v, (g, row) -> writeTensor(g, data, (long) row * rowBytes, spec, shape, 0));
    }
    if (v instanceof VarCharVector chars) {
      return new Column(
          name,
          v,
          (g, row) -> {
            byte[] utf8 = chars.get(row);
            g.writeUTF8String(utf8, 0, utf8.length);
          });
    }
    if (v instanceof LargeVarCharVector chars) {
      return new Column(
          name,
          v,
          (g, row) -> {
            byte[] utf8 = chars.get(row);
            g.writeUTF8String(utf8, 0, utf8.length);
          });
    }
    if (v instanceof BaseVariableWidthVector binary) {
      return new Column(name, v, (g, row) -> g.writeBinary(binary.get(row)));
    }
    if (v instanceof FixedSizeBinaryVector fixed) {
      return new Column(name, v, (g, row) -> g.writeBinary(fixed.get(row)));
    }
    if (v instanceof UInt8Vector unsigned) {
      return new Column(name, v, (g, row) -> g.writeNumber(unsigned.getObjectNoOverflow(row)));
    }
    if (v instanceof BaseIntVector ints) {
      return new Column(name, v, (g, row) -> g.writeNumber(ints.getValueAsLong(row)));
    }
    if (v instanceof Float4Vector floats) {
      return new Column(name, v, (g, row) -> g.writeNumber(floats.get(row)));
    }
    if (v instanceof Float8Vector doubles) {
      return new Column(name, v, (g, row) -> g.writeNumber(doubles.get(row)));
    }
    if (v instanceof BitVector bits) {
      return new Column(name, v, (g, row) -> g.writeBoolean(bits.get(row) != 0));
    }
    return new Column(name, v, (g, row) -> writeObject(g, v.getObject(row)));
  }

  private static void writeTensor(
      JsonGenerator g, ArrowBuf data, long offset, TensorSpec spec, int[] shape, int dim)
      throws IOException {
    int width = spec.elementType().byteWidth();
    long stride = width;
    for (int d = dim + 1; d < shape.length; d++) {
      stride *= shape[d];
    }
    g.writeStartArray();
    for (int i = 0; i < shape[dim]; i++) {
      long at = offset + i * stride;
      if (dim + 1 < shape.length) {
        writeTensor(g, data, at, spec, shape, dim + 1);
        continue;
      }
      switch (spec.elementType()) {
        case UINT8 -> g.writeNumber(Byte.toUnsignedInt(data.getByte(at)));
        case INT8 -> g.writeNumber(data.getByte(at));
        case INT16 -> g.writeNumber(data.getShort(at));
        case INT32 -> g.writeNumber(data.getInt(at));
        case INT64 -> g.writeNumber(data.getLong(at));
        case FLOAT32 -> g.writeNumber(data.getFloat(at));
        case FLOAT64 -> g.writeNumber(data.getDouble(at));
      }
    }
    g.writeEndArray();
  }

  private static void writeObject(JsonGenerator g, Object value) throws IOException {
    if (value == null) {
      g.writeNull();
    } else if (value instanceof Boolean b) {
      g.writeBoolean(b);
    } else if (value instanceof BigDecimal d) {
      g.writeNumber(d);
    } else if (value instanceof BigInteger i) {
      g.writeNumber(i);
    } else if (value instanceof Double d) {
      g.writeNumber(d);
    } else if (value instanceof Float f) {
      g.writeNumber(f);
    } else if (value instanceof Number n) {
      g.writeNumber(n.longValue());
    } else if (value instanceof byte[] bytes) {
      g.writeBinary(bytes);
    } else if (value instanceof Text text) {
      g.writeUTF8String(text.getBytes(), 0, (int) text.getLength());
    } else if (value instanceof Map<?, ?> map) {
      g.writeStartObject();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        g.writeFieldName(String.valueOf(e.getKey()));
        writeObject(g, e.getValue());
      }
      g.writeEndObject();
    } else if (value instanceof Collection<?> list) {
      g.writeStartArray();
      for (Object item : list) {
        writeObject(g, item);
      }
      g.writeEndArray();
    } else {
      g.writeString(value.toString());
    }
  }
}
