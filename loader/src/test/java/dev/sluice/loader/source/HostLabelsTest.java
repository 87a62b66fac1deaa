package dev.sluice.loader.source;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.sharding.SourceSplit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hosts given to a source's splits; the splits otherwise the source's, shuffled or not. */
class HostLabelsTest {
  @TempDir Path dir;

  @Test
  void theGivenHostsReplaceTheSourcesAndTheSplitsStayTheSame() throws Exception {
    RangeSource range = new RangeSource(1_000, 4);
    Source labelled = HostLabels.of(range, s -> List.of(s.index() % 2 == 0 ? "rack1" : "rack2"));
    List<SourceSplit> plain = range.planSplits();
    List<SourceSplit> splits = labelled.planSplits();
    assertThat(splits).hasSameSizeAs(plain);
    for (int i = 0; i < splits.size(); i++) {
      assertThat(splits.get(i).start()).isEqualTo(plain.get(i).start());
      assertThat(splits.get(i).end()).isEqualTo(plain.get(i).end());
      assertThat(splits.get(i).hosts()).containsExactly(i % 2 == 0 ? "rack1" : "rack2");
    }
    assertThat(labelled.name()).isEqualTo(range.name());
    assertThat(labelled).isNotInstanceOf(SupportsFileShuffle.class);
  }

  @Test
  void aShuffleableSourceStaysShuffleableWithItsShuffledSplitsLabelled() throws Exception {
    for (int i = 0; i < 6; i++) {
      Files.write(dir.resolve("f" + i + ".bin"), new byte[] {(byte) i});
    }
    BinaryFilesSource files =
        BinaryFilesSource.builder(dir.resolve("*.bin").toString()).targetSplitFiles(1).build();
    Source labelled =
        HostLabels.of(files, s -> List.of(s.paths().get(0).endsWith("0.bin") ? "near" : "far"));
    assertThat(labelled).isInstanceOf(SupportsFileShuffle.class);
    List<SourceSplit> shuffled = ((SupportsFileShuffle) labelled).planSplits(7, 1);
    List<SourceSplit> expected = files.planSplits(7, 1);
    assertThat(shuffled).hasSize(6);
    for (int i = 0; i < shuffled.size(); i++) {
      assertThat(shuffled.get(i).paths()).isEqualTo(expected.get(i).paths());
      assertThat(shuffled.get(i).hosts())
          .containsExactly(shuffled.get(i).paths().get(0).endsWith("0.bin") ? "near" : "far");
    }
    assertThat(HostLabels.all(files, "rack3").planSplits())
        .allSatisfy(s -> assertThat(s.hosts()).containsExactly("rack3"));
  }
}
