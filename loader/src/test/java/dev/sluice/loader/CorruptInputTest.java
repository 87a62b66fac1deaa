package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.WebDatasetSource;
import dev.sluice.loader.source.WebDatasetWriter;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Corrupt and truncated tar shards and missing files, end to end through a pipeline. */
class CorruptInputTest {
  @TempDir Path dir;

  private Sluice sluice(long allowance) {
    return Sluice.builder()
        .resources(Resources.cpus(4))
        .options(
            ExecutionOptions.defaults()
                .withMemoryBudget(32L << 20)
                .withTargetBlockRows(16)
                .withBadRecordAllowance(allowance)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  private void writeShards(int shards, int samples) throws IOException {
    for (int s = 0; s < shards; s++) {
      try (WebDatasetWriter w =
          WebDatasetWriter.create(dir.resolve(String.format("train-%04d.tar", s)))) {
        for (int i = 0; i < samples; i++) {
          byte[] payload = new byte[2000];
          java.util.Arrays.fill(payload, (byte) i);
          w.write(
              String.format("s%02d-%05d", s, i),
              Map.of(
                  "bin",
                  payload,
                  "cls",
                  Integer.toString(i % 10).getBytes(StandardCharsets.UTF_8)));
        }
      }
    }
  }

  /** Overwrites the checksum of the tar header at {@code offset}. */
  private static void corruptHeaderAt(Path shard, long offset) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "rw")) {
      f.seek(offset + 148);
      f.write("XXXXXXXX".getBytes(StandardCharsets.US_ASCII));
    }
  }

  private Dataset pipeline(Sluice s) {
    return s.read(WebDatasetSource.of(dir.resolve("train-{0000..0003}.tar").toString()))
        .mapBatches((in, ctx) -> in, MapOptions.DEFAULT.withName("Decode"));
  }

  private static long drain(Dataset ds) {
    long rows = 0;
    try (BatchIterator it = ds.iterBatches(IterOptions.batches(32))) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          rows += b.rowCount();
        }
      }
    }
    return rows;
  }

  @Test
  void aCorruptEntryFailsThePipelineNamingShardAndEntry() throws IOException {
    writeShards(4, 200);
    Path bad = dir.resolve("train-0002.tar");
    // Each sample is two entries of one 512-byte header and its data padded to 512: .bin (2000 ->
    // 2048) and .cls (512).
    corruptHeaderAt(bad, 50L * (512 + 2048 + 512 + 512));
    Set<String> threads = ErrorPathsTest.sluiceThreads();
    try (Sluice s = sluice(0)) {
      assertThatThrownBy(() -> drain(pipeline(s)))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("train-0002.tar")
          .hasMessageContaining("s02-00049");
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> ErrorPathsTest.sluiceThreads().equals(threads));
  }

  @Test
  void aTruncatedShardFailsThePipeline() throws IOException {
    writeShards(4, 200);
    Path bad = dir.resolve("train-0001.tar");
    try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
      f.setLength(f.length() / 2 + 700);
    }
    try (Sluice s = sluice(0)) {
      assertThatThrownBy(() -> drain(pipeline(s)))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("train-0001.tar");
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void withAnAllowanceBadRecordsAreSkippedAndCounted() throws IOException {
    writeShards(4, 200);
    Path bad = dir.resolve("train-0001.tar");
    try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
      f.setLength(100L * (512 + 2048 + 512 + 512) + 300); // cut inside sample 100
    }
    try (Sluice s = sluice(5)) {
      Dataset ds = pipeline(s);
      long rows = drain(ds);
      // Samples 0..98 are known complete; sample 99 might have had more entries after the cut, so
      // the
      // reader does not hand it on: the break counts as one bad record.
      assertThat(rows).isEqualTo(3 * 200 + 99);
      assertThat(ds.stats().badRecords()).isEqualTo(1);
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aMissingFileIsAnErrorNamingIt() throws IOException {
    writeShards(2, 10);
    try (Sluice s = sluice(0)) {
      assertThatThrownBy(() -> drain(pipeline(s)))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("train-0002.tar");
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
    assertThat(Files.exists(dir.resolve("train-0002.tar"))).isFalse();
  }
}
