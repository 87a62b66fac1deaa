package dev.sluice.loader.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.sink.ArrowIpcSink;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArrowIpcSourceTest {
  static final Schema SCHEMA =
      new Schema(
          List.of(
              Columns.int64("id"),
              Columns.utf8("name"),
              Columns.float64("score"),
              Columns.tensor("t", ElementType.FLOAT32, 2, 2)));

  @TempDir Path dir;

  /**
   * A batch of rows {@code [from, from + rows)}: id, a name (null every 5th row), a score, a
   * tensor.
   */
  static Batch batch(BufferAllocator allocator, int from, int rows) {
    try (BatchBuilder b =
        BatchBuilder.create(allocator, SCHEMA, rows, 16L * rows, List.of("test"))) {
      ArrowBuf t = b.tensorData("t");
      for (int i = 0; i < rows; i++) {
        int id = from + i;
        b.setLong("id", i, id);
        if (id % 5 == 0) {
          b.setNull("name", i);
        } else {
          b.setString("name", i, "row-" + id);
        }
        b.setDouble("score", i, id * 0.5);
        for (int k = 0; k < 4; k++) {
          t.setFloat((long) i * 16 + k * 4L, id + k / 10f);
        }
      }
      return b.build(rows);
    }
  }

  static void checkRow(Batch batch, int row, int id) {
    assertThat(batch.getLong("id", row)).isEqualTo(id);
    if (id % 5 == 0) {
      assertThat(batch.isNull("name", row)).isTrue();
    } else {
      assertThat(batch.getString("name", row)).isEqualTo("row-" + id);
    }
    assertThat(batch.getDouble("score", row)).isEqualTo(id * 0.5);
    ArrowBuf t = batch.tensorData("t");
    for (int k = 0; k < 4; k++) {
      assertThat(t.getFloat((long) row * 16 + k * 4L)).isEqualTo(id + k / 10f);
    }
  }

  /** Writes record batches of the given sizes through the sink into {@code out}. */
  private List<Path> write(Path out, long maxRowsPerFile, int... batchRows) throws IOException {
    ArrowIpcSink sink = new ArrowIpcSink(out, maxRowsPerFile);
    int id = 0;
    try (BufferAllocator allocator = new RootAllocator()) {
      for (int rows : batchRows) {
        try (Batch b = batch(allocator, id, rows)) {
          sink.write(b);
          assertThat(b.isClosed()).isFalse();
        }
        id += rows;
      }
    } finally {
      sink.close();
    }
    assertThat(sink.rowsWritten()).isEqualTo(id);
    return sink.files();
  }

  @Test
  void batchesRoundTripThroughSinkAndSource() throws IOException {
    List<Path> files = write(dir.resolve("out"), 25, 10, 10, 10, 7, 9);
    assertThat(files)
        .extracting(p -> p.getFileName().toString())
        .containsExactly("part-00000.arrow", "part-00001.arrow", "part-00002.arrow");

    ArrowIpcSource source = ArrowIpcSource.of(dir.resolve("out").toString());
    List<SourceSplit> splits = source.planSplits();
    assertThat(splits).extracting(SourceSplit::estimatedRows).containsExactly(20L, 17L, 9L);
    assertThat(splits)
        .extracting(SourceSplit::estimatedBytes)
        .containsExactly(
            Files.size(files.get(0)), Files.size(files.get(1)), Files.size(files.get(2)));
    List<Integer> sizes = new ArrayList<>();
    int id = 0;
    try (BufferAllocator allocator = new RootAllocator()) {
      for (SourceSplit split : splits) {
        try (SplitReader reader = source.open(split, ReadContext.defaults())) {
          for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
            try (Batch batch = b) {
              assertThat(batch.schema()).isEqualTo(SCHEMA);
              assertThat(batch.sources()).containsExactly(split.paths().get(0));
              sizes.add(batch.rowCount());
              for (int r = 0; r < batch.rowCount(); r++) {
                checkRow(batch, r, id++);
              }
            }
          }
        }
      }
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
    // Rolling at 25 rows: 10+10 fit, a third 10 would not; 10+7 fit, 9 more would not.
    assertThat(sizes).containsExactly(10, 10, 10, 7, 9);
    assertThat(id).isEqualTo(46);
  }

  @Test
  void filesWithManyRecordBatchesAreCutIntoRanges() throws IOException {
    write(dir.resolve("out"), Long.MAX_VALUE, 4, 4, 4, 4, 3);
    ArrowIpcSource source =
        ArrowIpcSource.builder(dir.resolve("out/part-00000.arrow").toString())
            .batchesPerSplit(2)
            .build();
    List<SourceSplit> splits = source.planSplits();
    assertThat(splits).extracting(SourceSplit::start).containsExactly(0L, 2L, 4L);
    assertThat(splits).extracting(SourceSplit::end).containsExactly(2L, 4L, 5L);
    assertThat(splits).extracting(SourceSplit::index).containsExactly(0, 1, 2);
    assertThat(splits).extracting(SourceSplit::estimatedRows).containsExactly(8L, 8L, 3L);
    assertThat(splits).allMatch(s -> s.estimatedBytes() > 0);

    // Read the splits out of order: each yields exactly its record batches.
    try (BufferAllocator allocator = new RootAllocator()) {
      assertThat(ids(source, splits.get(2), ReadContext.defaults(), allocator))
          .containsExactly(16, 17, 18);
      assertThat(ids(source, splits.get(0), ReadContext.defaults(), allocator))
          .containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
      assertThat(ids(source, splits.get(1), ReadContext.defaults(), allocator))
          .hasSize(8)
          .startsWith(8);
    }
    // A file with no more batches than the limit stays one split.
    assertThat(
            ArrowIpcSource.builder(dir.resolve("out").toString())
                .batchesPerSplit(5)
                .build()
                .planSplits())
        .singleElement()
        .satisfies(s -> assertThat(s.end()).isEqualTo(-1));
  }

  @Test
  void largeRecordBatchesAreReslicedToTargetRows() throws IOException {
    write(dir.resolve("out"), Long.MAX_VALUE, 100);
    ArrowIpcSource source = ArrowIpcSource.of(dir.resolve("out").toString());
    List<Integer> sizes = new ArrayList<>();
    List<Integer> ids = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator();
        SplitReader reader =
            source.open(
                source.planSplits().get(0), new ReadContext(30, 1L << 20, BadRecords.none()))) {
      for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
        try (Batch batch = b) {
          sizes.add(batch.rowCount());
          for (int r = 0; r < batch.rowCount(); r++) {
            checkRow(batch, r, ids.size());
            ids.add(batch.getInt("id", r));
          }
        }
      }
    }
    assertThat(sizes).containsExactly(30, 30, 30, 10);
    assertThat(ids).hasSize(100);
  }

  @Test
  void noMemoryStaysInTheReadersAllocatorBetweenCalls() throws IOException {
    write(dir.resolve("out"), Long.MAX_VALUE, 50, 50);
    ArrowIpcSource source = ArrowIpcSource.of(dir.resolve("out").toString());
    try (BufferAllocator allocator = new RootAllocator()) {
      List<Batch> kept = new ArrayList<>();
      try (SplitReader reader = source.open(source.planSplits().get(0), ReadContext.defaults())) {
        for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
          kept.add(b);
          assertThat(allocator.getChildAllocators())
              .singleElement()
              .satisfies(child -> assertThat(child.getAllocatedMemory()).isZero());
          // The batch's memory is the caller's, accounted in the allocator it passed.
          assertThat(allocator.getAllocatedMemory()).isGreaterThanOrEqualTo(b.sizeInBytes());
        }
      }
      assertThat(allocator.getChildAllocators()).isEmpty();
      // Batches outlive the reader.
      assertThat(kept).hasSize(2);
      checkRow(kept.get(1), 49, 99);
      kept.forEach(Batch::close);
      assertThat(allocator.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aFileThatIsNotArrowIsAnErrorNamingIt() throws IOException {
    Path file = write(dir.resolve("out"), Long.MAX_VALUE, 5).get(0);
    ArrowIpcSource source = ArrowIpcSource.of(file.toString());
    SourceSplit split = source.planSplits().get(0);
    Files.write(file, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
    assertThatThrownBy(source::planSplits)
        .isInstanceOf(IOException.class)
        .hasMessageContaining(file.toString());
    try (BufferAllocator allocator = new RootAllocator();
        SplitReader reader = source.open(split, ReadContext.defaults())) {
      assertThatThrownBy(() -> reader.next(allocator))
          .isInstanceOf(IOException.class)
          .hasMessageContaining(file.toString());
    }
  }

  @Test
  void aCorruptRecordBatchNamesTheFileAndItsIndexAndCanBeSkipped() throws IOException {
    Path file = write(dir.resolve("out"), Long.MAX_VALUE, 10, 10, 10).get(0);
    ArrowBlock block;
    try (BufferAllocator allocator = new RootAllocator();
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
      block = reader.getRecordBlocks().get(1);
    }
    byte[] bytes = Files.readAllBytes(file);
    // Garble record batch 1's metadata (its flatbuffer), leaving the footer and the others intact.
    Arrays.fill(
        bytes,
        (int) block.getOffset() + 8,
        (int) block.getOffset() + block.getMetadataLength(),
        (byte) 0x7f);
    Files.write(file, bytes);

    ArrowIpcSource source = ArrowIpcSource.of(file.toString());
    assertThat(source.planSplits().get(0).estimatedRows()).isEqualTo(-1);
    try (BufferAllocator allocator = new RootAllocator()) {
      assertThatThrownBy(
              () -> ids(source, source.planSplits().get(0), ReadContext.defaults(), allocator))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining(file.toString())
          .hasMessageContaining("record batch 1");
      BadRecords allowance = new BadRecords(1);
      List<Integer> ids =
          ids(
              source,
              source.planSplits().get(0),
              new ReadContext(1024, 1L << 20, allowance),
              allocator);
      assertThat(ids).hasSize(20).startsWith(0).endsWith(29);
      assertThat(allowance.skipped()).isEqualTo(1);
    }
  }

  @Test
  void theSinkRefusesAnotherSchemaAndExistingFiles() throws IOException {
    Path out = dir.resolve("out");
    Schema other = new Schema(List.of(Columns.int32("x")));
    try (BufferAllocator allocator = new RootAllocator();
        ArrowIpcSink sink = new ArrowIpcSink(out);
        Batch a = batch(allocator, 0, 3);
        BatchBuilder b = BatchBuilder.create(allocator, other, 1)) {
      sink.write(a);
      try (Batch wrong = b.setLong("x", 0, 1).build(1)) {
        assertThatThrownBy(() -> sink.write(wrong))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("x: Int(32, true)")
            .hasMessageContaining("id: Int(64, true)");
      }
    }
    assertThatThrownBy(() -> write(out, 10, 1))
        .isInstanceOf(FileAlreadyExistsException.class)
        .hasMessageContaining("part-00000.arrow");
  }

  @Test
  void aSinkThatWroteNothingLeavesNoFile() throws IOException {
    Path out = dir.resolve("empty");
    ArrowIpcSink sink = new ArrowIpcSink(out);
    try (BufferAllocator allocator = new RootAllocator();
        Batch empty = batch(allocator, 0, 0)) {
      sink.write(empty);
    } finally {
      sink.close();
    }
    assertThat(sink.files()).isEmpty();
    try (var listing = Files.list(out)) {
      assertThat(listing).isEmpty();
    }
  }

  private static List<Integer> ids(
      Source source, SourceSplit split, ReadContext context, BufferAllocator allocator)
      throws IOException {
    List<Integer> ids = new ArrayList<>();
    try (SplitReader reader = source.open(split, context)) {
      for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
        try (Batch batch = b) {
          for (int r = 0; r < batch.rowCount(); r++) {
            int id = batch.getInt("id", r);
            checkRow(batch, r, id);
            ids.add(id);
          }
        }
      }
    }
    return ids;
  }
}
