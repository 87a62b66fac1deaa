package dev.sluice.loader.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.SluiceException;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BinaryFilesSourceTest {
  @TempDir Path dir;

  record Row(String key, String url, byte[] bytes) {}

  @Test
  void filesAreReadWholeWithKeysRelativeToTheRoot() throws IOException {
    Path data = dir.resolve("data");
    write(data.resolve("b.bin"), 10, 1);
    write(data.resolve("a/x.bin"), 20, 2);
    write(data.resolve("a/y/z.bin"), 0, 3);
    write(data.resolve(".hidden"), 5, 4);
    BinaryFilesSource source = BinaryFilesSource.of(data.toString());
    assertThat(source.root()).isEqualTo(data.toAbsolutePath());

    List<Row> rows = readAll(source, ReadContext.defaults());
    assertThat(rows).extracting(Row::key).containsExactly("a/x.bin", "a/y/z.bin", "b.bin");
    assertThat(rows.get(0).url()).isEqualTo(data.resolve("a/x.bin").toAbsolutePath().toString());
    assertThat(rows.get(0).bytes()).isEqualTo(content(20, 2));
    assertThat(rows.get(1).bytes()).isEmpty();
  }

  @Test
  void aPatternsKeysAreRelativeToItsBaseDirectory() throws IOException {
    write(dir.resolve("data/train/a.bin"), 3, 1);
    write(dir.resolve("data/val/b.bin"), 3, 2);
    write(dir.resolve("data/val/c.txt"), 3, 3);
    BinaryFilesSource source = BinaryFilesSource.of(dir + "/data/{train,val}/*.bin");
    assertThat(readAll(source, ReadContext.defaults()))
        .extracting(Row::key)
        .containsExactly("train/a.bin", "val/b.bin");
  }

  @Test
  void splitsGroupFilesUpToTheTargetSize() throws IOException {
    for (int i = 0; i < 7; i++) {
      write(dir.resolve(String.format("f%d.bin", i)), i == 3 ? 500 : 100, i);
    }
    BinaryFilesSource source =
        BinaryFilesSource.builder(dir.toString()).targetSplitBytes(250).build();
    List<SourceSplit> splits = source.planSplits();
    assertThat(splits).extracting(s -> s.paths().size()).containsExactly(2, 1, 1, 2, 1);
    assertThat(splits)
        .extracting(SourceSplit::estimatedBytes)
        .containsExactly(200L, 100L, 500L, 200L, 100L);
    assertThat(splits).extracting(SourceSplit::estimatedRows).containsExactly(2L, 1L, 1L, 2L, 1L);
    assertThat(splits).extracting(SourceSplit::index).containsExactly(0, 1, 2, 3, 4);
    assertThat(readAll(source, ReadContext.defaults())).hasSize(7);
  }

  @Test
  void batchesCloseAtTargetRowsOrTargetBytes() throws IOException {
    for (int i = 0; i < 10; i++) {
      write(dir.resolve(String.format("f%d.bin", i)), 1000, i);
    }
    BinaryFilesSource source = BinaryFilesSource.of(dir.toString());
    assertThat(batchSizes(source, new ReadContext(4, 1L << 20, BadRecords.none())))
        .containsExactly(4, 4, 2);
    assertThat(batchSizes(source, new ReadContext(100, 2500, BadRecords.none())))
        .containsExactly(3, 3, 3, 1);
  }

  @Test
  void aVanishedFileIsABadRecordNamingIt() throws IOException {
    for (int i = 0; i < 3; i++) {
      write(dir.resolve(String.format("f%d.bin", i)), 10, i);
    }
    BinaryFilesSource source = BinaryFilesSource.of(dir.toString());
    SourceSplit split = source.planSplits().get(0);
    Files.delete(dir.resolve("f1.bin"));
    try (BufferAllocator allocator = new RootAllocator()) {
      try (SplitReader reader = source.open(split, ReadContext.defaults())) {
        assertThatThrownBy(() -> reader.next(allocator))
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining(dir.resolve("f1.bin").toString());
      }
      BadRecords allowance = new BadRecords(1);
      try (SplitReader reader = source.open(split, new ReadContext(100, 1L << 20, allowance));
          Batch batch = reader.next(allocator)) {
        assertThat(batch.rowCount()).isEqualTo(2);
        assertThat(batch.getString(Batch.KEY_COLUMN, 1)).isEqualTo("f2.bin");
        assertThat(reader.next(allocator)).isNull();
      }
      assertThat(allowance.skipped()).isEqualTo(1);
    }
  }

  static byte[] content(int size, int seed) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (seed * 17 + i);
    }
    return b;
  }

  static void write(Path file, int size, int seed) throws IOException {
    Files.createDirectories(file.getParent());
    Files.write(file, content(size, seed));
  }

  static List<Row> readAll(Source source, ReadContext context) throws IOException {
    List<Row> rows = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator()) {
      for (SourceSplit split : source.planSplits()) {
        try (SplitReader reader = source.open(split, context)) {
          for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
            try (Batch batch = b) {
              for (int r = 0; r < batch.rowCount(); r++) {
                rows.add(
                    new Row(
                        batch.getString(Batch.KEY_COLUMN, r),
                        batch.getString(Batch.URL_COLUMN, r),
                        batch.getBytes(BinaryFilesSource.BYTES_COLUMN, r)));
              }
            }
          }
        }
      }
    }
    return rows;
  }

  static List<Integer> batchSizes(Source source, ReadContext context) throws IOException {
    List<Integer> sizes = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator()) {
      for (SourceSplit split : source.planSplits()) {
        try (SplitReader reader = source.open(split, context)) {
          for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
            try (Batch batch = b) {
              sizes.add(batch.rowCount());
            }
          }
        }
      }
    }
    return sizes;
  }
}
