package dev.sluice.examples.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The main job end to end on a small generated dataset: it learns, and every held-out image is evaluated. */
class TrainImageClassifierIT {
  @TempDir Path work;

  @Test
  @Timeout(300)
  void learnsWellAboveChance() {
    TrainImageClassifier app = new TrainImageClassifier();
    int exit = new CommandLine(app).execute("--work", work.toString(), "--generate", "2100", "--epochs", "3",
        "--batch", "32", "--size", "32");
    assertThat(exit).isZero();
    assertThat(app.results()).hasSize(3);
    TrainImageClassifier.EpochResult last = app.results().get(2);
    assertThat(last.images()).isEqualTo(1800);
    assertThat(last.heldOutExamples()).isEqualTo(300);
    assertThat(last.heldOutAccuracy()).as("chance is 0.1").isGreaterThan(0.3);
    assertThat(last.stallShare()).isBetween(0.0, 1.0);
  }
}
