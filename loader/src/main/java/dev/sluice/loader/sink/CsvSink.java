package dev.sluice.loader.sink;

import com.fasterxml.jackson.dataformat.csv.CsvFactory;
import com.fasterxml.jackson.dataformat.csv.CsvGenerator;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.sluice.loader.Batch;
import dev.sluice.loader.TensorSpec;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Base64;
import java.util.List;
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

/**
 * Writes batches as CSV (RFC 4180, UTF-8, a header line of the column names) into {@code
 * part-00000.csv}, {@code part-00001.csv}, ... in a directory, with Jackson's CSV generator.
 *
 * <p>Cells: integers, floats (NaN and infinities as {@code NaN}, {@code Infinity}, {@code
 * -Infinity}) and booleans ({@code true}/{@code false}) as text; UTF-8 columns as they are, quoted
 * when they hold a separator, a quote or a line break; binary columns as base64; null as an empty
 * field (CSV cannot tell an empty string from null: {@link dev.sluice.loader.source.CsvSource}
 * reads both as null); other scalar Arrow types as their string form. Tensor columns do not fit a
 * CSV cell and are refused ({@link IllegalArgumentException}): write them as Parquet or JSON.
 *
 * <p>Files roll after {@link WriteOptions#maxRowsPerFile()} rows (each with its header), are
 * written atomically and refuse existing output unless overwriting, as every {@link FileSink}.
 * {@link #write} neither takes nor keeps the batch. Not thread-safe.
 */
public final class CsvSink extends FileSink {
  private static final CsvFactory CSV = new CsvFactory();

  /** A sink writing into {@code directory} (created if missing) with the given options. */
  public CsvSink(Path directory, WriteOptions options) throws IOException {
    super(directory, "csv", options);
  }

  /** A sink writing into {@code directory} (created if missing), refusing existing output. */
  public CsvSink(Path directory) throws IOException {
    this(directory, WriteOptions.defaults());
  }

  @Override
  void checkSchema(Schema schema) {
    for (Field field : schema.getFields()) {
      if (TensorSpec.fromField(field) != null) {
        throw new IllegalArgumentException(
            "tensor column '" + field.getName() + "' does not fit in CSV (write Parquet or JSON)");
      }
      if (!field.getChildren().isEmpty()) {
        throw new IllegalArgumentException(
            "nested column '"
                + field.getName()
                + "' ("
                + field.getType()
                + ") does not fit in CSV");
      }
    }
  }

  @Override
  PartWriter openPart(Path temporary, Schema schema) throws IOException {
    Writer out =
        new BufferedWriter(
            new OutputStreamWriter(
                Files.newOutputStream(
                    temporary, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
                StandardCharsets.UTF_8),
            1 << 16);
    try {
      CsvSchema.Builder columns = CsvSchema.builder().setUseHeader(true);
      for (Field field : schema.getFields()) {
        columns.addColumn(field.getName());
      }
      CsvGenerator generator = CSV.createGenerator(out);
      generator.setSchema(columns.build());
      return new CsvPart(temporary, generator);
    } catch (IOException | RuntimeException e) {
      out.close();
      FileSink.deleteQuietly(temporary);
      throw e;
    }
  }

  private static final class CsvPart implements PartWriter {
    private final Path file;
    private final CsvGenerator generator;

    CsvPart(Path file, CsvGenerator generator) {
      this.file = file;
      this.generator = generator;
    }

    @Override
    public void write(Batch batch) throws IOException {
      List<FieldVector> vectors = batch.root().getFieldVectors();
      for (int r = 0; r < batch.rowCount(); r++) {
        generator.writeStartArray();
        for (FieldVector v : vectors) {
          if (v.isNull(r)) {
            // An empty field; the generator's writeNull() would skip the column.
            generator.writeString("");
          } else {
            writeCell(v, r);
          }
        }
        generator.writeEndArray();
      }
    }

    private void writeCell(FieldVector v, int r) throws IOException {
      if (v instanceof VarCharVector chars) {
        generator.writeString(new String(chars.get(r), StandardCharsets.UTF_8));
      } else if (v instanceof LargeVarCharVector chars) {
        generator.writeString(new String(chars.get(r), StandardCharsets.UTF_8));
      } else if (v instanceof BaseVariableWidthVector binary) {
        generator.writeString(Base64.getEncoder().encodeToString(binary.get(r)));
      } else if (v instanceof FixedSizeBinaryVector fixed) {
        generator.writeString(Base64.getEncoder().encodeToString(fixed.get(r)));
      } else if (v instanceof UInt8Vector unsigned) {
        generator.writeNumber(unsigned.getObjectNoOverflow(r));
      } else if (v instanceof BaseIntVector ints) {
        generator.writeNumber(ints.getValueAsLong(r));
      } else if (v instanceof Float4Vector floats) {
        generator.writeNumber(floats.get(r));
      } else if (v instanceof Float8Vector doubles) {
        generator.writeNumber(doubles.get(r));
      } else if (v instanceof BitVector bits) {
        generator.writeBoolean(bits.get(r) != 0);
      } else {
        generator.writeString(String.valueOf(v.getObject(r)));
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
      } catch (IOException | RuntimeException e) {
        // Deleted below.
      }
      FileSink.deleteQuietly(file);
    }
  }
}
