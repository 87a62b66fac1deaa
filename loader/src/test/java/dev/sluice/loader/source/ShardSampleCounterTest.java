package dev.sluice.loader.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Arrays;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Sample counts from tar headers alone: the same as reading the shard, and loud about broken
 * shards.
 */
class ShardSampleCounterTest {
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"shard.tar", "shard.tar.gz", "shard.tgz"})
  void theCountIsWhatTheReaderReads(String name) throws IOException {
    for (int samples : new int[] {0, 1, 37}) {
      Path shard = dir.resolve(samples + "-" + name);
      WebDatasetSourceTest.writeShard(shard, samples, 700);
      assertThat(WebDatasetSource.countSamples(shard))
          .isEqualTo(samples)
          .isEqualTo(
              WebDatasetSourceTest.readAll(
                      WebDatasetSource.of(shard.toString()), ReadContext.defaults())
                  .size());
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {TarArchiveOutputStream.LONGFILE_GNU, TarArchiveOutputStream.LONGFILE_POSIX})
  void longNamesDirectoriesAndFilesWithoutExtensionCountAsTheReaderTakesThem(int longFileMode)
      throws IOException {
    Path shard = dir.resolve("mixed-" + longFileMode + ".tar");
    String deep = "d".repeat(120) + "/";
    try (OutputStream out = Files.newOutputStream(shard);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      tar.setLongFileMode(longFileMode);
      put(tar, deep, null);
      put(tar, deep + "000001.jpg", "a");
      put(tar, deep + "000001.cls", "1");
      put(tar, deep + "README", "not a sample");
      put(tar, deep + "000001.txt", "same key across an ignored entry: same sample");
      put(tar, deep + "x".repeat(150) + ".jpg", "b");
      put(tar, "short/000003.jpg", "c");
      put(tar, ".hidden", "no key");
      put(tar, deep + "000001.seg.jpg", "key seen before, not consecutive: a new sample");
    }
    List<WebDatasetSourceTest.Row> rows =
        WebDatasetSourceTest.readAll(
            WebDatasetSource.builder(shard.toString())
                .extensions("jpg", "cls", "txt", "seg.jpg")
                .build(),
            ReadContext.defaults());
    assertThat(rows).hasSize(4);
    assertThat(WebDatasetSource.countSamples(shard)).isEqualTo(4);
  }

  @Test
  void planningCountsEachShardOnceAndAgainWhenItChanges() throws IOException {
    Path a = dir.resolve("train-0.tar");
    Path b = dir.resolve("train-1.tar.gz");
    WebDatasetSourceTest.writeShard(a, 12, 300);
    WebDatasetSourceTest.writeShard(b, 5, 300);
    WebDatasetSource source =
        WebDatasetSource.builder(a.toString(), b.toString()).countSamples(true).build();
    assertThat(source.planSplits()).extracting(SourceSplit::estimatedRows).containsExactly(12L, 5L);
    assertThat(WebDatasetSource.of(a.toString()).planSplits().get(0).estimatedRows())
        .as("not counted unless asked")
        .isEqualTo(-1);

    // Same size and time: the kept count is used, the file is not scanned again (garbage would
    // fail).
    FileTime time = Files.getLastModifiedTime(a);
    byte[] garbage = new byte[(int) Files.size(a)];
    Arrays.fill(garbage, (byte) 'x');
    Files.write(a, garbage);
    Files.setLastModifiedTime(a, time);
    assertThat(source.planSplits().get(0).estimatedRows()).isEqualTo(12);

    // A rewritten shard is counted afresh.
    Files.delete(a);
    WebDatasetSourceTest.writeShard(a, 7, 300);
    Files.setLastModifiedTime(a, FileTime.fromMillis(time.toMillis() + 10_000));
    assertThat(source.planSplits()).extracting(SourceSplit::estimatedRows).containsExactly(7L, 5L);
  }

  @Test
  void aShardCutInsideAnEntrysDataIsAnErrorNamingTheFileAndTheEntry() throws IOException {
    Path shard = dir.resolve("cut-data.tar");
    List<Long> headers = WebDatasetSourceTest.writeShard(shard, 8, 1000);
    truncate(shard, headers.get(5 * 3 + 1) + 512 + 300);
    assertThatThrownBy(() -> WebDatasetSource.countSamples(shard))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(shard.toString())
        .hasMessageContaining("truncated")
        .hasMessageContaining("000005.jpg");
  }

  @Test
  void aShardCutAtAHeaderOrInsideOneIsAnError() throws IOException {
    Path shard = dir.resolve("cut-header.tar");
    List<Long> headers = WebDatasetSourceTest.writeShard(shard, 4, 100);
    byte[] whole = Files.readAllBytes(shard);
    truncate(shard, headers.get(3 * 3));
    assertThatThrownBy(() -> WebDatasetSource.countSamples(shard))
        .hasMessageContaining(shard.toString())
        .hasMessageContaining("end-of-archive marker");
    Files.write(shard, Arrays.copyOf(whole, Math.toIntExact(headers.get(3 * 3) + 100)));
    assertThatThrownBy(() -> WebDatasetSource.countSamples(shard))
        .hasMessageContaining(shard.toString())
        .hasMessageContaining("inside a header");
  }

  @Test
  void aCorruptHeaderIsAnErrorNamingTheEntryBefore() throws IOException {
    Path shard = dir.resolve("corrupt.tar");
    List<Long> headers = WebDatasetSourceTest.writeShard(shard, 4, 100);
    byte[] tar = Files.readAllBytes(shard);
    tar[Math.toIntExact(headers.get(2 * 3)) + 10] ^= 0x55;
    Files.write(shard, tar);
    assertThatThrownBy(() -> WebDatasetSource.countSamples(shard))
        .hasMessageContaining(shard.toString())
        .hasMessageContaining("corrupt")
        .hasMessageContaining("000001.seg.jpg");
  }

  @Test
  void aTruncatedGzipShardIsAnErrorNamingIt() throws IOException {
    Path shard = dir.resolve("cut.tar.gz");
    WebDatasetSourceTest.writeShard(shard, 20, 2000);
    truncate(shard, Files.size(shard) / 2);
    assertThatThrownBy(() -> WebDatasetSource.countSamples(shard))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(shard.toString());
  }

  private static void put(TarArchiveOutputStream tar, String name, String data) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    byte[] bytes = data == null ? new byte[0] : data.getBytes(StandardCharsets.UTF_8);
    if (data != null) {
      e.setSize(bytes.length);
    }
    tar.putArchiveEntry(e);
    tar.write(bytes);
    tar.closeArchiveEntry();
  }

  private static void truncate(Path file, long length) throws IOException {
    byte[] all = Files.readAllBytes(file);
    Files.write(file, Arrays.copyOf(all, Math.toIntExact(length)));
  }
}
