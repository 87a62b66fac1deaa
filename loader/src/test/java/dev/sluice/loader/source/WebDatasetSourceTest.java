package dev.sluice.loader.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.SluiceException;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class WebDatasetSourceTest {
  @TempDir Path dir;

  /** One read sample, copied out of Arrow memory. */
  record Row(String key, String url, Map<String, byte[]> fields) {}

  @ParameterizedTest
  @ValueSource(strings = {"shard.tar", "shard.tar.gz", "shard.tgz"})
  void samplesRoundTripThroughWriterAndSource(String name) throws IOException {
    Path shard = dir.resolve(name);
    writeShard(shard, 25, 100);
    WebDatasetSource source = WebDatasetSource.of(shard.toString());
    List<SourceSplit> splits = source.planSplits();
    assertThat(splits).hasSize(1);
    assertThat(splits.get(0).estimatedBytes()).isEqualTo(Files.size(shard));
    assertThat(splits.get(0).estimatedRows()).isEqualTo(-1);

    List<Row> rows = readAll(source, new ReadContext(1024, 1L << 30, BadRecords.none()));
    assertThat(rows).hasSize(25);
    for (int i = 0; i < 25; i++) {
      Row row = rows.get(i);
      assertThat(row.key()).isEqualTo(key(i));
      assertThat(row.url()).isEqualTo(shard.toString());
      assertThat(row.fields().keySet()).containsExactly("cls", "jpg", "seg.jpg");
      assertThat(row.fields().get("jpg")).isEqualTo(payload(i, "jpg", 100));
      assertThat(row.fields().get("seg.jpg")).isEqualTo(payload(i, "seg.jpg", 100));
      assertThat(new String(row.fields().get("cls"), StandardCharsets.UTF_8))
          .isEqualTo(Integer.toString(i % 7));
    }
  }

  @Test
  void keysAreCutAtTheFirstDotOfTheBaseNameAndExtensionsLowerCased() throws IOException {
    Path shard = dir.resolve("names.tar");
    writeRawTar(
        shard,
        List.of(
            new RawEntry("a.b/x/000001.SEG.JPG", bytes("seg")),
            new RawEntry("a.b/x/000001.jpg", bytes("img")),
            new RawEntry("a.b/x/dir/", null),
            new RawEntry("a.b/x/README", bytes("no extension")),
            new RawEntry("a.b/x/000002.seg.jpg", bytes("seg2")),
            new RawEntry("a.b/x/000002.jpg", bytes("img2"))));
    List<Row> rows = readAll(WebDatasetSource.of(shard.toString()), ReadContext.defaults());
    assertThat(rows).extracting(Row::key).containsExactly("a.b/x/000001", "a.b/x/000002");
    assertThat(rows.get(0).fields().keySet()).containsExactly("jpg", "seg.jpg");
    assertThat(rows.get(1).fields().get("seg.jpg")).isEqualTo(bytes("seg2"));
  }

  @Test
  void keyEndIsTheFirstDotOfTheLastPartWithAKeyAndAnExtensionOnBothSides() {
    assertThat(WebDatasetSource.keyEnd("a.b/x/000001.seg.jpg")).isEqualTo("a.b/x/000001".length());
    assertThat(WebDatasetSource.keyEnd("000001.jpg")).isEqualTo(6);
    assertThat(WebDatasetSource.keyEnd("a.b/x/README"))
        .isEqualTo(-1); // (the dot of a directory is no extension)
    assertThat(WebDatasetSource.keyEnd("x/.hidden")).isEqualTo(-1);
    assertThat(WebDatasetSource.keyEnd("x/name.")).isEqualTo(-1);
    assertThat(WebDatasetSource.keyEnd("x/")).isEqualTo(-1);
  }

  @Test
  void batchesCloseAtTargetRows() throws IOException {
    Path shard = dir.resolve("rows.tar");
    writeShard(shard, 10, 10);
    assertThat(
            batchSizes(
                WebDatasetSource.of(shard.toString()),
                new ReadContext(4, 1L << 30, BadRecords.none())))
        .containsExactly(4, 4, 2);
  }

  @Test
  void batchesCloseOnceTheirBytesReachTargetBytes() throws IOException {
    Path shard = dir.resolve("bytes.tar");
    writeShard(shard, 10, 500);
    // Each sample carries about 1,000 payload bytes plus its key and url: three reach 2,500.
    assertThat(
            batchSizes(
                WebDatasetSource.of(shard.toString()),
                new ReadContext(1024, 2_500, BadRecords.none())))
        .containsExactly(3, 3, 3, 1);
  }

  @Test
  void aMissingExtensionIsNull() throws IOException {
    Path shard = dir.resolve("missing.tar");
    try (WebDatasetWriter w = WebDatasetWriter.create(shard)) {
      w.write("s0", fields("jpg", bytes("a"), "cls", bytes("0")));
      w.write("s1", fields("jpg", bytes("b")));
      w.write("s2", fields("cls", bytes("2")));
    }
    try (BufferAllocator allocator = new RootAllocator();
        SplitReader reader = open(WebDatasetSource.of(shard.toString()), ReadContext.defaults());
        Batch batch = reader.next(allocator)) {
      assertThat(batch.columnNames())
          .containsExactly(Batch.KEY_COLUMN, Batch.URL_COLUMN, "cls", "jpg");
      assertThat(batch.rowCount()).isEqualTo(3);
      assertThat(batch.isNull("cls", 1)).isTrue();
      assertThat(batch.getBytes("jpg", 1)).isEqualTo(bytes("b"));
      assertThat(batch.isNull("jpg", 2)).isTrue();
      assertThat(reader.next(allocator)).isNull();
    }
  }

  @Test
  void givenExtensionsAreExactlyTheColumns() throws IOException {
    Path shard = dir.resolve("explicit.tar");
    try (WebDatasetWriter w = WebDatasetWriter.create(shard)) {
      w.write("s0", fields("jpg", bytes("a"), "cls", bytes("0"), "txt", bytes("ignored")));
      w.write("s1", fields("txt", bytes("only ignored")));
    }
    WebDatasetSource source =
        WebDatasetSource.builder(shard.toString()).extensions(".JPG", "cls").build();
    assertThat(source.schema().getFields())
        .extracting(f -> f.getName())
        .containsExactly(Batch.KEY_COLUMN, Batch.URL_COLUMN, "jpg", "cls");
    try (BufferAllocator allocator = new RootAllocator();
        SplitReader reader = open(source, ReadContext.defaults());
        Batch batch = reader.next(allocator)) {
      assertThat(batch.schema()).isEqualTo(source.schema());
      assertThat(batch.rowCount()).isEqualTo(2);
      assertThat(batch.getBytes("jpg", 0)).isEqualTo(bytes("a"));
      assertThat(batch.isNull("jpg", 1)).isTrue();
      assertThat(batch.isNull("cls", 1)).isTrue();
    }
  }

  @Test
  void anExtensionOutsideTheFirstSampleIsABadRecord() throws IOException {
    Path shard = dir.resolve("extra.tar");
    try (WebDatasetWriter w = WebDatasetWriter.create(shard)) {
      w.write("s0", fields("jpg", bytes("a")));
      w.write("s1", fields("jpg", bytes("b"), "png", bytes("p")));
      w.write("s2", fields("jpg", bytes("c")));
    }
    WebDatasetSource source = WebDatasetSource.of(shard.toString());
    assertThatThrownBy(() -> readAll(source, ReadContext.defaults()))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(shard.toString())
        .hasMessageContaining("s1.png");
    BadRecords allowance = new BadRecords(1);
    List<Row> rows = readAll(source, new ReadContext(1024, 1L << 20, allowance));
    assertThat(rows).extracting(Row::key).containsExactly("s0", "s2");
    assertThat(allowance.skipped()).isEqualTo(1);
  }

  @Test
  void aDuplicateExtensionInOneSampleIsABadRecord() throws IOException {
    Path shard = dir.resolve("dup.tar");
    writeRawTar(
        shard,
        List.of(
            new RawEntry("s0.jpg", bytes("a")),
            new RawEntry("s1.jpg", bytes("b")),
            new RawEntry("s1.jpg", bytes("b again")),
            new RawEntry("s2.jpg", bytes("c"))));
    BadRecords allowance = new BadRecords(5);
    List<Row> rows =
        readAll(WebDatasetSource.of(shard.toString()), new ReadContext(1024, 1L << 20, allowance));
    assertThat(rows).extracting(Row::key).containsExactly("s0", "s2");
    assertThat(allowance.skipped()).isEqualTo(1);
  }

  @Test
  void aCorruptHeaderNamesTheShardAndTheEntry() throws IOException {
    Path shard = dir.resolve("corrupt.tar");
    List<Long> headers = writeShard(shard, 5, 100);
    // Overwrite the checksum field of the 2nd entry's header.
    byte[] tar = Files.readAllBytes(shard);
    int second = Math.toIntExact(headers.get(1));
    Arrays.fill(tar, second + 148, second + 156, (byte) 'X');
    Files.write(shard, tar);

    assertThatThrownBy(() -> readAll(WebDatasetSource.of(shard.toString()), ReadContext.defaults()))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(shard.toString())
        .hasMessageContaining(key(0) + ".cls")
        .hasMessageContaining("cannot read the entry header")
        .satisfies(e -> assertThat(((SluiceException) e).source()).isEqualTo(shard.toString()));
  }

  @Test
  void withAnAllowanceAStreamBreakEndsTheSplitKeepingTheSamplesBefore() throws IOException {
    Path shard = dir.resolve("corrupt-later.tar");
    List<Long> headers = writeShard(shard, 8, 100);
    // Break the first header of sample 5: samples 0..3 are complete, sample 4 cannot be known to
    // be.
    byte[] tar = Files.readAllBytes(shard);
    int at = Math.toIntExact(headers.get(5 * 3));
    Arrays.fill(tar, at + 148, at + 156, (byte) 'X');
    Files.write(shard, tar);

    BadRecords allowance = new BadRecords(3);
    List<Row> rows =
        readAll(WebDatasetSource.of(shard.toString()), new ReadContext(2, 1L << 20, allowance));
    assertThat(rows).extracting(Row::key).containsExactly(key(0), key(1), key(2), key(3));
    assertThat(allowance.skipped()).isEqualTo(1);
  }

  @Test
  void aTruncatedArchiveNamesTheShardAndTheEntryCut() throws IOException {
    Path shard = dir.resolve("truncated.tar");
    List<Long> headers = writeShard(shard, 8, 1000);
    // Cut in the middle of sample 5's "jpg" entry (its second entry).
    long cut = headers.get(5 * 3 + 1) + 512 + 300;
    truncate(shard, cut);

    assertThatThrownBy(() -> readAll(WebDatasetSource.of(shard.toString()), ReadContext.defaults()))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(shard.toString())
        .hasMessageContaining(key(5) + ".jpg")
        .hasMessageContaining("truncated");

    BadRecords allowance = new BadRecords(1);
    List<Row> rows =
        readAll(WebDatasetSource.of(shard.toString()), new ReadContext(3, 1L << 20, allowance));
    assertThat(rows).extracting(Row::key).containsExactly(key(0), key(1), key(2), key(3), key(4));
    assertThat(allowance.skipped()).isEqualTo(1);
  }

  @Test
  void anArchiveCutAtAHeaderBoundaryIsTruncatedToo() throws IOException {
    Path shard = dir.resolve("boundary.tar");
    List<Long> headers = writeShard(shard, 4, 100);
    truncate(shard, headers.get(3 * 3));
    assertThatThrownBy(() -> readAll(WebDatasetSource.of(shard.toString()), ReadContext.defaults()))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(shard.toString())
        .hasMessageContaining(key(2) + ".seg.jpg")
        .hasMessageContaining("end-of-archive");
  }

  @Test
  void aZeroedHeaderIsNotMistakenForTheEnd() throws IOException {
    Path shard = dir.resolve("zeroed.tar");
    List<Long> headers = writeShard(shard, 4, 100);
    byte[] tar = Files.readAllBytes(shard);
    int at = Math.toIntExact(headers.get(2 * 3));
    Arrays.fill(tar, at, at + 512, (byte) 0);
    Files.write(shard, tar);
    assertThatThrownBy(() -> readAll(WebDatasetSource.of(shard.toString()), ReadContext.defaults()))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(shard.toString())
        .hasMessageContaining(key(1) + ".seg.jpg");
  }

  @Test
  void aTruncatedGzipShardIsAnError() throws IOException {
    Path shard = dir.resolve("truncated.tar.gz");
    writeShard(shard, 20, 2000);
    truncate(shard, Files.size(shard) / 2);
    assertThatThrownBy(() -> readAll(WebDatasetSource.of(shard.toString()), ReadContext.defaults()))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(shard.toString());
  }

  @Test
  void aMissingShardIsAnIoExceptionNamingIt() throws IOException {
    Path present = dir.resolve("a.tar");
    writeShard(present, 1, 10);
    Path missing = dir.resolve("b.tar");
    assertThatThrownBy(() -> WebDatasetSource.of(dir + "/{a,b}.tar").planSplits())
        .isInstanceOf(IOException.class)
        .hasMessageContaining(missing.toString());

    WebDatasetSource source = WebDatasetSource.of(present.toString());
    SourceSplit split = source.planSplits().get(0);
    Files.delete(present);
    assertThatThrownBy(() -> source.open(split, ReadContext.defaults()))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining(present.toString());
  }

  @Test
  void oneSplitPerShardInSortedOrder() throws IOException {
    for (int i = 2; i >= 0; i--) {
      writeShard(dir.resolve(String.format("train-%04d.tar", i)), 3, 10);
    }
    Files.writeString(dir.resolve("notes.txt"), "not a shard");
    for (WebDatasetSource source :
        List.of(
            WebDatasetSource.of(dir + "/train-{0000..0002}.tar"),
            WebDatasetSource.of(dir.toString()))) {
      List<SourceSplit> splits = source.planSplits();
      assertThat(splits).extracting(SourceSplit::index).containsExactly(0, 1, 2);
      assertThat(splits)
          .extracting(s -> Path.of(s.paths().get(0)).getFileName().toString())
          .containsExactly("train-0000.tar", "train-0001.tar", "train-0002.tar");
      assertThat(splits).allMatch(s -> s.sourceId().equals(source.sourceId()));
    }
  }

  @Test
  void theWriterRefusesKeysThatWouldNotReadBack() throws IOException {
    try (WebDatasetWriter w = WebDatasetWriter.create(dir.resolve("w.tar"))) {
      assertThatThrownBy(() -> w.write("a.b", fields("jpg", bytes("x"))))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> w.write("a", fields("JPG", bytes("x"))))
          .isInstanceOf(IllegalArgumentException.class);
      w.write("a", fields("jpg", bytes("x")));
      assertThatThrownBy(() -> w.write("a", fields("cls", bytes("x"))))
          .isInstanceOf(IllegalArgumentException.class);
      assertThat(w.samplesWritten()).isEqualTo(1);
    }
  }

  // --- helpers ---

  static String key(int i) {
    return String.format("part/%06d", i);
  }

  static byte[] payload(int sample, String ext, int size) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (sample * 31 + ext.hashCode() + i);
    }
    return b;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static Map<String, byte[]> fields(Object... extAndBytes) {
    Map<String, byte[]> m = new LinkedHashMap<>();
    for (int i = 0; i < extAndBytes.length; i += 2) {
      m.put((String) extAndBytes[i], (byte[]) extAndBytes[i + 1]);
    }
    return m;
  }

  /**
   * Writes samples with entries cls, jpg, seg.jpg (in that order) and returns the tar offset of
   * every entry's header (for an uncompressed shard).
   */
  static List<Long> writeShard(Path shard, int samples, int size) throws IOException {
    List<Long> headers = new ArrayList<>();
    long offset = 0;
    try (WebDatasetWriter w = WebDatasetWriter.create(shard)) {
      for (int i = 0; i < samples; i++) {
        Map<String, byte[]> f =
            fields(
                "cls",
                bytes(Integer.toString(i % 7)),
                "jpg",
                payload(i, "jpg", size),
                "seg.jpg",
                payload(i, "seg.jpg", size));
        for (byte[] data : f.values()) {
          headers.add(offset);
          offset += 512 + roundUp(data.length);
        }
        w.write(key(i), f);
      }
    }
    return headers;
  }

  private static long roundUp(long n) {
    return (n + 511) / 512 * 512;
  }

  record RawEntry(String name, byte[] data) {}

  private static void writeRawTar(Path file, List<RawEntry> entries) throws IOException {
    try (OutputStream out = Files.newOutputStream(file);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      for (RawEntry e : entries) {
        TarArchiveEntry entry = new TarArchiveEntry(e.name());
        if (e.data() != null) {
          entry.setSize(e.data().length);
        }
        tar.putArchiveEntry(entry);
        if (e.data() != null) {
          tar.write(e.data());
        }
        tar.closeArchiveEntry();
      }
    }
  }

  private static void truncate(Path file, long length) throws IOException {
    byte[] all = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(all, Math.toIntExact(length)));
  }

  private static SplitReader open(Source source, ReadContext context) throws IOException {
    return source.open(source.planSplits().get(0), context);
  }

  static List<Row> readAll(Source source, ReadContext context) throws IOException {
    List<Row> rows = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator()) {
      for (SourceSplit split : source.planSplits()) {
        try (SplitReader reader = source.open(split, context)) {
          for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
            try (Batch batch = b) {
              assertThat(batch.rowCount()).isLessThanOrEqualTo(context.targetRows());
              List<String> columns = batch.columnNames();
              for (int r = 0; r < batch.rowCount(); r++) {
                Map<String, byte[]> fields = new LinkedHashMap<>();
                for (String c : columns.subList(2, columns.size())) {
                  fields.put(c, batch.getBytes(c, r));
                }
                rows.add(
                    new Row(
                        batch.getString(Batch.KEY_COLUMN, r),
                        batch.getString(Batch.URL_COLUMN, r),
                        fields));
              }
            }
          }
        }
      }
    }
    return rows;
  }

  private static List<Integer> batchSizes(Source source, ReadContext context) throws IOException {
    List<Integer> sizes = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator();
        SplitReader reader = open(source, context)) {
      for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
        try (Batch batch = b) {
          sizes.add(batch.rowCount());
        }
      }
    }
    return sizes;
  }
}
