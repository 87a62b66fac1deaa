package dev.sluice.examples.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The main job end to end on a small generated dataset: it learns, and every held-out image is
 * evaluated.
 */
class TrainImageClassifierIT {
  @TempDir Path work;

  @Test
  @Timeout(300)
  void learnsWellAboveChance() {
    TrainImageClassifier app = new TrainImageClassifier();
    int exit =
        new CommandLine(app)
            .execute(
                "--work",
                work.toString(),
                "--generate",
                "2100",
                "--epochs",
                "3",
                "--batch",
                "32",
                "--size",
                "32");
    assertThat(exit).isZero();
    assertThat(app.results()).hasSize(3);
    TrainImageClassifier.EpochResult last = app.results().get(2);
    assertThat(last.images()).isEqualTo(1800);
    assertThat(last.heldOutExamples()).isEqualTo(300);
    assertThat(last.heldOutAccuracy()).as("chance is 0.1").isGreaterThan(0.3);
    // Clamped to [0, 1], so only the ends can show a fault: every epoch waits for its first decoded
    // batch (not 0), and fits outside its waits (not the clamp's 1.0, waits beyond the wall time).
    assertThat(last.stallShare()).isGreaterThan(0.0).isLessThan(1.0);
  }

  @Test
  @Timeout(300)
  void anInterruptedEpochResumesFromTheCheckpointWithExactlyTheRest() {
    Path checkpoint = work.resolve("checkpoint");
    String[] common = {
      "--work",
      work.toString(),
      "--generate",
      "2100",
      "--epochs",
      "3",
      "--batch",
      "32",
      "--size",
      "32",
      "--checkpoint",
      checkpoint.toString(),
      "--checkpoint-every",
      "10"
    };
    TrainImageClassifier first = new TrainImageClassifier();
    String[] stop =
        java.util.stream.Stream.concat(
                java.util.Arrays.stream(common),
                java.util.stream.Stream.of("--stop-after-batches", "20"))
            .toArray(String[]::new);
    assertThat(new CommandLine(first).execute(stop)).isEqualTo(3);
    assertThat(first.results()).hasSize(1);
    assertThat(first.results().get(0).images()).isEqualTo(20 * 32);
    assertThat(checkpoint.resolve(TrainImageClassifier.MODEL_FILE)).exists();
    assertThat(checkpoint.resolve(TrainImageClassifier.POSITION_FILE)).exists();

    TrainImageClassifier resumed = new TrainImageClassifier();
    String[] again =
        java.util.stream.Stream.concat(
                java.util.Arrays.stream(common), java.util.stream.Stream.of("--resume"))
            .toArray(String[]::new);
    assertThat(new CommandLine(resumed).execute(again)).isZero();
    assertThat(resumed.results())
        .extracting(TrainImageClassifier.EpochResult::epoch)
        .containsExactly(1, 2, 3);
    // The rest of epoch 1, exactly; then whole epochs.
    assertThat(resumed.results().get(0).images()).isEqualTo(1800 - 20 * 32);
    assertThat(resumed.results().get(1).images()).isEqualTo(1800);
    assertThat(resumed.results().get(2).images()).isEqualTo(1800);
    assertThat(resumed.results().get(2).heldOutAccuracy()).as("chance is 0.1").isGreaterThan(0.3);
  }
}
