package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.ArrowIpcSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Datasets written as Arrow IPC and JSON lines read back the same. */
class WriteTest {
  @TempDir Path dir;

  private static Sluice sluice() {
    return Sluice.builder()
        .resources(Resources.cpus(2))
        .options(
            ExecutionOptions.defaults()
                .withTargetBlockRows(500)
                .withProgress(ExecutionOptions.Progress.OFF)
                .withPreserveOrder(true))
        .build();
  }

  @Test
  void arrowIpcRoundTrip() {
    try (Sluice s = sluice()) {
      s.range(5_000, 3).mapBatches(DatasetBasicsTest.plusOne()).writeArrow(dir.resolve("out"));
      Dataset back = s.read(ArrowIpcSource.of(dir.resolve("out").resolve("*.arrow").toString()));
      assertThat(DatasetBasicsTest.collect(back, IterOptions.blocks()))
          .isEqualTo(DatasetBasicsTest.range(1, 5_001));
    }
  }

  @Test
  void jsonLinesOneObjectPerRow() throws IOException {
    try (Sluice s = sluice()) {
      s.range(1_234, 2).writeJsonLines(dir.resolve("json"));
    }
    ObjectMapper mapper = new ObjectMapper();
    List<Path> files;
    try (Stream<Path> list = Files.list(dir.resolve("json"))) {
      files = list.sorted().toList();
    }
    long n = 0;
    for (Path f : files) {
      for (String line : Files.readAllLines(f)) {
        JsonNode row = mapper.readTree(line);
        assertThat(row.get("id").asLong()).isEqualTo(n++);
      }
    }
    assertThat(n).isEqualTo(1_234);
  }
}
