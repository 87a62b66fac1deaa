package dev.sluice.examples.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class DemoPipelineTest {

  private static String run(Path dir, int expectedExit) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    int exit =
        new CommandLine(new DemoPipeline(out))
            .execute(
                "--work-dir",
                dir.toString(),
                "--samples",
                "300",
                "--shards",
                "3",
                "--payload-bytes",
                "1k",
                "--budget",
                "4m",
                "--block-rows",
                "16",
                "--batch-size",
                "50",
                "--progress",
                "OFF");
    String text = bytes.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(text).isEqualTo(expectedExit);
    return text;
  }

  @Test
  void runsEndToEndAndVerifiesEverySample(@TempDir Path dir) {
    String first = run(dir, 0);
    assertThat(first)
        .contains("Generated 300 samples in 3 shards")
        .contains("ActorPoolMap[ChecksumAugment]")
        .contains("Dataset: 300 rows")
        .contains("within budget")
        .contains("Consumer: 300 rows in 6 batches")
        .contains("matches the generator");
    assertThat(run(dir, 0)).contains("Reusing 300 samples");
  }

  @Test
  void byteSizesParse() {
    assertThat(ByteSizeConverter.parse("64m")).isEqualTo(64L << 20);
    assertThat(ByteSizeConverter.parse("64MiB")).isEqualTo(64L << 20);
    assertThat(ByteSizeConverter.parse("1.5g")).isEqualTo(3L << 29);
    assertThat(ByteSizeConverter.parse("6500")).isEqualTo(6500);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> ByteSizeConverter.parse("lots"))
        .hasMessageContaining("not a byte size");
  }
}
