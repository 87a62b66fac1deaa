package dev.sluice.loader.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import dev.sluice.sharding.SourceSplit;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * JSON Lines files (one JSON object per line, UTF-8, as written by {@link
 * dev.sluice.loader.sink.JsonLinesSink} or {@code pandas.to_json(lines=True)}), parsed with
 * Jackson.
 *
 * <p><b>Splits.</b> One split per file, in the sorted expansion of the patterns ({@link
 * PathPatterns}; a literal directory stands for the {@code .jsonl}, {@code .json} and {@code
 * .ndjson} files directly in it, skipping names starting with {@code .} or {@code _}).
 *
 * <p><b>Columns.</b> Given as a schema ({@link Builder#schema}), or inferred from the first {@link
 * Builder#sampleRows} rows of the files (in order): a field whose values are all integers is {@code
 * int64}, all numbers (or {@code "NaN"}, {@code "Infinity"}, {@code "-Infinity"}) {@code float64},
 * all booleans {@code bool}, all arrays of numbers of one rectangular shape a tensor ({@code INT64}
 * or {@code FLOAT64}); anything else (strings, objects, mixed values, fields that are always null)
 * is {@code utf8}, objects and arrays as their JSON text. Columns are in the order the fields are
 * first seen. A given schema may hold signed integers, floats, booleans, UTF-8, binary (base64
 * text, as the sink writes it) and tensor columns (nested arrays following the shape, as the sink
 * writes them): pass the schema a dataset was written with to read it back with the same types. A
 * field missing from a row, or {@code null}, is a null cell; fields not in the schema are ignored.
 *
 * <p><b>Bad input.</b> A line that is not a JSON object, or whose value does not fit its column
 * (text in an integer column, a tensor of another shape, a null tensor), is one bad record ({@code
 * line N} of the file, counting from 1) reported to {@link ReadContext#badRecords()}: within the
 * allowance it is skipped, otherwise the read fails with an error naming the file and the line.
 * Blank lines are skipped.
 *
 * <p>Immutable and thread-safe (the inferred schema is computed once, the same everywhere); each
 * reader is used by one thread at a time and builds its batches in the allocator passed to {@code
 * next}.
 */
public final class JsonLinesSource implements Source {
  /** The operator name readers report bad records under. */
  public static final String NAME = "ReadJson";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<String> patterns;
  private final Schema givenSchema;
  private final int sampleRows;
  private final String sourceId;
  private volatile Schema inferred;

  private JsonLinesSource(Builder b) {
    this.patterns = b.patterns;
    this.givenSchema = b.schema;
    this.sampleRows = b.sampleRows;
    this.sourceId = b.sourceId != null ? b.sourceId : "json:" + String.join(",", patterns);
    if (givenSchema != null) {
      TextFiles.check(givenSchema, "JSON");
    }
  }

  /** Files named by the given patterns, columns inferred. */
  public static JsonLinesSource of(String... patterns) {
    return builder(patterns).build();
  }

  /** A builder over the given path patterns (see {@link PathPatterns}). */
  public static Builder builder(String... patterns) {
    return new Builder(List.of(patterns));
  }

  /** Configures a {@link JsonLinesSource}. Not thread-safe. */
  public static final class Builder {
    private final List<String> patterns;
    private Schema schema;
    private int sampleRows = 1000;
    private String sourceId;

    private Builder(List<String> patterns) {
      if (patterns.isEmpty()) {
        throw new IllegalArgumentException("no file patterns given");
      }
      this.patterns = List.copyOf(patterns);
    }

    /** The columns to read (instead of inferring them). */
    public Builder schema(Schema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** Rows sampled to infer the columns (default 1000). */
    public Builder sampleRows(int rows) {
      if (rows <= 0) {
        throw new IllegalArgumentException("sampleRows must be positive: " + rows);
      }
      this.sampleRows = rows;
      return this;
    }

    /** The identifier of the source in splits (default: derived from the patterns). */
    public Builder sourceId(String sourceId) {
      this.sourceId = Objects.requireNonNull(sourceId, "sourceId");
      return this;
    }

    /** The source. Touches no storage. */
    public JsonLinesSource build() {
      return new JsonLinesSource(this);
    }
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Schema schema() {
    return givenSchema;
  }

  /** The columns read: the given schema, or the one inferred from the files (reads a sample). */
  public Schema resolveSchema() throws IOException {
    if (givenSchema != null) {
      return givenSchema;
    }
    Schema s = inferred;
    if (s == null) {
      s = infer(files());
      inferred = s;
    }
    return s;
  }

  private List<Path> files() throws IOException {
    return TextFiles.files(patterns, ".jsonl", ".json", ".ndjson");
  }

  @Override
  public List<SourceSplit> planSplits() throws IOException {
    List<Path> files = files();
    if (givenSchema == null && inferred == null) {
      inferred = infer(files);
    }
    return TextFiles.splits(sourceId, files);
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) throws IOException {
    Schema schema = resolveSchema();
    List<Cell> cells = new ArrayList<>();
    for (Field field : schema.getFields()) {
      cells.add(new Cell(field, TextFiles.kind(field, "JSON"), TensorSpec.fromField(field)));
    }
    return new TextRowReader(NAME, split, schema, context, file -> new Lines(file, cells), 64);
  }

  @Override
  public String toString() {
    return NAME + patterns;
  }

  private record Cell(Field field, TextFiles.Kind kind, TensorSpec tensor) {}

  /** The rows of one file, a line at a time. */
  private static final class Lines implements TextRowReader.Rows {
    private final Path file;
    private final BufferedReader reader;
    private final List<Cell> cells;
    private long line;

    Lines(Path file, List<Cell> cells) throws IOException {
      this.file = file;
      this.reader = Files.newBufferedReader(file, StandardCharsets.UTF_8);
      this.cells = cells;
    }

    @Override
    public long next(BatchBuilder builder, int row) throws IOException {
      String text;
      do {
        text = reader.readLine();
        if (text == null) {
          return -1;
        }
        line++;
      } while (text.isBlank());
      String position = "line " + line;
      JsonNode node;
      try {
        node = JSON.readTree(text);
      } catch (JsonProcessingException e) {
        throw bad("malformed JSON: " + e.getOriginalMessage(), position, e);
      }
      if (!(node instanceof ObjectNode object)) {
        throw bad("not a JSON object: " + abbreviate(text), position, null);
      }
      for (Cell cell : cells) {
        String name = cell.field().getName();
        JsonNode value = object.get(name);
        try {
          set(builder, row, cell, value);
        } catch (IllegalArgumentException | ArithmeticException e) {
          throw bad("field '" + name + "': " + e.getMessage(), position, e);
        }
      }
      return text.length() + 1L;
    }

    private TextRowReader.BadRow bad(String why, String position, Throwable cause) {
      return new TextRowReader.BadRow(
          "bad JSON line " + position.substring(5) + " of " + file + ": " + why,
          position,
          true,
          cause);
    }

    @Override
    public void close() throws IOException {
      reader.close();
    }
  }

  private static String abbreviate(String text) {
    return text.length() <= 80 ? text : text.substring(0, 77) + "...";
  }

  private static void set(BatchBuilder b, int row, Cell cell, JsonNode value) {
    String name = cell.field().getName();
    if (value == null || value.isNull()) {
      if (!cell.field().isNullable()) {
        throw new IllegalArgumentException("null in a column that is not nullable");
      }
      b.setNull(name, row);
      return;
    }
    switch (cell.kind()) {
      case INTEGER -> {
        if (!value.isIntegralNumber() || !value.canConvertToLong()) {
          throw new IllegalArgumentException(
              "not a 64-bit integer: " + abbreviate(value.toString()));
        }
        b.setLong(name, row, value.longValue());
      }
      case FLOAT -> {
        if (value.isNumber()) {
          b.setDouble(name, row, value.doubleValue());
        } else if (value.isTextual() && TextFiles.isSpecialFloat(value.textValue())) {
          b.setDouble(name, row, TextFiles.parseDouble(value.textValue()));
        } else {
          throw new IllegalArgumentException("not a number: " + abbreviate(value.toString()));
        }
      }
      case BOOL -> {
        if (!value.isBoolean()) {
          throw new IllegalArgumentException("not a boolean: " + abbreviate(value.toString()));
        }
        b.setBoolean(name, row, value.booleanValue());
      }
      case UTF8 -> b.setString(name, row, value.isTextual() ? value.textValue() : value.toString());
      case BINARY, FIXED_BINARY -> {
        if (!value.isTextual()) {
          throw new IllegalArgumentException(
              "not a base64 string: " + abbreviate(value.toString()));
        }
        b.setBytes(name, row, Base64.getDecoder().decode(value.textValue()));
      }
      case TENSOR -> writeTensor(b.tensorData(name), row, cell.tensor(), value);
    }
  }

  private static void writeTensor(ArrowBuf data, int row, TensorSpec spec, JsonNode value) {
    int[] shape = spec.shape();
    long offset = (long) row * spec.rowBytes();
    writeTensor(data, offset, spec, shape, 0, value);
  }

  private static void writeTensor(
      ArrowBuf data, long offset, TensorSpec spec, int[] shape, int dim, JsonNode value) {
    if (!value.isArray() || value.size() != shape[dim]) {
      throw new IllegalArgumentException(
          "a tensor of shape "
              + java.util.Arrays.toString(shape)
              + " needs an array of "
              + shape[dim]
              + " at depth "
              + dim
              + ", got "
              + abbreviate(value.toString()));
    }
    int width = spec.elementType().byteWidth();
    long stride = width;
    for (int d = dim + 1; d < shape.length; d++) {
      stride *= shape[d];
    }
    for (int i = 0; i < shape[dim]; i++) {
      JsonNode item = value.get(i);
      long at = offset + i * stride;
      if (dim + 1 < shape.length) {
        writeTensor(data, at, spec, shape, dim + 1, item);
        continue;
      }
      if (!item.isNumber() && !(item.isTextual() && TextFiles.isSpecialFloat(item.textValue()))) {
        throw new IllegalArgumentException("tensor element is not a number: " + item);
      }
      switch (spec.elementType()) {
        case UINT8 -> data.setByte(at, (int) checked(item, 0, 255));
        case INT8 -> data.setByte(at, (int) checked(item, Byte.MIN_VALUE, Byte.MAX_VALUE));
        case INT16 -> data.setShort(at, (short) checked(item, Short.MIN_VALUE, Short.MAX_VALUE));
        case INT32 -> data.setInt(at, (int) checked(item, Integer.MIN_VALUE, Integer.MAX_VALUE));
        case INT64 -> data.setLong(at, checked(item, Long.MIN_VALUE, Long.MAX_VALUE));
        case FLOAT32 -> data.setFloat(at, (float) floatOf(item));
        case FLOAT64 -> data.setDouble(at, floatOf(item));
      }
    }
  }

  private static double floatOf(JsonNode item) {
    return item.isTextual() ? TextFiles.parseDouble(item.textValue()) : item.doubleValue();
  }

  private static long checked(JsonNode item, long min, long max) {
    if (!item.isIntegralNumber() || !item.canConvertToLong()) {
      throw new IllegalArgumentException("tensor element is not an integer: " + item);
    }
    long v = item.longValue();
    if (v < min || v > max) {
      throw new IllegalArgumentException("tensor element " + v + " out of range");
    }
    return v;
  }

  // --- Inference -------------------------------------------------------------------------------

  /** What the sample says of one field. */
  private static final class Seen {
    boolean integers;
    boolean floats;
    boolean bools;
    boolean texts;
    boolean others;
    boolean nulls;
    boolean arrays;
    boolean integralArrays = true;
    int[] shape;
    boolean ragged;

    void add(JsonNode v) {
      if (v == null || v.isNull()) {
        nulls = true;
      } else if (v.isIntegralNumber() && v.canConvertToLong()) {
        integers = true;
      } else if (v.isNumber()) {
        floats = true;
      } else if (v.isTextual() && TextFiles.isSpecialFloat(v.textValue())) {
        floats = true;
      } else if (v.isBoolean()) {
        bools = true;
      } else if (v.isTextual()) {
        texts = true;
      } else if (v.isArray()) {
        arrays = true;
        List<Integer> dims = new ArrayList<>();
        if (!numericShape(v, dims, 0)) {
          ragged = true;
          return;
        }
        int[] s = dims.stream().mapToInt(Integer::intValue).toArray();
        if (shape == null) {
          shape = s;
        } else if (!java.util.Arrays.equals(shape, s)) {
          ragged = true;
        }
      } else {
        others = true;
      }
    }

    /** Whether {@code v} is a rectangular array of numbers; collects its dimensions. */
    private boolean numericShape(JsonNode v, List<Integer> dims, int depth) {
      if (!v.isArray()) {
        if (depth != dims.size()) {
          return false;
        }
        if (v.isIntegralNumber() && v.canConvertToLong()) {
          return true;
        }
        if (v.isNumber()) {
          integralArrays = false;
          return true;
        }
        return false;
      }
      if (v.isEmpty()) {
        return false;
      }
      if (dims.size() == depth) {
        dims.add(v.size());
      } else if (depth > dims.size() || dims.get(depth) != v.size()) {
        return false;
      }
      for (JsonNode item : v) {
        if (!numericShape(item, dims, depth + 1)) {
          return false;
        }
      }
      return true;
    }

    Field field(String name) {
      boolean scalars = integers || floats || bools || texts || others;
      if (arrays && !scalars && !nulls && !ragged && shape != null) {
        return Columns.tensor(
            name, integralArrays ? ElementType.INT64 : ElementType.FLOAT64, shape);
      }
      if (arrays || texts || others) {
        return Columns.utf8(name);
      }
      if (bools) {
        return integers || floats ? Columns.utf8(name) : Columns.bool(name);
      }
      if (floats) {
        return Columns.float64(name);
      }
      if (integers) {
        return Columns.int64(name);
      }
      return Columns.utf8(name);
    }
  }

  private Schema infer(List<Path> files) throws IOException {
    Map<String, Seen> fields = new LinkedHashMap<>();
    int rows = 0;
    for (Path file : files) {
      try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        for (String text = reader.readLine();
            text != null && rows < sampleRows;
            text = reader.readLine()) {
          if (text.isBlank()) {
            continue;
          }
          JsonNode node;
          try {
            node = JSON.readTree(text);
          } catch (JsonProcessingException e) {
            // Bad lines are the readers' to report (or skip); the sample goes on without them.
            continue;
          }
          if (!(node instanceof ObjectNode object)) {
            continue;
          }
          rows++;
          for (String name : fields.keySet()) {
            if (!object.has(name)) {
              fields.get(name).add(null);
            }
          }
          Iterator<Map.Entry<String, JsonNode>> it = object.fields();
          while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            Seen seen = fields.get(e.getKey());
            if (seen == null) {
              seen = new Seen();
              if (rows > 1) {
                seen.nulls = true;
              }
              fields.put(e.getKey(), seen);
            }
            seen.add(e.getValue());
          }
        }
      }
      if (rows >= sampleRows) {
        break;
      }
    }
    if (fields.isEmpty()) {
      throw new IOException(
          "cannot infer the columns of JSON files "
              + patterns
              + ": no JSON object in the first "
              + sampleRows
              + " rows (give a schema)");
    }
    List<Field> out = new ArrayList<>();
    fields.forEach((name, seen) -> out.add(seen.field(name)));
    return new Schema(out);
  }
}
