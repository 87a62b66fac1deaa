package dev.sluice.loader.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.csv.CsvFactory;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.sharding.SourceSplit;
import java.io.FilterReader;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * CSV files with a header line (RFC 4180: fields quoted with {@code "} may hold separators, quotes
 * doubled, and line breaks), UTF-8, parsed with Jackson's CSV parser ({@code
 * jackson-dataformat-csv}).
 *
 * <p><b>Splits.</b> One split per file, in the sorted expansion of the patterns ({@link
 * PathPatterns}; a literal directory stands for the {@code .csv} and {@code .tsv} files directly in
 * it, skipping names starting with {@code .} or {@code _}).
 *
 * <p><b>Columns.</b> Named by each file's header. Their types are given as a schema ({@link
 * Builder#schema}: columns are matched to the header by name, header columns not in the schema are
 * not read, a schema column missing from a header is an {@link IOException} naming the file), or
 * inferred from the first {@link Builder#sampleRows} rows of the files: a column whose non-empty
 * values all parse as 64-bit integers is {@code int64}, as numbers (or {@code NaN}, {@code
 * Infinity}, {@code -Infinity}) {@code float64}, as {@code true}/{@code false} (any case) {@code
 * bool}; anything else, and a column always empty, is {@code utf8}. A schema may hold signed
 * integers, floats, booleans, UTF-8 and binary columns (base64 text, as {@link
 * dev.sluice.loader.sink.CsvSink} writes it). <b>An empty field is null</b>, in every column: CSV
 * cannot tell an empty string from a missing value. Values are not trimmed. Empty lines are
 * skipped.
 *
 * <p><b>Bad input.</b> A row with another number of fields than the header, or a value that does
 * not parse as its column's type, is one bad record ({@code line N}: the line the row starts on,
 * counting from 1) reported to {@link ReadContext#badRecords()}: within the allowance it is
 * skipped, otherwise the read fails with an error naming the file and the line. A file that does
 * not parse as CSV (a quote never closed) is one bad record at the line where the broken row
 * starts; the rest of that file cannot be read, and is lost even when the record is allowed.
 *
 * <p>Immutable and thread-safe (the inferred schema is computed once, the same everywhere); each
 * reader is used by one thread at a time and builds its batches in the allocator passed to {@code
 * next}.
 */
public final class CsvSource implements Source {
  /** The operator name readers report bad records under. */
  public static final String NAME = "ReadCsv";

  private static final CsvFactory CSV = new CsvFactory();

  private final List<String> patterns;
  private final Schema givenSchema;
  private final int sampleRows;
  private final char separator;
  private final String sourceId;
  private volatile Schema inferred;

  private CsvSource(Builder b) {
    this.patterns = b.patterns;
    this.givenSchema = b.schema;
    this.sampleRows = b.sampleRows;
    this.separator = b.separator;
    this.sourceId = b.sourceId != null ? b.sourceId : "csv:" + String.join(",", patterns);
    if (givenSchema != null) {
      TextFiles.check(givenSchema, "CSV");
    }
  }

  /** Files named by the given patterns, comma-separated, columns inferred. */
  public static CsvSource of(String... patterns) {
    return builder(patterns).build();
  }

  /** A builder over the given path patterns (see {@link PathPatterns}). */
  public static Builder builder(String... patterns) {
    return new Builder(List.of(patterns));
  }

  /** Configures a {@link CsvSource}. Not thread-safe. */
  public static final class Builder {
    private final List<String> patterns;
    private Schema schema;
    private int sampleRows = 1000;
    private char separator = ',';
    private String sourceId;

    private Builder(List<String> patterns) {
      if (patterns.isEmpty()) {
        throw new IllegalArgumentException("no file patterns given");
      }
      this.patterns = List.copyOf(patterns);
    }

    /** The columns to read and their types (instead of inferring them). */
    public Builder schema(Schema schema) {
      this.schema = Objects.requireNonNull(schema, "schema");
      return this;
    }

    /** Rows sampled to infer the column types (default 1000). */
    public Builder sampleRows(int rows) {
      if (rows <= 0) {
        throw new IllegalArgumentException("sampleRows must be positive: " + rows);
      }
      this.sampleRows = rows;
      return this;
    }

    /** The field separator (default {@code ,}; {@code '\t'} for tab-separated files). */
    public Builder separator(char separator) {
      if (separator == '"' || separator == '\n' || separator == '\r') {
        throw new IllegalArgumentException("bad separator: " + (int) separator);
      }
      this.separator = separator;
      return this;
    }

    /** The identifier of the source in splits (default: derived from the patterns). */
    public Builder sourceId(String sourceId) {
      this.sourceId = Objects.requireNonNull(sourceId, "sourceId");
      return this;
    }

    /** The source. Touches no storage. */
    public CsvSource build() {
      return new CsvSource(this);
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
    return TextFiles.files(patterns, ".csv", ".tsv");
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
    return new TextRowReader(NAME, split, schema, context, file -> new Rows(file, schema), 32);
  }

  @Override
  public String toString() {
    return NAME + patterns;
  }

  /** A parser over one file, positioned after the header; the header's names. */
  private final class Parser implements AutoCloseable {
    final Path file;
    final CsvParser parser;
    final LineBreaks lines;
    final List<String> header;

    Parser(Path file) throws IOException {
      this.file = file;
      lines = new LineBreaks(Files.newBufferedReader(file, StandardCharsets.UTF_8));
      try {
        parser = CSV.createParser(lines);
        parser.enable(CsvParser.Feature.SKIP_EMPTY_LINES);
        parser.setSchema(CsvSchema.emptySchema().withColumnSeparator(separator));
      } catch (IOException | RuntimeException e) {
        lines.close();
        throw e;
      }
      try {
        Row first = row();
        if (first == null) {
          throw new IOException("CSV file " + file + " is empty (no header line)");
        }
        header = first.values();
      } catch (BrokenCsv e) {
        close();
        throw new IOException(
            "cannot read the header of CSV file " + file + ": " + e.getMessage(), e);
      } catch (IOException | RuntimeException e) {
        close();
        throw e;
      }
    }

    /**
     * The next row and the line it starts on; null at the end. Text that does not parse as CSV is a
     * {@link BrokenCsv} naming the line the row starts on. A blank line is no row.
     */
    Row row() throws IOException {
      while (true) {
        Row r = nextRow();
        if (r == null || !(r.values().size() == 1 && r.values().get(0).isEmpty())) {
          return r;
        }
      }
    }

    // Jackson's line numbers do not count line breaks inside quoted values: the line a row starts
    // on is counted here, from the character offset of its first token.
    private Row nextRow() throws IOException {
      JsonToken t;
      try {
        t = parser.nextToken();
      } catch (JsonProcessingException e) {
        throw new BrokenCsv(lines.lineAt(parser.currentLocation().getCharOffset()), e);
      }
      if (t == null) {
        return null;
      }
      long line = -1;
      if (t != JsonToken.START_ARRAY) {
        throw new BrokenCsv(
            lines.lineAt(parser.currentTokenLocation().getCharOffset()),
            new IOException("unexpected " + t));
      }
      List<String> values = new ArrayList<>();
      while (true) {
        try {
          t = parser.nextToken();
        } catch (JsonProcessingException e) {
          throw new BrokenCsv(
              line >= 0 ? line : lines.lineAt(parser.currentLocation().getCharOffset()), e);
        }
        if (line < 0) {
          line = lines.lineAt(parser.currentTokenLocation().getCharOffset());
        }
        if (t == JsonToken.END_ARRAY) {
          break;
        }
        if (t == null) {
          throw new BrokenCsv(line, new IOException("the file ends inside the row"));
        }
        values.add(parser.getText());
      }
      return new Row(line, values, parser.currentLocation().getCharOffset());
    }

    @Override
    public void close() throws IOException {
      parser.close();
    }
  }

  private record Row(long line, List<String> values, long endOffset) {}

  /**
   * A reader that notes where its line breaks are, so that the line of a character offset can be
   * told however far ahead the parser has read. Offsets are asked for in increasing order; the
   * breaks before the last one asked for are forgotten.
   */
  private static final class LineBreaks extends FilterReader {
    private final ArrayDeque<Long> breaks = new ArrayDeque<>();
    private long offset;
    private long line = 1;

    LineBreaks(Reader in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int c = super.read();
      if (c >= 0) {
        note((char) c);
      }
      return c;
    }

    @Override
    public int read(char[] buffer, int from, int length) throws IOException {
      int n = super.read(buffer, from, length);
      for (int i = 0; i < n; i++) {
        note(buffer[from + i]);
      }
      return n;
    }

    private void note(char c) {
      if (c == '\n') {
        breaks.add(offset);
      }
      offset++;
    }

    /** The line (from 1) of the character at {@code charOffset}. */
    long lineAt(long charOffset) {
      while (!breaks.isEmpty() && breaks.peekFirst() < charOffset) {
        breaks.pollFirst();
        line++;
      }
      return line;
    }
  }

  /** Text that does not parse as CSV, in the row starting on {@code line}. */
  private static final class BrokenCsv extends IOException {
    private static final long serialVersionUID = 1L;

    final long line;

    BrokenCsv(long line, Throwable cause) {
      super("malformed CSV at line " + line + ": " + cause.getMessage(), cause);
      this.line = line;
    }
  }

  /** The rows of one file, read into the schema's columns. */
  private final class Rows implements TextRowReader.Rows {
    private final Parser parser;
    private final String[] names;
    private final TextFiles.Kind[] kinds;
    private final boolean[] nullable;
    private final int[] index;
    private long lastOffset;

    Rows(Path file, Schema schema) throws IOException {
      parser = new Parser(file);
      try {
        Map<String, Integer> positions = new HashMap<>();
        for (int i = 0; i < parser.header.size(); i++) {
          if (positions.put(parser.header.get(i), i) != null) {
            throw new IOException(
                "CSV file " + file + " names column '" + parser.header.get(i) + "' twice");
          }
        }
        List<Field> fields = schema.getFields();
        names = new String[fields.size()];
        kinds = new TextFiles.Kind[fields.size()];
        nullable = new boolean[fields.size()];
        index = new int[fields.size()];
        for (int c = 0; c < fields.size(); c++) {
          Field f = fields.get(c);
          Integer at = positions.get(f.getName());
          if (at == null) {
            throw new IOException(
                "CSV file "
                    + file
                    + " has no column '"
                    + f.getName()
                    + "' (its header: "
                    + parser.header
                    + ")");
          }
          names[c] = f.getName();
          kinds[c] = TextFiles.kind(f, "CSV");
          nullable[c] = f.isNullable();
          index[c] = at;
        }
      } catch (IOException | RuntimeException e) {
        parser.close();
        throw e;
      }
    }

    @Override
    public long next(BatchBuilder builder, int row) throws IOException {
      Row r;
      try {
        r = parser.row();
      } catch (BrokenCsv e) {
        String why =
            e.getCause() instanceof JsonProcessingException j
                ? j.getOriginalMessage()
                : e.getCause().getMessage();
        throw new TextRowReader.BadRow(
            "malformed CSV at line "
                + e.line
                + " of "
                + parser.file
                + " (the rest of the file cannot be read): "
                + why,
            "line " + e.line,
            false,
            e.getCause());
      }
      if (r == null) {
        return -1;
      }
      String position = "line " + r.line();
      if (r.values().size() != parser.header.size()) {
        throw new TextRowReader.BadRow(
            "bad CSV row at line "
                + r.line()
                + " of "
                + parser.file
                + ": "
                + r.values().size()
                + " fields, the header has "
                + parser.header.size(),
            position,
            true,
            null);
      }
      for (int c = 0; c < names.length; c++) {
        String text = r.values().get(index[c]);
        try {
          set(builder, row, c, text);
        } catch (IllegalArgumentException | ArithmeticException e) {
          throw new TextRowReader.BadRow(
              "bad CSV row at line "
                  + r.line()
                  + " of "
                  + parser.file
                  + ": column '"
                  + names[c]
                  + "': "
                  + e.getMessage(),
              position,
              true,
              e);
        }
      }
      long taken = Math.max(1, r.endOffset() - lastOffset);
      lastOffset = r.endOffset();
      return taken;
    }

    private void set(BatchBuilder b, int row, int c, String text) {
      String name = names[c];
      if (text.isEmpty()) {
        if (!nullable[c]) {
          throw new IllegalArgumentException("empty value in a column that is not nullable");
        }
        b.setNull(name, row);
        return;
      }
      switch (kinds[c]) {
        case INTEGER -> b.setLong(name, row, parseLong(text));
        case FLOAT -> b.setDouble(name, row, parseDouble(text));
        case BOOL -> b.setBoolean(name, row, parseBoolean(text));
        case UTF8 -> b.setString(name, row, text);
        case BINARY, FIXED_BINARY -> b.setBytes(name, row, Base64.getDecoder().decode(text));
        case TENSOR -> throw new IllegalArgumentException("CSV holds no tensors");
      }
    }

    @Override
    public void close() throws IOException {
      parser.close();
    }
  }

  private static long parseLong(String text) {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a 64-bit integer: '" + abbreviate(text) + "'");
    }
  }

  private static double parseDouble(String text) {
    try {
      return TextFiles.parseDouble(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a number: '" + abbreviate(text) + "'");
    }
  }

  private static boolean parseBoolean(String text) {
    if (text.equalsIgnoreCase("true")) {
      return true;
    }
    if (text.equalsIgnoreCase("false")) {
      return false;
    }
    throw new IllegalArgumentException("not a boolean: '" + abbreviate(text) + "'");
  }

  private static String abbreviate(String text) {
    return text.length() <= 80 ? text : text.substring(0, 77) + "...";
  }

  // --- Inference -------------------------------------------------------------------------------

  private static final int INTEGER = 1;
  private static final int FLOAT = 2;
  private static final int BOOL = 4;
  private static final int TEXT = 8;

  private static int kindOf(String text) {
    if (text.equalsIgnoreCase("true") || text.equalsIgnoreCase("false")) {
      return BOOL;
    }
    try {
      Long.parseLong(text);
      return INTEGER;
    } catch (NumberFormatException e) {
      // not an integer
    }
    if (TextFiles.isSpecialFloat(text)) {
      return FLOAT;
    }
    // Double.parseDouble takes "1d", "0x1p3" and surrounding spaces: only plain decimals count.
    if (text.matches("[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?")) {
      return FLOAT;
    }
    return TEXT;
  }

  private Schema infer(List<Path> files) throws IOException {
    Map<String, Integer> seen = new LinkedHashMap<>();
    int rows = 0;
    for (Path file : files) {
      if (rows >= sampleRows) {
        break;
      }
      try (Parser parser = new Parser(file)) {
        for (String name : parser.header) {
          seen.putIfAbsent(name, 0);
        }
        while (rows < sampleRows) {
          Row r;
          try {
            r = parser.row();
          } catch (IOException e) {
            // A broken file is the readers' to report; the sample stops here.
            break;
          }
          if (r == null) {
            break;
          }
          if (r.values().size() != parser.header.size()) {
            continue;
          }
          rows++;
          for (int i = 0; i < r.values().size(); i++) {
            String text = r.values().get(i);
            if (!text.isEmpty()) {
              seen.merge(parser.header.get(i), kindOf(text), (a, b) -> a | b);
            }
          }
        }
      }
    }
    if (seen.isEmpty()) {
      throw new IOException("cannot infer the columns of CSV files " + patterns + ": no header");
    }
    List<Field> fields = new ArrayList<>();
    seen.forEach(
        (name, kinds) -> {
          Field f;
          if (kinds == INTEGER) {
            f = Columns.int64(name);
          } else if (kinds == FLOAT || kinds == (FLOAT | INTEGER)) {
            f = Columns.float64(name);
          } else if (kinds == BOOL) {
            f = Columns.bool(name);
          } else {
            f = Columns.utf8(name);
          }
          fields.add(f);
        });
    return new Schema(fields);
  }
}
