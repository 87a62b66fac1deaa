package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.runtime.Resources;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

/**
 * The progress line goes to stderr when asked, with per-operator bars on request, and is silent
 * when off.
 */
@Isolated
class ProgressLineTest {

  private static String stderrOf(ExecutionOptions.Progress mode, boolean perOperator) {
    PrintStream saved = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try (Sluice s =
        Sluice.builder()
            .resources(Resources.cpus(2))
            .options(
                ExecutionOptions.defaults()
                    .withProgress(mode)
                    .withOperatorProgress(perOperator)
                    .withTargetBlockRows(1000))
            .build()) {
      assertThat(
              s.range(200_000, 4)
                  .mapBatches((in, ctx) -> in, MapOptions.DEFAULT.withName("Pass").withCpus(0.5))
                  .count())
          .isEqualTo(200_000);
    } finally {
      System.setErr(saved);
    }
    return captured.toString(StandardCharsets.UTF_8);
  }

  @Test
  void onDrawsResourcesMemoryAndRows() {
    String out = stderrOf(ExecutionOptions.Progress.ON, false);
    assertThat(out)
        .contains("Running")
        .contains("CPU")
        .contains("GPU")
        .contains("memory")
        .contains("rows")
        .contains("200000/200000")
        .doesNotContain("- Pass");
  }

  @Test
  void perOperatorBarsOnRequest() {
    assertThat(stderrOf(ExecutionOptions.Progress.ON, true))
        .contains("- ReadRange")
        .contains("- Pass");
  }

  @Test
  void offIsSilent() {
    assertThat(stderrOf(ExecutionOptions.Progress.OFF, true)).doesNotContain("Running");
  }
}
