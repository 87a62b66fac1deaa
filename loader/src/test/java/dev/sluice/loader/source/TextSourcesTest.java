package dev.sluice.loader.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.SluiceException;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CSV and JSON lines files written by hand, as a user has them. */
class TextSourcesTest {
  @TempDir Path dir;

  /** Every row of a source as the strings of its cells (null for null), with the context. */
  private static List<List<String>> rows(Source source, ReadContext context) throws IOException {
    List<List<String>> out = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator()) {
      for (SourceSplit split : source.planSplits()) {
        try (SplitReader reader = source.open(split, context)) {
          for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
            try (Batch batch = b) {
              for (int r = 0; r < batch.rowCount(); r++) {
                List<String> row = new ArrayList<>();
                for (String c : batch.columnNames()) {
                  Object v = batch.vector(c).getObject(r);
                  row.add(v == null ? null : v.toString());
                }
                out.add(row);
              }
            }
          }
        }
      }
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
    return out;
  }

  private static ReadContext strict() {
    return new ReadContext(2, 1L << 20, BadRecords.none());
  }

  @Test
  void csvWithQuotedCommasLineBreaksAndEmptyFields() throws IOException {
    Path file = dir.resolve("people.csv");
    Files.writeString(
        file,
        "name,age,height,member,note\n"
            + "\"Smith, Anna\",34,1.72,true,\"said \"\"hi\"\"\"\n"
            + "Bob,,1.8,FALSE,\n"
            + "\n"
            + "\"Line\nBreak\",7,,true,\"a,b\"\n");
    CsvSource source = CsvSource.of(file.toString());
    assertThat(source.resolveSchema())
        .isEqualTo(
            new Schema(
                List.of(
                    Columns.utf8("name"),
                    Columns.int64("age"),
                    Columns.float64("height"),
                    Columns.bool("member"),
                    Columns.utf8("note"))));
    assertThat(rows(source, strict()))
        .containsExactly(
            List.of("Smith, Anna", "34", "1.72", "true", "said \"hi\""),
            java.util.Arrays.asList("Bob", null, "1.8", "false", null),
            java.util.Arrays.asList("Line\nBreak", "7", null, "true", "a,b"));
  }

  @Test
  void csvWithAGivenSchemaReadsItsColumnsByName() throws IOException {
    Path file = dir.resolve("t.tsv");
    Files.writeString(file, "b\ta\tc\n1\tx\t2.5\n2\ty\t3\n");
    CsvSource source =
        CsvSource.builder(file.toString())
            .separator('\t')
            .schema(new Schema(List.of(Columns.utf8("a"), Columns.float32("c"))))
            .build();
    assertThat(rows(source, strict())).containsExactly(List.of("x", "2.5"), List.of("y", "3.0"));
    CsvSource missing =
        CsvSource.builder(file.toString())
            .separator('\t')
            .schema(new Schema(List.of(Columns.utf8("z"))))
            .build();
    assertThatThrownBy(() -> rows(missing, strict()))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("no column 'z'");
  }

  @Test
  void aBadCsvRowNamesFileAndLineOrIsSkippedAndCounted() throws IOException {
    Path file = dir.resolve("bad.csv");
    Files.writeString(file, "id,x\n1,10\n2,\"multi\nline\"\n3,30,extra\n4,oops\n5,50\n");
    Schema schema = new Schema(List.of(Columns.int64("id"), Columns.utf8("x")));
    CsvSource source = CsvSource.builder(file.toString()).schema(schema).build();
    // Row 3 starts on line 5 (row 2 spans lines 3 and 4).
    assertThatThrownBy(() -> rows(source, strict()))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("line 5")
        .hasMessageContaining("3 fields, the header has 2");

    Schema typed = new Schema(List.of(Columns.int64("id"), Columns.int64("x")));
    CsvSource typedSource = CsvSource.builder(file.toString()).schema(typed).build();
    BadRecords allowance = new BadRecords(3);
    assertThat(rows(typedSource, new ReadContext(2, 1L << 20, allowance)))
        .containsExactly(List.of("1", "10"), List.of("5", "50"));
    // "multi\nline" is not an integer (line 3), row 3 has three fields (line 5), "oops" (line 6).
    assertThat(allowance.skipped()).isEqualTo(3);
    assertThatThrownBy(() -> rows(typedSource, new ReadContext(2, 1L << 20, new BadRecords(2))))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("line 6")
        .hasMessageContaining("not a 64-bit integer: 'oops'");
  }

  @Test
  void aCsvQuoteNeverClosedLosesTheRestOfTheFile() throws IOException {
    Path file = dir.resolve("broken.csv");
    Files.writeString(file, "id,x\n1,a\n2,\"never closed\n3,c\n");
    CsvSource source = CsvSource.of(file.toString());
    assertThatThrownBy(() -> rows(source, strict()))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("line 3");
    BadRecords allowance = new BadRecords(1);
    assertThat(rows(source, new ReadContext(10, 1L << 20, allowance)))
        .containsExactly(List.of("1", "a"));
    assertThat(allowance.skipped()).isEqualTo(1);
  }

  @Test
  void jsonLinesInferTypesAndTensorsAndTakeMissingFieldsAsNull() throws IOException {
    Path file = dir.resolve("a.jsonl");
    Files.writeString(
        file,
        "{\"id\": 1, \"name\": \"a\", \"score\": 1, \"ok\": true, \"m\": [[1, 2], [3, 4]], \"o\": {\"k\": 1}}\n"
            + "\n"
            + "{\"id\": 2, \"score\": 2.5, \"ok\": false, \"m\": [[5, 6], [7, 8]], \"o\": [1]}\n");
    JsonLinesSource source = JsonLinesSource.of(file.toString());
    assertThat(source.resolveSchema())
        .isEqualTo(
            new Schema(
                List.of(
                    Columns.int64("id"),
                    Columns.utf8("name"),
                    Columns.float64("score"),
                    Columns.bool("ok"),
                    Columns.tensor("m", ElementType.INT64, 2, 2),
                    Columns.utf8("o"))));
    List<List<String>> rows = rows(source, strict());
    assertThat(rows).hasSize(2);
    assertThat(rows.get(0))
        .containsExactly("1", "a", "1.0", "true", rows.get(0).get(4), "{\"k\":1}");
    assertThat(rows.get(1)).containsExactly("2", null, "2.5", "false", rows.get(1).get(4), "[1]");
    try (BufferAllocator allocator = new RootAllocator();
        SplitReader reader = source.open(source.planSplits().get(0), strict());
        Batch b = reader.next(allocator)) {
      assertThat(b.tensorData("m").getLong(8 * 3)).isEqualTo(4);
      assertThat(b.tensorData("m").getLong(32 + 8 * 2)).isEqualTo(7);
    }
  }

  @Test
  void aMalformedJsonLineNamesFileAndLineOrIsSkippedAndCounted() throws IOException {
    Path file = dir.resolve("bad.jsonl");
    Files.writeString(
        file,
        "{\"id\": 1, \"v\": [1, 2]}\n"
            + "{\"id\": 2, \"v\": [1, 2\n"
            + "[1, 2]\n"
            + "{\"id\": \"three\", \"v\": [3, 4]}\n"
            + "{\"id\": 5, \"v\": [5, 6, 7]}\n"
            + "{\"id\": 6, \"v\": [6, 7]}\n");
    Schema schema =
        new Schema(List.of(Columns.int64("id"), Columns.tensor("v", ElementType.INT32, 2)));
    JsonLinesSource source = JsonLinesSource.builder(file.toString()).schema(schema).build();
    assertThatThrownBy(() -> rows(source, strict()))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining("line 2")
        .hasMessageContaining("malformed JSON");
    BadRecords allowance = new BadRecords(4);
    List<List<String>> rows = rows(source, new ReadContext(2, 1L << 20, allowance));
    assertThat(rows).extracting(r -> r.get(0)).containsExactly("1", "6");
    assertThat(allowance.skipped()).isEqualTo(4);
    assertThatThrownBy(() -> rows(source, new ReadContext(2, 1L << 20, new BadRecords(3))))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("line 5")
        .hasMessageContaining("shape [2]");
  }
}
