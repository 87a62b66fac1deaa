package dev.sluice.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.source.WebDatasetSource;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticShardsTest {
  private static final SyntheticShards.Spec SPEC = SyntheticShards.Spec.of(50, 3, 100);

  @Test
  void generatesOnceThenReuses(@TempDir Path dir) throws Exception {
    SyntheticShards.Shards first = SyntheticShards.ensure(dir, SPEC);
    assertThat(first.generated()).isTrue();
    assertThat(first.shards()).hasSize(3).allMatch(Files::isRegularFile);
    long modified = Files.getLastModifiedTime(first.shards().get(0)).toMillis();

    SyntheticShards.Shards again = SyntheticShards.ensure(dir, SPEC);
    assertThat(again.generated()).isFalse();
    assertThat(again.shards()).isEqualTo(first.shards());
    assertThat(again.bytesOnDisk()).isEqualTo(first.bytesOnDisk());
    assertThat(Files.getLastModifiedTime(first.shards().get(0)).toMillis()).isEqualTo(modified);
  }

  @Test
  void regeneratesWhenTheSpecChangesOrAShardIsTruncated(@TempDir Path dir) throws Exception {
    SyntheticShards.ensure(dir, SPEC);
    SyntheticShards.Shards fewer = SyntheticShards.ensure(dir, SyntheticShards.Spec.of(50, 2, 100));
    assertThat(fewer.generated()).isTrue();
    assertThat(fewer.shards()).hasSize(2);
    try (var files = Files.list(dir)) {
      assertThat(files.filter(WebDatasetSource::isShard).count()).isEqualTo(2);
    }

    try (FileChannel c = FileChannel.open(fewer.shards().get(1), StandardOpenOption.WRITE)) {
      c.truncate(1024);
    }
    assertThat(SyntheticShards.ensure(dir, SyntheticShards.Spec.of(50, 2, 100)).generated())
        .isTrue();
  }

  @Test
  void existingOnlyReadsAndNeverRegenerates(@TempDir Path dir) throws Exception {
    assertThat(SyntheticShards.existing(dir.resolve("absent"), SPEC)).isNull();
    assertThat(SyntheticShards.existing(dir, SPEC)).isNull();
    SyntheticShards.Shards made = SyntheticShards.ensure(dir, SPEC);
    assertThat(SyntheticShards.existing(dir, SPEC).shards()).isEqualTo(made.shards());
    long modified = Files.getLastModifiedTime(made.shards().get(0)).toMillis();
    assertThat(SyntheticShards.existing(dir, SyntheticShards.Spec.of(20, 3, 100)))
        .isNull(); // another spec: not there
    assertThat(SyntheticShards.existing(dir, SPEC)).isNotNull(); // and nothing was overwritten
    assertThat(Files.getLastModifiedTime(made.shards().get(0)).toMillis()).isEqualTo(modified);
  }

  @Test
  void readsBackEverySampleWithItsPayloadAndLabel(@TempDir Path dir) throws Exception {
    SyntheticShards.Shards data = SyntheticShards.ensure(dir, SPEC);
    Set<String> keys = new HashSet<>();
    try (Sluice sluice =
            Sluice.builder()
                .options(ExecutionOptions.defaults().withProgress(ExecutionOptions.Progress.OFF))
                .build();
        BatchIterator it = sluice.read(WebDatasetSource.of(data.pattern())).iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          for (int r = 0; r < b.rowCount(); r++) {
            String key = b.getString(Batch.KEY_COLUMN, r);
            long i = Long.parseLong(key);
            assertThat(b.getBytes(SyntheticShards.PAYLOAD_EXT, r))
                .isEqualTo(SyntheticShards.payload(SPEC, i));
            assertThat(
                    new String(b.getBytes(SyntheticShards.LABEL_EXT, r), StandardCharsets.US_ASCII))
                .isEqualTo(Integer.toString(SyntheticShards.label(SPEC, i)));
            keys.add(key);
          }
        }
      }
    }
    assertThat(keys).hasSize(50).contains(SyntheticShards.key(0), SyntheticShards.key(49));
  }

  @Test
  void payloadsAreDeterministicDistinctAndInRange() {
    byte[] a = SyntheticShards.payload(SPEC, 7);
    assertThat(SyntheticShards.payload(SPEC, 7)).isEqualTo(a);
    assertThat(SyntheticShards.payload(SPEC, 8)).isNotEqualTo(a);
    for (byte b : a) {
      assertThat(b & 0xFF).isLessThan(192);
    }
    assertThat(SyntheticShards.label(SPEC, 7)).isBetween(0, 9);
  }

  @Test
  void rejectsImpossibleSpecs() {
    assertThatThrownBy(() -> SyntheticShards.Spec.of(2, 3, 10)).hasMessageContaining("shards");
    assertThatThrownBy(() -> SyntheticShards.Spec.of(10, 1, 0))
        .hasMessageContaining("payloadBytes");
  }
}
