package dev.sluice.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.source.WebDatasetSource;
import dev.sluice.loader.source.WebDatasetWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExpandDecodeTest {
  private static final SyntheticShards.Spec SPEC = SyntheticShards.Spec.of(40, 2, 64);

  private static Sluice sluice(long allowance) {
    return Sluice.builder()
        .options(
            ExecutionOptions.defaults()
                .withTargetBlockRows(8)
                .withBadRecordAllowance(allowance)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  @Test
  void expandsEveryPayloadAndCopiesKeyAndLabel(@TempDir Path dir) throws Exception {
    SyntheticShards.Shards data = SyntheticShards.ensure(dir, SPEC);
    ExpandDecode decode = new ExpandDecode(64, 10);
    int rows = 0;
    try (Sluice sluice = sluice(0);
        BatchIterator it =
            sluice.read(WebDatasetSource.of(data.pattern())).mapBatches(decode).iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          assertThat(b.schema()).isEqualTo(decode.outputSchema());
          assertThat(b.tensorSpec(ExpandDecode.PIXELS).shape()).containsExactly(640);
          ArrowBuf pixels = b.tensorData(ExpandDecode.PIXELS);
          for (int r = 0; r < b.rowCount(); r++) {
            long i = Long.parseLong(b.getString(Batch.KEY_COLUMN, r));
            byte[] expected = new byte[640];
            ExpandDecode.expand(SyntheticShards.payload(SPEC, i), expected, 10);
            byte[] actual = new byte[640];
            pixels.getBytes((long) r * 640, actual);
            assertThat(actual).isEqualTo(expected);
            assertThat(b.getInt(ExpandDecode.LABEL, r)).isEqualTo(SyntheticShards.label(SPEC, i));
            rows++;
          }
        }
      }
    }
    assertThat(rows).isEqualTo(40);
  }

  @Test
  void theTransformIsNotACopy() {
    byte[] src = {5, 5, 5, 5};
    byte[] dst = new byte[40];
    ExpandDecode.expand(src, dst, 10);
    assertThat(dst[1]).isNotEqualTo(dst[2]);
    assertThat(dst[0]).isNotEqualTo(dst[10]); // same input byte, another position
  }

  @Test
  void aPayloadOfTheWrongSizeFailsNamingTheSampleOrIsSkippedWithinTheAllowance(@TempDir Path dir)
      throws Exception {
    Path shard = dir.resolve("bad.tar");
    try (WebDatasetWriter w = WebDatasetWriter.create(shard)) {
      w.write("ok-1", sample(new byte[64], "3"));
      w.write("short-2", sample(new byte[10], "4"));
      w.write("ok-3", sample(new byte[64], "5"));
    }
    try (Sluice sluice = sluice(0)) {
      Dataset ds =
          sluice
              .read(WebDatasetSource.builder(shard.toString()).extensions("bin", "cls").build())
              .mapBatches(new ExpandDecode(64, 10));
      assertThatThrownBy(ds::count)
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("short-2")
          .hasMessageContaining("10 bytes, expected 64");
    }
    try (Sluice sluice = sluice(1)) {
      Dataset ds =
          sluice
              .read(WebDatasetSource.builder(shard.toString()).extensions("bin", "cls").build())
              .mapBatches(new ExpandDecode(64, 10));
      assertThat(ds.count()).isEqualTo(2);
      assertThat(ds.stats().badRecords()).isEqualTo(1);
    }
  }

  @Test
  void checksumAugmentInvertsAndHashesInAnActor(@TempDir Path dir) throws Exception {
    SyntheticShards.Shards data = SyntheticShards.ensure(dir, SPEC);
    try (Sluice sluice = sluice(0);
        BatchIterator it =
            sluice
                .read(WebDatasetSource.of(data.pattern()))
                .mapBatches(new ExpandDecode(64, 10))
                .mapBatches(
                    ChecksumAugment::new, ActorPool.fixed(1), MapOptions.DEFAULT.withCpus(0.5))
                .iterBatches()) {
      int rows = 0;
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          ArrowBuf pixels = b.tensorData(ExpandDecode.PIXELS);
          for (int r = 0; r < b.rowCount(); r++) {
            long i = Long.parseLong(b.getString(Batch.KEY_COLUMN, r));
            byte[] decoded = new byte[640];
            ExpandDecode.expand(SyntheticShards.payload(SPEC, i), decoded, 10);
            assertThat(pixels.getByte((long) r * 640 + 17)).isEqualTo((byte) ~decoded[17]);
            assertThat(b.getLong(ChecksumAugment.CHECKSUM, r)).isNotZero();
            assertThat(b.getInt(ExpandDecode.LABEL, r)).isEqualTo(SyntheticShards.label(SPEC, i));
            rows++;
          }
        }
      }
      assertThat(rows).isEqualTo(40);
    }
  }

  private static Map<String, byte[]> sample(byte[] payload, String label) {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("bin", payload);
    m.put("cls", label.getBytes(StandardCharsets.US_ASCII));
    return m;
  }
}
