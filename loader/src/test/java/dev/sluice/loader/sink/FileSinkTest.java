package dev.sluice.loader.sink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What every file sink shares: hidden parts until complete, atomic names, abort, overwrite. */
class FileSinkTest {
  private static final Schema SCHEMA = new Schema(List.of(Columns.int64("id")));

  @TempDir Path dir;

  private static Batch batch(BufferAllocator allocator, int from, int rows) {
    try (BatchBuilder b = BatchBuilder.create(allocator, SCHEMA, rows)) {
      for (int r = 0; r < rows; r++) {
        b.setLong("id", r, from + r);
      }
      return b.build(rows);
    }
  }

  private static List<String> names(Path directory) throws IOException {
    try (Stream<Path> list = Files.list(directory)) {
      return list.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void aPartIsHiddenUntilCompleteThenRenamedIntoPlace() throws IOException {
    Path out = dir.resolve("out");
    try (BufferAllocator allocator = new RootAllocator();
        JsonLinesSink sink = new JsonLinesSink(out, 2)) {
      try (Batch b = batch(allocator, 0, 2)) {
        sink.write(b);
      }
      // Written, not complete: only a hidden temporary file.
      assertThat(names(out)).singleElement().asString().matches("\\.part-00000\\.jsonl\\..+\\.tmp");
      try (Batch b = batch(allocator, 2, 2)) {
        sink.write(b);
      }
      // The first part complete under its name, the second hidden.
      assertThat(names(out)).hasSize(2);
      assertThat(names(out).get(0)).matches("\\.part-00001\\.jsonl\\..+\\.tmp");
      assertThat(names(out).get(1)).isEqualTo("part-00000.jsonl");
      assertThat(Files.readAllLines(out.resolve("part-00000.jsonl")))
          .containsExactly("{\"id\":0}", "{\"id\":1}");
    }
    assertThat(names(out)).containsExactly("part-00000.jsonl", "part-00001.jsonl");
  }

  @Test
  void abortDeletesTheCompletedPartsAndThePartInProgress() throws IOException {
    Path out = dir.resolve("out");
    Files.createDirectories(out);
    Files.writeString(out.resolve("notes.txt"), "kept");
    ArrowIpcSink sink = new ArrowIpcSink(out, 3);
    try (BufferAllocator allocator = new RootAllocator()) {
      for (int i = 0; i < 3; i++) {
        try (Batch b = batch(allocator, 3 * i, 3)) {
          sink.write(b);
        }
      }
      assertThat(sink.files()).hasSize(2);
      assertThat(names(out)).contains("part-00000.arrow", "part-00001.arrow").hasSize(4);
      sink.abort();
    }
    assertThat(names(out)).containsExactly("notes.txt");
    assertThat(sink.files()).isEmpty();
    sink.close(); // after abort: nothing more
    assertThat(names(out)).containsExactly("notes.txt");
  }

  @Test
  void existingPartsAreRefusedOrReplacedWithOverwrite() throws IOException {
    Path out = dir.resolve("out");
    Files.createDirectories(out);
    Files.writeString(out.resolve("part-00007.csv"), "id\n7\n");
    Files.writeString(out.resolve(".part-00003.arrow.123.tmp"), "left by a killed writer");
    Files.writeString(out.resolve("notes.txt"), "kept");
    assertThatThrownBy(() -> new ArrowIpcSink(out))
        .isInstanceOf(FileAlreadyExistsException.class)
        .hasMessageContaining(out.resolve("part-00007.csv").toString())
        .hasMessageContaining("overwrite");
    try (BufferAllocator allocator = new RootAllocator();
        ArrowIpcSink sink = new ArrowIpcSink(out, WriteOptions.defaults().withOverwrite(true));
        Batch b = batch(allocator, 0, 5)) {
      assertThat(names(out)).containsExactly("notes.txt");
      sink.write(b);
    }
    assertThat(names(out)).containsExactly("notes.txt", "part-00000.arrow");
  }

  @Test
  void aBatchOfAnotherSchemaIsRefused() throws IOException {
    Path out = dir.resolve("out");
    Schema other = new Schema(List.of(Columns.utf8("id")));
    try (BufferAllocator allocator = new RootAllocator();
        CsvSink sink = new CsvSink(out);
        Batch a = batch(allocator, 0, 2);
        BatchBuilder b = BatchBuilder.create(allocator, other, 1)) {
      sink.write(a);
      try (Batch wrong = b.setString("id", 0, "x").build(1)) {
        assertThatThrownBy(() -> sink.write(wrong))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining(out.toString());
      }
    }
    assertThat(names(out)).containsExactly("part-00000.csv");
  }
}
