package dev.sluice.examples.images;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabelledImageShardsTest {
  /** 60 training images in 3 shards, 20 held out in 2, 32x32. */
  private static final LabelledImageShards.Spec SPEC =
      LabelledImageShards.Spec.defaults().withSamples(60, 3, 20, 2).withSize(32);

  @Test
  void generationIsDeterministicForASeed(@TempDir Path a, @TempDir Path b) throws Exception {
    LabelledImageShards.Shards first = LabelledImageShards.ensure(a, SPEC);
    LabelledImageShards.Shards second = LabelledImageShards.ensure(b, SPEC);
    assertThat(first.train()).hasSize(3);
    assertThat(first.heldOut()).hasSize(2);
    for (int i = 0; i < first.train().size(); i++) {
      assertThat(Files.readAllBytes(second.train().get(i)))
          .isEqualTo(Files.readAllBytes(first.train().get(i)));
    }
    for (int i = 0; i < first.heldOut().size(); i++) {
      assertThat(Files.readAllBytes(second.heldOut().get(i)))
          .isEqualTo(Files.readAllBytes(first.heldOut().get(i)));
    }
    // Another seed gives other images.
    assertThat(LabelledImageShards.jpeg(SPEC.withSeed(7), 0))
        .isNotEqualTo(LabelledImageShards.jpeg(SPEC, 0));
  }

  @Test
  void shardsHoldEverySampleOnceWithItsLabelAndADecodableImage(@TempDir Path dir) throws Exception {
    LabelledImageShards.Shards data = LabelledImageShards.ensure(dir, SPEC);
    Map<String, Map<String, byte[]>> train = readAll(data.train());
    Map<String, Map<String, byte[]>> heldOut = readAll(data.heldOut());
    assertThat(train).hasSize(60);
    assertThat(heldOut).hasSize(20);
    int[] perClass = new int[LabelledImageShards.CLASSES];
    for (int i = 0; i < SPEC.total(); i++) {
      String key = LabelledImageShards.key(i);
      Map<String, byte[]> sample = (i < SPEC.train() ? train : heldOut).get(key);
      assertThat(sample).as("sample %s", key).isNotNull();
      assertThat(sample.keySet()).containsExactly("jpg", "cls");
      int label = Integer.parseInt(new String(sample.get("cls"), StandardCharsets.US_ASCII));
      assertThat(label).isEqualTo(LabelledImageShards.label(SPEC, i)).isBetween(0, 9);
      perClass[label]++;
      assertThat(sample.get("jpg")).isEqualTo(LabelledImageShards.jpeg(SPEC, i));
      BufferedImage img = ImageIO.read(new ByteArrayInputStream(sample.get("jpg")));
      assertThat(img).isNotNull();
      assertThat(img.getWidth()).isEqualTo(32);
      assertThat(img.getHeight()).isEqualTo(32);
    }
    // 80 samples over 10 classes: every class is there.
    assertThat(java.util.Arrays.stream(perClass).boxed().toList()).allMatch(n -> n > 0);
  }

  @Test
  void existingOnlyReadsAndNeverRegenerates(@TempDir Path dir) throws Exception {
    assertThat(LabelledImageShards.existingShards(dir, SPEC)).isNull();
    assertThat(LabelledImageShards.existingImageFolder(dir.resolve("folder"), SPEC)).isNull();
    LabelledImageShards.Shards made = LabelledImageShards.ensure(dir, SPEC);
    LabelledImageShards.ImageFolder folder =
        LabelledImageShards.ensureImageFolder(dir.resolve("folder"), SPEC);
    assertThat(LabelledImageShards.existingShards(dir, SPEC).bytesOnDisk())
        .isEqualTo(made.bytesOnDisk());
    assertThat(LabelledImageShards.existingImageFolder(dir.resolve("folder"), SPEC)).isNotNull();
    LabelledImageShards.Spec other = SPEC.withSamples(30, 2, 0, 0);
    assertThat(LabelledImageShards.existingShards(dir, other)).isNull();
    assertThat(LabelledImageShards.existingImageFolder(dir.resolve("folder"), other)).isNull();
    assertThat(LabelledImageShards.existingShards(dir, SPEC)).as("nothing overwritten").isNotNull();
    assertThat(folder.generated()).isTrue();
  }

  @Test
  void generatesOnceThenReusesAndRegeneratesWhenDamaged(@TempDir Path dir) throws Exception {
    LabelledImageShards.Shards first = LabelledImageShards.ensure(dir, SPEC);
    assertThat(first.generated()).isTrue();
    LabelledImageShards.Shards again = LabelledImageShards.ensure(dir, SPEC);
    assertThat(again.generated()).isFalse();
    assertThat(again.bytesOnDisk()).isEqualTo(first.bytesOnDisk());

    try (FileChannel c = FileChannel.open(first.train().get(1), StandardOpenOption.WRITE)) {
      c.truncate(1024);
    }
    assertThat(LabelledImageShards.ensure(dir, SPEC).generated()).isTrue();

    LabelledImageShards.Spec other = SPEC.withSamples(30, 2, 0, 0);
    LabelledImageShards.Shards smaller = LabelledImageShards.ensure(dir, other);
    assertThat(smaller.generated()).isTrue();
    assertThat(smaller.heldOut()).isEmpty();
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.filter(f -> f.getFileName().toString().endsWith(".tar")).count())
          .isEqualTo(2);
    }
  }

  @Test
  void imageFolderHoldsTheSameJpegsUnderClassDirectoriesThatSortInLabelOrder(@TempDir Path root)
      throws Exception {
    LabelledImageShards.ImageFolder folder = LabelledImageShards.ensureImageFolder(root, SPEC);
    assertThat(folder.generated()).isTrue();
    assertThat(folder.files()).isEqualTo(80);
    for (int i = 0; i < SPEC.total(); i++) {
      Path file = LabelledImageShards.imageFile(root, SPEC, i);
      assertThat(file.getParent().getParent().getFileName().toString())
          .isEqualTo(i < SPEC.train() ? "train" : "heldout");
      assertThat(file.getParent().getFileName().toString())
          .isEqualTo(LabelledImageShards.classDirName(LabelledImageShards.label(SPEC, i)));
      assertThat(Files.readAllBytes(file)).isEqualTo(LabelledImageShards.jpeg(SPEC, i));
    }
    List<String> names = new ArrayList<>();
    for (int c = 0; c < LabelledImageShards.CLASSES; c++) {
      names.add(LabelledImageShards.classDirName(c));
    }
    assertThat(names).isSorted();

    assertThat(LabelledImageShards.ensureImageFolder(root, SPEC).generated()).isFalse();
    Files.delete(LabelledImageShards.imageFile(root, SPEC, 5));
    LabelledImageShards.ImageFolder regenerated = LabelledImageShards.ensureImageFolder(root, SPEC);
    assertThat(regenerated.generated()).isTrue();
    assertThat(Files.isRegularFile(LabelledImageShards.imageFile(root, SPEC, 5))).isTrue();
  }

  private static Map<String, Map<String, byte[]>> readAll(List<Path> shards) throws Exception {
    Map<String, Map<String, byte[]>> out = new LinkedHashMap<>();
    for (Path shard : shards) {
      try (InputStream in = Files.newInputStream(shard);
          TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
        TarArchiveEntry e;
        while ((e = tar.getNextEntry()) != null) {
          String name = e.getName();
          int dot = name.indexOf('.');
          Map<String, byte[]> fields =
              out.computeIfAbsent(name.substring(0, dot), k -> new LinkedHashMap<>());
          assertThat(fields.put(name.substring(dot + 1), tar.readAllBytes()))
              .as("duplicate entry %s", name)
              .isNull();
        }
      }
    }
    return out;
  }
}
