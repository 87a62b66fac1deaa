package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.sink.ArrowIpcSink;
import dev.sluice.loader.sink.BatchSink;
import dev.sluice.loader.sink.CsvSink;
import dev.sluice.loader.sink.FileSink;
import dev.sluice.loader.sink.JsonLinesSink;
import dev.sluice.loader.sink.ParquetSink;
import dev.sluice.loader.sink.WriteOptions;
import dev.sluice.loader.source.ArrowIpcSource;
import dev.sluice.loader.source.CsvSource;
import dev.sluice.loader.source.JsonLinesSource;
import dev.sluice.loader.source.ParquetSource;
import dev.sluice.loader.source.RangeSource;
import dev.sluice.loader.source.Source;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Datasets written as Parquet, JSON lines and CSV read back the same; writes are atomic. */
class FormatsTest {
  /** Rows of every column kind the formats carry; CSV leaves out the tensor. */
  static final Schema SCHEMA =
      new Schema(
          List.of(
              Columns.int64("id"),
              Columns.utf8("name"),
              Columns.float64("score"),
              Columns.bool("even"),
              Columns.int32("small"),
              Columns.tensor("pixels", ElementType.UINT8, 2, 3),
              Columns.tensor("vec", ElementType.FLOAT32, 2)));

  static final Schema FLAT = new Schema(SCHEMA.getFields().subList(0, 4)); // id, name, score, even

  @TempDir Path dir;

  private static Sluice sluice() {
    return Sluice.builder()
        .resources(Resources.cpus(2))
        .options(
            ExecutionOptions.defaults()
                .withTargetBlockRows(100)
                .withProgress(ExecutionOptions.Progress.OFF)
                .withPreserveOrder(true))
        .build();
  }

  /** The rows of {@code schema} for the ids of a range block. */
  static BatchFunction rows(Schema schema) {
    return (in, ctx) -> {
      int n = in.rowCount();
      try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), schema, n, 16L * n, List.of())) {
        boolean tensors = schema.getFields().stream().anyMatch(f -> f.getName().equals("pixels"));
        ArrowBuf pixels = tensors ? b.tensorData("pixels") : null;
        ArrowBuf vec = tensors ? b.tensorData("vec") : null;
        for (int r = 0; r < n; r++) {
          long id = in.getLong(RangeSource.COLUMN, r);
          b.setLong("id", r, id);
          if (id % 7 == 3) {
            b.setNull("name", r);
          } else {
            b.setString("name", r, "row, \"" + id + "\"\n" + (id % 2 == 0 ? "é" : ""));
          }
          b.setDouble("score", r, id / 8.0 - 3);
          b.setBoolean("even", r, id % 2 == 0);
          if (tensors) {
            b.setLong("small", r, (int) (id % 1000) - 500);
            for (int k = 0; k < 6; k++) {
              pixels.setByte(r * 6L + k, (int) ((id + k) % 256));
            }
            vec.setFloat(r * 8L, id * 0.5f);
            vec.setFloat(r * 8L + 4, -id);
          }
        }
        return b.build(n);
      }
    };
  }

  /** Checks a row against {@link #rows}. */
  static void check(Batch b, int r) {
    long id = b.getLong("id", r);
    if (id % 7 == 3) {
      assertThat(b.isNull("name", r)).as("name of %d", id).isTrue();
    } else {
      assertThat(b.getString("name", r))
          .isEqualTo("row, \"" + id + "\"\n" + (id % 2 == 0 ? "é" : ""));
    }
    assertThat(b.getDouble("score", r)).isEqualTo(id / 8.0 - 3);
    assertThat(((org.apache.arrow.vector.BitVector) b.vector("even")).get(r))
        .isEqualTo(id % 2 == 0 ? 1 : 0);
    if (b.hasColumn("pixels")) {
      assertThat(b.getLong("small", r)).isEqualTo((int) (id % 1000) - 500);
      for (int k = 0; k < 6; k++) {
        assertThat(Byte.toUnsignedInt(b.tensorData("pixels").getByte(r * 6L + k)))
            .isEqualTo((int) ((id + k) % 256));
      }
      assertThat(b.tensorData("vec").getFloat(r * 8L)).isEqualTo(id * 0.5f);
      assertThat(b.tensorData("vec").getFloat(r * 8L + 4)).isEqualTo((float) -id);
    }
  }

  /** Reads a dataset, checking every row and the schema; the ids read, sorted. */
  static List<Long> readBack(Dataset ds, Schema expected) {
    TreeMap<Long, Boolean> ids = new TreeMap<>();
    try (BatchIterator it = ds.iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          assertThat(b.schema()).isEqualTo(expected);
          for (int r = 0; r < b.rowCount(); r++) {
            check(b, r);
            assertThat(ids.put(b.getLong("id", r), true)).isNull();
          }
        }
      }
    }
    return new ArrayList<>(ids.keySet());
  }

  private static List<String> names(Path directory) throws IOException {
    try (Stream<Path> list = Files.list(directory)) {
      return list.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void parquetRoundTripKeepsRowsTypesAndTensors() throws IOException {
    Path out = dir.resolve("parquet");
    try (Sluice s = sluice()) {
      s.range(1_000, 3).mapBatches(rows(SCHEMA)).writeParquet(out);
      // One file per block, numbered in order; the schema beside them.
      List<String> names = names(out);
      assertThat(names).contains(ParquetSink.SCHEMA_FILE).hasSizeGreaterThan(3);
      for (int i = 0; i < names.size() - 1; i++) {
        // "_" sorts before "p": the schema file comes first.
        assertThat(names.get(i + 1)).isEqualTo(String.format("part-%05d.parquet", i));
      }
      assertThat(readBack(s.readParquet(out.toString()), SCHEMA))
          .isEqualTo(DatasetBasicsTest.range(0, 1_000));
    }
  }

  @Test
  void parquetReadsStayWithinTheMemoryBudget() throws IOException {
    Path out = dir.resolve("big");
    Schema wide =
        new Schema(List.of(Columns.int64("id"), Columns.tensor("x", ElementType.FLOAT32, 64, 64)));
    long budget = 16L << 20;
    int rows = 4_096; // 16 KiB a row: 64 MiB, four budgets, in 16 files of 4 MiB
    try (Sluice s = sluice()) {
      s.range(rows, 4)
          .mapBatches(
              (in, ctx) -> {
                int n = in.rowCount();
                try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), wide, n)) {
                  ArrowBuf x = b.tensorData("x");
                  for (int r = 0; r < n; r++) {
                    long id = in.getLong(RangeSource.COLUMN, r);
                    b.setLong("id", r, id);
                    x.setFloat(r * 16_384L + 4 * 4095, id);
                  }
                  return b.build(n);
                }
              })
          .withOptions(s.defaultOptions().withTargetBlockRows(256))
          .writeParquet(out);
    }
    ExecutionOptions tight =
        ExecutionOptions.defaults()
            .withMemoryBudget(budget)
            .withTargetBlockRows(1024)
            .withTargetBlockBytes(1L << 20)
            .withProgress(ExecutionOptions.Progress.OFF);
    try (Sluice s = Sluice.builder().resources(Resources.cpus(2)).options(tight).build()) {
      Dataset ds =
          s.readParquet(out.toString())
              .mapBatches((in, ctx) -> in, MapOptions.DEFAULT.withName("Model").withCpus(0.5));
      java.util.BitSet seen = new java.util.BitSet();
      try (BatchIterator it = ds.iterBatches()) {
        while (it.hasNext()) {
          try (Batch b = it.next()) {
            assertThat(b.sizeInBytes()).isLessThanOrEqualTo(2L << 20);
            for (int r = 0; r < b.rowCount(); r++) {
              long id = b.getLong("id", r);
              assertThat(b.tensorData("x").getFloat(r * 16_384L + 4 * 4095)).isEqualTo(id);
              seen.set((int) id);
            }
          }
        }
        DatasetStats stats = it.stats();
        assertThat(seen.cardinality()).isEqualTo(rows);
        assertThat(stats.peakMemory()).as(stats.format()).isLessThanOrEqualTo(budget);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void parquetProjectionThroughADataset() {
    Path out = dir.resolve("parquet");
    try (Sluice s = sluice()) {
      s.range(300, 2).mapBatches(rows(SCHEMA)).writeParquet(out);
      Dataset ds = s.read(ParquetSource.builder(out.toString()).columns("vec", "id").build());
      long n = 0;
      try (BatchIterator it = ds.iterBatches()) {
        while (it.hasNext()) {
          try (Batch b = it.next()) {
            assertThat(b.columnNames()).containsExactly("vec", "id");
            assertThat(b.tensorSpec("vec")).isEqualTo(TensorSpec.of(ElementType.FLOAT32, 2));
            for (int r = 0; r < b.rowCount(); r++) {
              assertThat(b.tensorData("vec").getFloat(r * 8L)).isEqualTo(b.getLong("id", r) * 0.5f);
            }
            n += b.rowCount();
          }
        }
      }
      assertThat(n).isEqualTo(300);
    }
  }

  @Test
  void jsonRoundTripWithTheSchemaKeepsEveryType() {
    Path out = dir.resolve("json");
    try (Sluice s = sluice()) {
      s.range(1_000, 3).mapBatches(rows(SCHEMA)).writeJson(out);
      Source source = JsonLinesSource.builder(out.toString()).schema(SCHEMA).build();
      assertThat(readBack(s.read(source), SCHEMA)).isEqualTo(DatasetBasicsTest.range(0, 1_000));
    }
  }

  @Test
  void jsonInfersTheTypesOfWhatItWrote() throws IOException {
    Path out = dir.resolve("json");
    try (Sluice s = sluice()) {
      s.range(200, 2).mapBatches(rows(SCHEMA)).writeJson(out);
      assertThat(s.readJson(out.toString()).count()).isEqualTo(200);
    }
    Schema inferred = JsonLinesSource.of(out.toString()).resolveSchema();
    assertThat(inferred)
        .isEqualTo(
            new Schema(
                List.of(
                    Columns.int64("id"),
                    Columns.utf8("name"),
                    Columns.float64("score"),
                    Columns.bool("even"),
                    Columns.int64("small"),
                    Columns.tensor("pixels", ElementType.INT64, 2, 3),
                    Columns.tensor("vec", ElementType.FLOAT64, 2))));
  }

  @Test
  void csvRoundTripInfersTheTypes() throws IOException {
    Path out = dir.resolve("csv");
    try (Sluice s = sluice()) {
      s.range(1_000, 3)
          .mapBatches(rows(FLAT))
          .writeCsv(out, WriteOptions.defaults().withMaxRowsPerFile(400));
      assertThat(names(out)).containsExactly("part-00000.csv", "part-00001.csv", "part-00002.csv");
      CsvSource source = CsvSource.of(out.toString());
      assertThat(source.resolveSchema()).isEqualTo(FLAT);
      assertThat(readBack(s.readCsv(out.toString()), FLAT))
          .isEqualTo(DatasetBasicsTest.range(0, 1_000));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"arrow", "json", "csv", "parquet"})
  void writingOverOutputIsRefusedUnlessOverwriting(String format) throws IOException {
    Path out = dir.resolve(format);
    try (Sluice s = sluice()) {
      write(s.range(500, 2).mapBatches(rows(FLAT)), format, out, WriteOptions.defaults());
      List<String> first = names(out);
      assertThatThrownBy(
              () ->
                  write(
                      s.range(50, 1).mapBatches(rows(FLAT)), format, out, WriteOptions.defaults()))
          .isInstanceOf(UncheckedIOException.class)
          .hasCauseInstanceOf(FileAlreadyExistsException.class)
          .hasMessageContaining("part-00000." + extension(format))
          .hasMessageContaining("overwrite");
      assertThat(names(out)).isEqualTo(first);

      write(
          s.range(50, 1).mapBatches(rows(FLAT)),
          format,
          out,
          WriteOptions.defaults().withOverwrite(true));
      assertThat(names(out)).contains("part-00000." + extension(format));
      assertThat(readBack(s.read(source(format, out)), FLAT))
          .isEqualTo(DatasetBasicsTest.range(0, 50));
    }
  }

  @Test
  void badLinesThroughAPipelineAreNamedOrSkippedAndCounted() throws IOException {
    Path json = dir.resolve("bad.jsonl");
    Files.writeString(json, "{\"a\": 1}\n{\"a\": \n{\"a\": 3}\n");
    Path csv = dir.resolve("bad.csv");
    Files.writeString(csv, "a,b\n1,x\n2\n3,z\n");
    try (Sluice s = sluice()) {
      assertThatThrownBy(() -> s.readJson(json.toString()).count())
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining(json.toString())
          .hasMessageContaining("line 2");
      assertThatThrownBy(() -> s.readCsv(csv.toString()).count())
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining(csv.toString())
          .hasMessageContaining("line 3");
    }
    ExecutionOptions allowing =
        ExecutionOptions.defaults()
            .withBadRecordAllowance(5)
            .withProgress(ExecutionOptions.Progress.OFF);
    try (Sluice s = Sluice.builder().resources(Resources.cpus(2)).options(allowing).build()) {
      Dataset fromJson = s.readJson(json.toString());
      assertThat(fromJson.count()).isEqualTo(2);
      assertThat(fromJson.stats().badRecords()).isEqualTo(1);
      Dataset fromCsv = s.readCsv(csv.toString());
      assertThat(fromCsv.count()).isEqualTo(2);
      assertThat(fromCsv.stats().badRecords()).isEqualTo(1);
    }
  }

  /** A sink that remembers which parts its file sink had completed before it failed. */
  private static final class Watched implements BatchSink {
    final FileSink sink;
    final CountDownLatch partCompleted;
    volatile List<Path> completed = List.of();

    Watched(FileSink sink, CountDownLatch partCompleted) {
      this.sink = sink;
      this.partCompleted = partCompleted;
    }

    @Override
    public void write(Batch batch) throws IOException {
      sink.write(batch);
      completed = sink.files();
      if (!completed.isEmpty()) {
        partCompleted.countDown();
      }
    }

    @Override
    public void close() throws IOException {
      sink.close();
    }

    @Override
    public void abort() throws IOException {
      sink.abort();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"arrow", "json", "csv", "parquet"})
  void aFailedWriteLeavesNoFile(String format) throws IOException {
    Path out = dir.resolve(format);
    Files.createDirectories(out);
    Files.writeString(out.resolve("README.txt"), "not ours");
    WriteOptions options = WriteOptions.defaults().withMaxRowsPerFile(200);
    List<Watched> sinks = new ArrayList<>();
    // The failing block waits until a part is complete, so that the failure comes mid-write.
    CountDownLatch partCompleted = new CountDownLatch(1);
    try (Sluice s = sluice()) {
      Dataset failing =
          s.range(1_000, 2)
              .mapBatches(rows(FLAT))
              .mapBatches(
                  (in, ctx) -> {
                    if (in.getLong("id", 0) >= 700) {
                      assertThat(partCompleted.await(30, TimeUnit.SECONDS)).isTrue();
                      throw new IllegalStateException("block of " + in.getLong("id", 0) + " fails");
                    }
                    return in;
                  });
      assertThatThrownBy(
              () ->
                  failing.write(
                      () -> {
                        Watched w = new Watched(fileSink(format, out, options), partCompleted);
                        sinks.add(w);
                        return w;
                      }))
          .hasMessageContaining("block of 700 fails");
    }
    // Parts had been completed before the failure; none is left, nor a temporary file.
    assertThat(sinks).hasSize(1);
    assertThat(sinks.get(0).completed).isNotEmpty();
    assertThat(names(out)).containsExactly("README.txt");
  }

  @Test
  void aSinkClosedWithoutFailureKeepsItsParts() throws IOException {
    Path out = dir.resolve("arrow");
    try (Sluice s = sluice()) {
      s.range(450, 1).writeArrow(out, WriteOptions.defaults().withMaxRowsPerFile(200));
      assertThat(names(out))
          .containsExactly("part-00000.arrow", "part-00001.arrow", "part-00002.arrow");
      assertThat(s.read(ArrowIpcSource.of(out.toString())).count()).isEqualTo(450);
    }
  }

  private static String extension(String format) {
    return format.equals("json") ? "jsonl" : format;
  }

  private static FileSink fileSink(String format, Path out, WriteOptions options)
      throws IOException {
    return switch (format) {
      case "arrow" -> new ArrowIpcSink(out, options);
      case "json" -> new JsonLinesSink(out, options);
      case "csv" -> new CsvSink(out, options);
      case "parquet" -> new ParquetSink(out, options);
      default -> throw new IllegalArgumentException(format);
    };
  }

  private static void write(Dataset ds, String format, Path out, WriteOptions options) {
    switch (format) {
      case "arrow" -> ds.writeArrow(out, options);
      case "json" -> ds.writeJson(out, options);
      case "csv" -> ds.writeCsv(out, options);
      case "parquet" -> ds.writeParquet(out, options);
      default -> throw new IllegalArgumentException(format);
    }
  }

  private static Source source(String format, Path out) {
    return switch (format) {
      case "arrow" -> ArrowIpcSource.of(out.toString());
      case "json" -> JsonLinesSource.builder(out.toString()).schema(FLAT).build();
      case "csv" -> CsvSource.builder(out.toString()).schema(FLAT).build();
      case "parquet" -> ParquetSource.of(out.toString());
      default -> throw new IllegalArgumentException(format);
    };
  }
}
