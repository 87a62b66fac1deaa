package dev.sluice.loader.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PathPatternsTest {
  @TempDir Path dir;

  @Test
  void rangesArePaddedToTheWidthOfTheBounds() {
    assertThat(PathPatterns.expandBraces("train-{0000..0003}.tar"))
        .containsExactly("train-0000.tar", "train-0001.tar", "train-0002.tar", "train-0003.tar");
    assertThat(PathPatterns.expandBraces("s{8..11}")).containsExactly("s8", "s9", "s10", "s11");
    assertThat(PathPatterns.expandBraces("s{08..11}")).containsExactly("s08", "s09", "s10", "s11");
    assertThat(PathPatterns.expandBraces("s{3..1}")).containsExactly("s3", "s2", "s1");
  }

  @Test
  void alternativesNestAndCombineWithRanges() {
    assertThat(PathPatterns.expandBraces("{train,val}/{0..1}.tar"))
        .containsExactly("train/0.tar", "train/1.tar", "val/0.tar", "val/1.tar");
    assertThat(PathPatterns.expandBraces("x{a,b{1,2}}")).containsExactly("xa", "xb1", "xb2");
    assertThat(PathPatterns.expandBraces("keep{abc}.tar")).containsExactly("keep{abc}.tar");
  }

  @Test
  void hugeExpansionsAreRefused() {
    assertThatThrownBy(() -> PathPatterns.expandBraces("{0..99999999}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("{0..99999999}");
  }

  @Test
  void aRangeOfExistingFilesExpandsSortedAndAbsolute() throws IOException {
    for (int i = 3; i >= 0; i--) {
      touch(String.format("train-%04d.tar", i));
    }
    List<Path> files = PathPatterns.expand(dir + "/train-{0000..0003}.tar");
    assertThat(files).hasSize(4).isSorted().allMatch(Path::isAbsolute);
    assertThat(files.get(0).getFileName().toString()).isEqualTo("train-0000.tar");
  }

  @Test
  void aMissingFileInARangeIsAnErrorNamingIt() throws IOException {
    touch("train-0000.tar");
    touch("train-0002.tar");
    assertThatThrownBy(() -> PathPatterns.expand(dir + "/train-{0000..0002}.tar"))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("train-0001.tar");
  }

  @Test
  void globsMatchWithinAndAcrossDirectories() throws IOException {
    touch("a.tar");
    touch("b.tar");
    touch("c.txt");
    touch("sub/d.tar");
    touch("sub/deeper/e.tar");
    assertThat(names(PathPatterns.expand(dir + "/*.tar"))).containsExactly("a.tar", "b.tar");
    assertThat(names(PathPatterns.expand(dir + "/?.t*")))
        .containsExactly("a.tar", "b.tar", "c.txt");
    assertThat(names(PathPatterns.expand(dir + "/**/*.tar")))
        .containsExactly("a.tar", "b.tar", "d.tar", "e.tar");
    assertThat(names(PathPatterns.expand(dir + "/*/*.tar"))).containsExactly("d.tar");
    assertThat(names(PathPatterns.expand(dir + "/{a,b}.tar", dir + "/*.tar")))
        .containsExactly("a.tar", "b.tar");
  }

  @Test
  void aGlobWithoutMatchIsAnErrorNamingThePattern() throws IOException {
    touch("a.tar");
    String pattern = dir + "/*.tgz";
    assertThatThrownBy(() -> PathPatterns.expand(pattern))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining(pattern);
    assertThatThrownBy(() -> PathPatterns.expand(dir + "/missing/*.tar"))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("missing");
  }

  @Test
  void literalDirectoriesAreExpandedOnlyWhenTheCallerSaysSo() throws IOException {
    touch("shards/a.tar");
    touch("shards/b.txt");
    touch("shards/.hidden.tar");
    touch("shards/sub/c.tar");
    String shards = dir.resolve("shards").toString();
    assertThatThrownBy(() -> PathPatterns.expand(shards))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("directory");
    assertThat(
            names(
                PathPatterns.expand(
                    List.of(shards),
                    PathPatterns.Directories.list(p -> p.toString().endsWith(".tar")))))
        .containsExactly("a.tar");
    assertThat(
            names(PathPatterns.expand(List.of(shards), PathPatterns.Directories.walk(p -> true))))
        .containsExactly("a.tar", "b.txt", "c.tar");
    Files.createDirectories(dir.resolve("empty"));
    assertThatThrownBy(
            () ->
                PathPatterns.expand(
                    List.of(dir.resolve("empty").toString()),
                    PathPatterns.Directories.walk(p -> true)))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("empty");
  }

  @Test
  void baseDirectoryIsTheDeepestCommonLiteralDirectory() throws IOException {
    touch("data/train/a.tar");
    touch("data/val/b.tar");
    assertThat(PathPatterns.baseDirectory(List.of(dir + "/data/train/*.tar")))
        .isEqualTo(dir.resolve("data/train"));
    assertThat(PathPatterns.baseDirectory(List.of(dir + "/data/{train,val}/*.tar")))
        .isEqualTo(dir.resolve("data"));
    assertThat(PathPatterns.baseDirectory(List.of(dir + "/data"))).isEqualTo(dir.resolve("data"));
    assertThat(PathPatterns.baseDirectory(List.of(dir + "/data/val/b.tar")))
        .isEqualTo(dir.resolve("data/val"));
  }

  private void touch(String name) throws IOException {
    Path p = dir.resolve(name);
    Files.createDirectories(p.getParent());
    Files.write(p, new byte[] {1});
  }

  private static List<String> names(List<Path> files) {
    return files.stream().map(p -> p.getFileName().toString()).toList();
  }
}
