package dev.sluice.loader.source;

import static dev.sluice.loader.source.ArrowIpcSourceTest.SCHEMA;
import static dev.sluice.loader.source.ArrowIpcSourceTest.batch;
import static dev.sluice.loader.source.ArrowIpcSourceTest.checkRow;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.TensorSpec;
import dev.sluice.loader.sink.ParquetSink;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.arrow.dataset.file.DatasetFileWriter;
import org.apache.arrow.dataset.file.FileFormat;
import org.apache.arrow.memory.AllocationListener;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParquetSourceTest {
  private static final TensorSpec T = TensorSpec.of(ElementType.FLOAT32, 2, 2);

  @TempDir Path dir;

  /** Writes batches of {@code sizes} rows (ids from 0) with the sink: one file per batch. */
  private Path writeWithSink(String name, int... sizes) throws Exception {
    Path out = dir.resolve(name);
    try (BufferAllocator allocator = new RootAllocator();
        ParquetSink sink = new ParquetSink(out)) {
      int id = 0;
      for (int rows : sizes) {
        try (Batch b = batch(allocator, id, rows)) {
          sink.write(b);
        }
        id += rows;
      }
    }
    return out;
  }

  /**
   * A Parquet file written by arrow-dataset directly (as another program would: no Sluice sink, no
   * schema file), one row group per batch of {@code sizes} rows.
   */
  static Path writeDirectly(Path directory, int... sizes) throws Exception {
    Files.createDirectories(directory);
    // arrow-dataset's writer releases the batches it imported on its own threads after write()
    // returns: the allocator closes once they are all back.
    CompletableFuture<Void> released = new CompletableFuture<>();
    AtomicBoolean written = new AtomicBoolean();
    AtomicReference<BufferAllocator> self = new AtomicReference<>();
    AllocationListener listener =
        new AllocationListener() {
          @Override
          public void onRelease(long size) {
            if (written.get() && self.get().getAllocatedMemory() == 0) {
              released.complete(null);
            }
          }
        };
    try (BufferAllocator allocator = new RootAllocator(listener, Long.MAX_VALUE)) {
      self.set(allocator);
      List<Batch> batches = new ArrayList<>();
      int id = 0;
      for (int rows : sizes) {
        batches.add(batch(allocator, id, rows));
        id += rows;
      }
      try (BatchesReader reader = new BatchesReader(allocator, batches)) {
        DatasetFileWriter.write(
            allocator,
            reader,
            FileFormat.PARQUET,
            directory.toUri().toString(),
            new String[0],
            1,
            "data_{i}.parquet");
      } finally {
        batches.forEach(Batch::close);
      }
      written.set(true);
      if (allocator.getAllocatedMemory() > 0) {
        released.get(30, TimeUnit.SECONDS);
      }
    }
    return directory.resolve("data_0.parquet");
  }

  private static final class BatchesReader extends ArrowReader {
    private final List<Batch> batches;
    private int next;

    BatchesReader(BufferAllocator allocator, List<Batch> batches) {
      super(allocator);
      this.batches = batches;
    }

    @Override
    public boolean loadNextBatch() throws IOException {
      if (next == batches.size()) {
        return false;
      }
      try (ArrowRecordBatch rb = new VectorUnloader(batches.get(next++).root()).getRecordBatch()) {
        new VectorLoader(getVectorSchemaRoot()).load(rb);
      }
      return true;
    }

    @Override
    public long bytesRead() {
      return 0;
    }

    @Override
    protected void closeReadSource() {}

    @Override
    protected Schema readSchema() {
      return SCHEMA;
    }
  }

  /** All rows of the splits, read in order with {@code context}, each batch checked. */
  private static List<Integer> read(
      Source source, List<SourceSplit> splits, ReadContext context, BufferAllocator allocator)
      throws IOException {
    List<Integer> ids = new ArrayList<>();
    for (SourceSplit split : splits) {
      try (SplitReader reader = source.open(split, context)) {
        for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
          try (Batch batch = b) {
            assertThat(batch.rowCount()).isLessThanOrEqualTo(context.targetRows());
            for (int r = 0; r < batch.rowCount(); r++) {
              int id = (int) batch.getLong("id", r);
              if (batch.hasColumn("name")) {
                checkRow(batch, r, id);
              }
              ids.add(id);
            }
          }
        }
      }
    }
    return ids;
  }

  private static List<Integer> range(int n) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(i);
    }
    return out;
  }

  @Test
  void aRoundTripKeepsRowsNullsAndTensors() throws Exception {
    Path out = writeWithSink("out", 30, 7, 50);
    assertThat(out.resolve(ParquetSink.SCHEMA_FILE)).exists();
    try (var listing = Files.list(out)) {
      assertThat(listing.map(p -> p.getFileName().toString()).sorted())
          .containsExactly(
              ParquetSink.SCHEMA_FILE,
              "part-00000.parquet",
              "part-00001.parquet",
              "part-00002.parquet");
    }
    ParquetSource source = ParquetSource.of(out.toString());
    List<SourceSplit> splits = source.planSplits();
    assertThat(splits).extracting(SourceSplit::estimatedRows).containsExactly(30L, 7L, 50L);
    try (BufferAllocator allocator = new RootAllocator()) {
      assertThat(read(source, splits, new ReadContext(16, 1L << 20, BadRecords.none()), allocator))
          .isEqualTo(range(87));
      try (SplitReader reader = source.open(splits.get(0), ReadContext.defaults());
          Batch b = reader.next(allocator)) {
        assertThat(b.schema()).isEqualTo(SCHEMA);
        assertThat(b.tensorSpec("t")).isEqualTo(TensorSpec.of(ElementType.FLOAT32, 2, 2));
      }
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aFileWrittenElsewhereHasOneSplitPerRowGroup() throws Exception {
    Path file = writeDirectly(dir.resolve("foreign"), 10, 25, 5, 40);
    ParquetSource source = ParquetSource.builder(file.toString()).tensor("t", T).build();
    List<SourceSplit> splits = source.planSplits();
    assertThat(splits).extracting(SourceSplit::start).containsExactly(0L, 1L, 2L, 3L);
    assertThat(splits).extracting(SourceSplit::estimatedRows).containsExactly(10L, 25L, 5L, 40L);
    try (BufferAllocator allocator = new RootAllocator()) {
      ReadContext context = new ReadContext(8, 1L << 20, BadRecords.none());
      // Each split reads exactly its row group, however the scanner cuts batches.
      assertThat(read(source, List.of(splits.get(2)), context, allocator))
          .containsExactly(35, 36, 37, 38, 39);
      assertThat(read(source, List.of(splits.get(1)), context, allocator))
          .isEqualTo(range(35).subList(10, 35));
      assertThat(read(source, splits, context, allocator)).isEqualTo(range(80));

      ParquetSource pairs =
          ParquetSource.builder(file.toString()).tensor("t", T).rowGroupsPerSplit(3).build();
      List<SourceSplit> two = pairs.planSplits();
      assertThat(two).extracting(SourceSplit::estimatedRows).containsExactly(40L, 40L);
      assertThat(read(pairs, two, context, allocator)).isEqualTo(range(80));
    }
  }

  @Test
  void aForeignFixedSizeColumnIsATensorWhenNamed() throws Exception {
    Path file = writeDirectly(dir.resolve("foreign"), 12);
    try (BufferAllocator allocator = new RootAllocator()) {
      ParquetSource plain = ParquetSource.of(file.toString());
      try (SplitReader reader = plain.open(plain.planSplits().get(0), ReadContext.defaults());
          Batch b = reader.next(allocator)) {
        // No schema file: the column is the bytes it is stored as.
        assertThat(b.schema().findField("t").getType())
            .isEqualTo(new ArrowType.FixedSizeBinary(16));
        assertThat(TensorSpec.fromField(b.schema().findField("t"))).isNull();
      }
      ParquetSource named =
          ParquetSource.builder(file.toString())
              .tensor("t", TensorSpec.of(ElementType.FLOAT32, 2, 2))
              .build();
      assertThat(read(named, named.planSplits(), ReadContext.defaults(), allocator))
          .isEqualTo(range(12));
      ParquetSource wrong =
          ParquetSource.builder(file.toString())
              .tensor("t", TensorSpec.of(ElementType.FLOAT64, 2, 2))
              .build();
      assertThatThrownBy(() -> read(wrong, wrong.planSplits(), ReadContext.defaults(), allocator))
          .isInstanceOf(IOException.class)
          .hasMessageContaining(file.toString())
          .hasMessageContaining("column 't'")
          .hasMessageContaining("32 bytes");
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void projectionReadsTheNamedColumnsInTheirOrder() throws Exception {
    Path out = writeWithSink("out", 20, 20);
    ParquetSource source = ParquetSource.builder(out.toString()).columns("t", "id").build();
    try (BufferAllocator allocator = new RootAllocator()) {
      List<Integer> ids = new ArrayList<>();
      for (SourceSplit split : source.planSplits()) {
        try (SplitReader reader = source.open(split, ReadContext.defaults())) {
          for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
            try (Batch batch = b) {
              assertThat(batch.columnNames()).containsExactly("t", "id");
              assertThat(batch.tensorSpec("t")).isEqualTo(TensorSpec.of(ElementType.FLOAT32, 2, 2));
              for (int r = 0; r < batch.rowCount(); r++) {
                int id = (int) batch.getLong("id", r);
                assertThat(batch.tensorData("t").getFloat((long) r * 16 + 12)).isEqualTo(id + 0.3f);
                ids.add(id);
              }
            }
          }
        }
      }
      assertThat(ids).isEqualTo(range(40));
      ParquetSource missing = ParquetSource.builder(out.toString()).columns("id", "nope").build();
      SourceSplit first = missing.planSplits().get(0);
      assertThatThrownBy(
              () -> {
                try (SplitReader reader = missing.open(first, ReadContext.defaults())) {
                  reader.next(allocator);
                }
              })
          .isInstanceOf(IOException.class)
          .hasMessageContaining("part-00000.parquet")
          .hasMessageContaining("no column 'nope'");
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void batchesLargerThanTheByteTargetAreCut() throws Exception {
    Path out = writeWithSink("out", 100);
    ParquetSource source = ParquetSource.of(out.toString());
    try (BufferAllocator allocator = new RootAllocator()) {
      ReadContext small = new ReadContext(1024, 1024, BadRecords.none());
      List<Integer> ids = read(source, source.planSplits(), small, allocator);
      assertThat(ids).isEqualTo(range(100));
    }
  }

  @Test
  void aFileThatIsNotParquetIsAnErrorNamingIt() throws Exception {
    Path bad = dir.resolve("bad.parquet");
    Files.write(bad, "this is not a parquet file at all, only text".getBytes());
    assertThatThrownBy(() -> ParquetSource.of(bad.toString()).planSplits())
        .isInstanceOf(IOException.class)
        .hasMessageContaining(bad.toString());
    Path truncated = dir.resolve("truncated.parquet");
    Path good = writeDirectly(dir.resolve("good"), 50);
    byte[] bytes = Files.readAllBytes(good);
    Files.write(truncated, Arrays.copyOf(bytes, bytes.length / 2));
    assertThatThrownBy(() -> ParquetSource.of(truncated.toString()).planSplits())
        .isInstanceOf(IOException.class)
        .hasMessageContaining(truncated.toString());
  }

  /** Overwrites the middle of the second of three equal row groups' data with 0xff. */
  private static void corruptMiddleRowGroup(Path file) throws Exception {
    long size = Files.size(file);
    int footer;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer tail = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      ch.read(tail, size - 8);
      footer = tail.getInt(0);
    }
    long dataStart = 4;
    long dataEnd = size - 8 - footer;
    long third = (dataEnd - dataStart) / 3;
    byte[] junk = new byte[(int) (third / 2)];
    Arrays.fill(junk, (byte) 0xff);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(junk), dataStart + third + third / 4);
    }
  }

  @Test
  void aCorruptRowGroupNamesFileAndRowGroupOrIsSkippedAndCounted() throws Exception {
    Path file = writeDirectly(dir.resolve("corrupt"), 200, 200, 200);
    corruptMiddleRowGroup(file);
    ParquetSource source = ParquetSource.builder(file.toString()).tensor("t", T).build();
    List<SourceSplit> splits = source.planSplits();
    assertThat(splits).hasSize(3);
    try (BufferAllocator allocator = new RootAllocator()) {
      assertThatThrownBy(() -> read(source, splits, ReadContext.defaults(), allocator))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining(file.toString())
          .hasMessageContaining("row group");

      // Arrow reads ahead: which splits fail depends on its timing, but every failing split is
      // one bad record, and every row returned is whole and right (read() checks each).
      BadRecords allowance = new BadRecords(3);
      List<Integer> ids = read(source, splits, new ReadContext(64, 1L << 20, allowance), allocator);
      assertThat(allowance.skipped()).isBetween(1L, 3L);
      assertThat(ids).hasSizeLessThanOrEqualTo(400).doesNotHaveDuplicates();
      assertThat(ids).allMatch(id -> id < 200 || id >= 400);
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
  }
}
