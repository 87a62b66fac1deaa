package dev.sluice.loader.source;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.sink.CsvSink;
import dev.sluice.loader.sink.FileSink;
import dev.sluice.loader.sink.JsonLinesSink;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.CharRange;
import net.jqwik.api.constraints.Chars;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.constraints.StringLength;
import net.jqwik.api.constraints.WithNull;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.types.pojo.Schema;

/** Whatever rows a CSV or JSON lines sink writes, the matching source reads back the same. */
class TextRoundTripTest {
  private static final Schema SCHEMA =
      new Schema(
          List.of(Columns.utf8("s"), Columns.int64("l"), Columns.float64("d"), Columns.bool("b")));

  /** One row; null cells where the generators give null. */
  record Row(String s, Long l, Double d, Boolean b) {}

  @Property(tries = 60)
  void csvRoundTrip(
      @ForAll @Size(min = 1, max = 12)
          List<
                  @WithNull(0.2) @StringLength(max = 12)
                  @Chars({',', '"', '\n', '\r', ' ', '\t', 'é', '中', ';'})
                  @CharRange(from = 'a', to = 'e') String>
              texts,
      @ForAll long seed)
      throws IOException {
    List<Row> rows = rows(texts, seed);
    // CSV cannot tell an empty string from null: both read as null.
    List<Row> expected =
        rows.stream()
            .map(r -> new Row(r.s() == null || r.s().isEmpty() ? null : r.s(), r.l(), r.d(), r.b()))
            .toList();
    assertThat(
            roundTrip(
                rows,
                dir -> new CsvSink(dir),
                dir -> CsvSource.builder(dir.toString()).schema(SCHEMA).build()))
        .isEqualTo(expected);
  }

  @Property(tries = 60)
  void jsonRoundTrip(
      @ForAll @Size(min = 1, max = 12)
          List<
                  @WithNull(0.2) @StringLength(max = 12)
                  @Chars({',', '"', '\n', '\r', '\\', '\u0001', 'é', '中', '{'})
                  @CharRange(from = 'a', to = 'e') String>
              texts,
      @ForAll long seed)
      throws IOException {
    List<Row> rows = rows(texts, seed);
    assertThat(
            roundTrip(
                rows,
                dir -> new JsonLinesSink(dir),
                dir -> JsonLinesSource.builder(dir.toString()).schema(SCHEMA).build()))
        .isEqualTo(rows);
  }

  /** Rows of the texts, with numbers and booleans (and nulls) drawn from the seed. */
  private static List<Row> rows(List<String> texts, long seed) {
    java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
    double[] specials = {
      0.0,
      -0.0,
      Double.NaN,
      Double.POSITIVE_INFINITY,
      Double.NEGATIVE_INFINITY,
      Double.MIN_VALUE,
      Double.MAX_VALUE,
      1e-300,
      0.1
    };
    List<Row> rows = new ArrayList<>();
    for (String s : texts) {
      Long l =
          random.nextInt(5) == 0
              ? null
              : switch (random.nextInt(3)) {
                case 0 -> Long.MIN_VALUE;
                case 1 -> Long.MAX_VALUE;
                default -> random.nextLong();
              };
      Double d =
          random.nextInt(5) == 0
              ? null
              : random.nextBoolean()
                  ? specials[random.nextInt(specials.length)]
                  : random.nextDouble() * Math.pow(10, random.nextInt(-20, 20));
      Boolean b = random.nextInt(5) == 0 ? null : random.nextBoolean();
      rows.add(new Row(s, l, d, b));
    }
    return rows;
  }

  @FunctionalInterface
  private interface Opener<T> {
    T open(Path dir) throws IOException;
  }

  private static List<Row> roundTrip(List<Row> rows, Opener<FileSink> sinks, Opener<Source> sources)
      throws IOException {
    Path dir = Files.createTempDirectory("sluice-text-roundtrip");
    try (BufferAllocator allocator = new RootAllocator()) {
      try (FileSink sink = sinks.open(dir);
          BatchBuilder builder =
              BatchBuilder.create(allocator, SCHEMA, Math.max(1, rows.size()), 64, List.of())) {
        for (int r = 0; r < rows.size(); r++) {
          Row row = rows.get(r);
          builder.setString("s", r, row.s());
          if (row.l() == null) {
            builder.setNull("l", r);
          } else {
            builder.setLong("l", r, row.l());
          }
          if (row.d() == null) {
            builder.setNull("d", r);
          } else {
            builder.setDouble("d", r, row.d());
          }
          if (row.b() == null) {
            builder.setNull("b", r);
          } else {
            builder.setBoolean("b", r, row.b());
          }
        }
        try (Batch batch = builder.build(rows.size())) {
          sink.write(batch);
        }
      }
      List<Row> read = new ArrayList<>();
      Source source = sources.open(dir);
      for (SourceSplit split : source.planSplits()) {
        try (SplitReader reader =
            source.open(split, new ReadContext(5, 1L << 20, new dev.sluice.loader.BadRecords(0)))) {
          for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
            try (Batch batch = b) {
              for (int r = 0; r < batch.rowCount(); r++) {
                read.add(
                    new Row(
                        batch.isNull("s", r) ? null : batch.getString("s", r),
                        batch.isNull("l", r) ? null : batch.getLong("l", r),
                        batch.isNull("d", r) ? null : batch.getDouble("d", r),
                        batch.isNull("b", r) ? null : ((BitVector) batch.vector("b")).get(r) == 1));
              }
            }
          }
        }
      }
      assertThat(allocator.getAllocatedMemory()).isZero();
      return read;
    } finally {
      try (Stream<Path> walk = Files.walk(dir)) {
        for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(p);
        }
      }
    }
  }
}
