package dev.sluice.examples.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.examples.images.LabelledImageShards;
import dev.sluice.loader.source.WebDatasetSource;
import dev.sluice.loader.source.WebDatasetWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The main job on data laid out as users lay it out, not as our generator does: PNG files in a
 * folder sorted by class (one sub-folder per class, files in class order), and PNG WebDataset
 * shards. Both must learn as the JPEG shards do (chance is 0.1).
 */
class TrainOnPngIT {
  private static final LabelledImageShards.Spec SPEC =
      LabelledImageShards.Spec.defaults().withSamples(1800, 2, 300, 1);

  @TempDir Path work;

  private static byte[] png(long index) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      ImageIO.write(LabelledImageShards.image(SPEC, index), "png", out);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void assertLearned(TrainImageClassifier app, int exit) {
    assertThat(exit).isZero();
    assertThat(app.results()).hasSize(3);
    TrainImageClassifier.EpochResult last = app.results().get(2);
    assertThat(last.images()).isEqualTo(1800);
    assertThat(last.heldOutExamples()).isEqualTo(300);
    assertThat(last.heldOutAccuracy()).as("chance is 0.1").isGreaterThan(0.3);
  }

  @Test
  @Timeout(300)
  void learnsFromAFolderOfPngsSortedByClass() throws IOException {
    Path root = work.resolve("digits");
    for (int i = 0; i < SPEC.total(); i++) {
      Path file =
          root.resolve(LabelledImageShards.isTrain(SPEC, i) ? "train" : "test")
              .resolve(LabelledImageShards.classDirName(LabelledImageShards.label(SPEC, i)))
              .resolve(LabelledImageShards.key(i) + ".png");
      Files.createDirectories(file.getParent());
      Files.write(file, png(i));
    }
    TrainImageClassifier app = new TrainImageClassifier();
    int exit =
        new CommandLine(app)
            .execute(
                "--train",
                root.resolve("train").toString(),
                "--held-out",
                root.resolve("test").toString(),
                "--epochs",
                "3",
                "--batch",
                "32",
                "--size",
                "32");
    assertLearned(app, exit);
  }

  @Test
  @Timeout(300)
  void learnsFromPngShardsFindingTheImageEntryItself() throws IOException {
    Path dir = Files.createDirectories(work.resolve("shards"));
    int shard = -1;
    WebDatasetWriter train = null;
    try (WebDatasetWriter heldOut = WebDatasetWriter.create(dir.resolve("val-0000.tar"))) {
      for (int i = 0; i < SPEC.total(); i++) {
        Map<String, byte[]> sample =
            Map.of(
                "png",
                png(i),
                "cls",
                Integer.toString(LabelledImageShards.label(SPEC, i))
                    .getBytes(StandardCharsets.UTF_8));
        if (!LabelledImageShards.isTrain(SPEC, i)) {
          heldOut.write(LabelledImageShards.key(i), sample);
          continue;
        }
        if (i % 900 == 0) {
          if (train != null) {
            train.close();
          }
          train = WebDatasetWriter.create(dir.resolve(String.format("train-%04d.tar", ++shard)));
        }
        train.write(LabelledImageShards.key(i), sample);
      }
    } finally {
      if (train != null) {
        train.close();
      }
    }
    assertThat(WebDatasetSource.of(dir.resolve("train-*.tar").toString()).planSplits()).hasSize(2);
    TrainImageClassifier app = new TrainImageClassifier();
    int exit =
        new CommandLine(app)
            .execute(
                "--train",
                dir.resolve("train-{0000..0001}.tar").toString(),
                "--held-out",
                dir.resolve("val-0000.tar").toString(),
                "--epochs",
                "3",
                "--batch",
                "32",
                "--size",
                "32");
    assertLearned(app, exit);
  }
}
