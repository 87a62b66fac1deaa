package dev.sluice.loader.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFolderSourceTest {
  @TempDir Path root;

  record Row(String key, String url, byte[] image, int label, String className) {}

  private void layout() throws IOException {
    BinaryFilesSourceTest.write(root.resolve("dog/d1.jpg"), 100, 1);
    BinaryFilesSourceTest.write(root.resolve("dog/d2.PNG"), 100, 2);
    BinaryFilesSourceTest.write(root.resolve("dog/notes.txt"), 100, 3);
    BinaryFilesSourceTest.write(root.resolve("cat/c1.jpeg"), 100, 4);
    BinaryFilesSourceTest.write(root.resolve("cat/nested/c2.jpg"), 100, 5);
    BinaryFilesSourceTest.write(root.resolve("cat/.c3.jpg"), 100, 6);
    BinaryFilesSourceTest.write(root.resolve("ant/a1.bmp"), 100, 7);
    BinaryFilesSourceTest.write(root.resolve(".git/x.jpg"), 100, 8);
    Files.createDirectories(root.resolve("empty"));
    BinaryFilesSourceTest.write(root.resolve("top.jpg"), 100, 9);
  }

  @Test
  void classesAreTheSortedSubdirectoriesAndLabelsTheirIndex() throws IOException {
    layout();
    ImageFolderSource source = ImageFolderSource.of(root.toString());
    assertThat(source.classNames()).containsExactly("ant", "cat", "dog", "empty");
    List<Row> rows = readAll(source);
    assertThat(rows)
        .extracting(Row::key)
        .containsExactly(
            "ant/a1.bmp", "cat/c1.jpeg", "cat/nested/c2.jpg", "dog/d1.jpg", "dog/d2.PNG");
    assertThat(rows).extracting(Row::label).containsExactly(0, 1, 1, 2, 2);
    assertThat(rows).extracting(Row::className).containsExactly("ant", "cat", "cat", "dog", "dog");
    assertThat(rows.get(3).url()).isEqualTo(root.resolve("dog/d1.jpg").toAbsolutePath().toString());
    assertThat(rows.get(3).image()).isEqualTo(BinaryFilesSourceTest.content(100, 1));
  }

  @Test
  void extensionsCanBeChosen() throws IOException {
    layout();
    ImageFolderSource source = ImageFolderSource.builder(root).extensions("txt").build();
    assertThat(readAll(source)).extracting(Row::key).containsExactly("dog/notes.txt");
  }

  @Test
  void splitsGroupImagesByBytes() throws IOException {
    layout();
    ImageFolderSource source = ImageFolderSource.builder(root).targetSplitBytes(200).build();
    List<SourceSplit> splits = source.planSplits();
    assertThat(splits).extracting(s -> s.paths().size()).containsExactly(2, 2, 1);
    assertThat(splits).extracting(SourceSplit::estimatedRows).containsExactly(2L, 2L, 1L);
    assertThat(readAll(source)).hasSize(5);
  }

  @Test
  void aMissingRootOrOneWithoutClassesIsAnError() throws IOException {
    assertThatThrownBy(() -> ImageFolderSource.of(root.resolve("nope").toString()))
        .isInstanceOf(NoSuchFileException.class)
        .hasMessageContaining("nope");
    BinaryFilesSourceTest.write(root.resolve("flat.jpg"), 10, 1);
    assertThatThrownBy(() -> ImageFolderSource.of(root.toString()))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(root.toString());
    Files.createDirectories(root.resolve("cls"));
    ImageFolderSource noImages = ImageFolderSource.of(root.toString());
    assertThatThrownBy(noImages::planSplits)
        .isInstanceOf(IOException.class)
        .hasMessageContaining("no image");
  }

  static List<Row> readAll(ImageFolderSource source) throws IOException {
    List<Row> rows = new ArrayList<>();
    try (BufferAllocator allocator = new RootAllocator()) {
      for (SourceSplit split : source.planSplits()) {
        try (SplitReader reader =
            source.open(split, new ReadContext(2, 1L << 20, BadRecords.none()))) {
          for (Batch b = reader.next(allocator); b != null; b = reader.next(allocator)) {
            try (Batch batch = b) {
              assertThat(batch.schema()).isEqualTo(source.schema());
              for (int r = 0; r < batch.rowCount(); r++) {
                rows.add(
                    new Row(
                        batch.getString(Batch.KEY_COLUMN, r),
                        batch.getString(Batch.URL_COLUMN, r),
                        batch.getBytes(ImageFolderSource.IMAGE_COLUMN, r),
                        batch.getInt(ImageFolderSource.LABEL_COLUMN, r),
                        batch.getString(ImageFolderSource.CLASS_COLUMN, r)));
              }
            }
          }
        }
      }
    }
    return rows;
  }
}
