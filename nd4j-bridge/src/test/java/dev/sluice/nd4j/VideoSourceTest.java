package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.TensorSpec;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.ReadContext;
import dev.sluice.loader.source.SplitReader;
import dev.sluice.sharding.SourceSplit;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VideoSourceTest {

  /** One decoded frame as the tests see it. */
  record Row(String video, long index, double seconds, int[] shape, double mean) {}

  /** What reading a source gave: its rows in split order and each block's row count. */
  record Read(List<Row> rows, List<Integer> blockRows, int splits) {}

  static Read readAll(VideoSource source, ReadContext context) throws Exception {
    List<Row> rows = new ArrayList<>();
    List<Integer> blocks = new ArrayList<>();
    List<SourceSplit> splits = source.planSplits();
    try (RootAllocator alloc = new RootAllocator()) {
      for (SourceSplit split : splits) {
        try (SplitReader reader = source.open(split, context)) {
          for (Batch next; (next = reader.next(alloc)) != null; ) {
            try (Batch b = next) {
              blocks.add(b.rowCount());
              TensorSpec spec = b.tensorSpec(VideoSource.FRAME_COLUMN);
              ArrowBuf data = b.tensorData(VideoSource.FRAME_COLUMN);
              for (int r = 0; r < b.rowCount(); r++) {
                long sum = 0;
                long base = (long) r * spec.rowBytes();
                for (int i = 0; i < spec.rowBytes(); i++) {
                  sum += data.getByte(base + i) & 0xff;
                }
                rows.add(
                    new Row(
                        b.getString(VideoSource.VIDEO_COLUMN, r),
                        b.getLong(VideoSource.INDEX_COLUMN, r),
                        b.getDouble(VideoSource.TIMESTAMP_COLUMN, r),
                        spec.shape(),
                        (double) sum / spec.rowBytes()));
                assertThat(b.getString(Batch.KEY_COLUMN, r))
                    .isEqualTo(
                        rows.get(rows.size() - 1).video()
                            + "#"
                            + rows.get(rows.size() - 1).index());
              }
            }
          }
        }
      }
    }
    return new Read(rows, blocks, splits.size());
  }

  private static ReadContext context(int rows, long bytes, long allowance) {
    return new ReadContext(rows, bytes, new BadRecords(allowance));
  }

  @Test
  void decodesEveryFrameInBlocksWithShapeIndexAndTimestamp(@TempDir Path dir) throws Exception {
    TestVideos.write(dir.resolve("a.mp4"), "mp4", 64, 48, 30, 25);
    Read read = readAll(VideoSource.of(dir.toString()), context(8, 1 << 20, 0));

    assertThat(read.splits()).isEqualTo(1);
    assertThat(read.rows()).hasSize(30);
    assertThat(read.blockRows()).containsExactly(8, 8, 8, 6);
    for (int i = 0; i < 30; i++) {
      Row row = read.rows().get(i);
      assertThat(row.video()).isEqualTo("a.mp4");
      assertThat(row.index()).isEqualTo(i);
      assertThat(row.seconds()).isCloseTo(i / 25.0, within(1e-6));
      assertThat(row.shape()).containsExactly(48, 64, 3);
      assertThat(row.mean()).as("frame %d", i).isCloseTo(TestVideos.level(i), within(4.0));
    }
  }

  @Test
  void blocksStopAtTheTargetBytes(@TempDir Path dir) throws Exception {
    TestVideos.write(dir.resolve("a.mkv"), "matroska", 64, 48, 20, 25);
    long frameBytes = 64 * 48 * 3;
    Read read = readAll(VideoSource.of(dir.toString()), context(1000, 3 * frameBytes, 0));
    assertThat(read.blockRows()).containsExactly(3, 3, 3, 3, 3, 3, 2);
    // A target below one frame still hands on one frame per block.
    assertThat(readAll(VideoSource.of(dir.toString()), context(1000, 10, 0)).blockRows())
        .hasSize(20)
        .allMatch(n -> n == 1);
  }

  @Test
  void strideResizeAndMaxFrames(@TempDir Path dir) throws Exception {
    TestVideos.write(dir.resolve("a.mp4"), "mp4", 64, 48, 40, 20);
    VideoSource source =
        VideoSource.builder(dir.toString()).frameStride(3).resize(24, 16).maxFrames(5).build();
    assertThat(source.schema().findField(VideoSource.FRAME_COLUMN).getMetadata())
        .containsEntry(TensorSpec.SHAPE_KEY, "16,24,3");
    Read read = readAll(source, context(4, 1 << 20, 0));

    assertThat(read.rows()).extracting(Row::index).containsExactly(0L, 3L, 6L, 9L, 12L);
    assertThat(read.blockRows()).containsExactly(4, 1);
    for (Row row : read.rows()) {
      assertThat(row.shape()).containsExactly(16, 24, 3);
      assertThat(row.seconds()).isCloseTo(row.index() / 20.0, within(1e-6));
      assertThat(row.mean()).isCloseTo(TestVideos.level((int) row.index()), within(4.0));
    }
    // Without maxFrames the stride runs to the end: 0, 3, ..., 39.
    Read strided =
        readAll(
            VideoSource.builder(dir.toString()).frameStride(3).build(), context(64, 1 << 20, 0));
    assertThat(strided.rows()).extracting(Row::index).hasSize(14).endsWith(39L);
  }

  @Test
  void timeRangesGiveTheSameFramesAsWholeFiles(@TempDir Path dir) throws Exception {
    TestVideos.write(dir.resolve("a.mp4"), "mp4", 32, 32, 50, 25);
    TestVideos.write(dir.resolve("b.mkv"), "matroska", 32, 32, 23, 25);
    Read whole = readAll(VideoSource.of(dir.toString()), context(16, 1 << 20, 0));
    Read ranged =
        readAll(
            VideoSource.builder(dir.toString()).splitSeconds(0.3).build(), context(16, 1 << 20, 0));

    assertThat(whole.splits()).isEqualTo(2);
    assertThat(ranged.splits()).isEqualTo(7 + 4); // 2.0 s and 0.92 s in 0.3 s ranges
    assertThat(key(ranged.rows())).isEqualTo(key(whole.rows()));
    assertThat(whole.rows()).hasSize(73);
    // maxFrames: ranges past the last kept frame are not even planned.
    VideoSource capped =
        VideoSource.builder(dir.toString()).splitSeconds(0.3).frameStride(2).maxFrames(4).build();
    Read cappedRead = readAll(capped, context(16, 1 << 20, 0));
    assertThat(cappedRead.rows())
        .extracting(Row::index)
        .containsExactly(0L, 2L, 4L, 6L, 0L, 2L, 4L, 6L);
    assertThat(cappedRead.splits()).isEqualTo(2);
  }

  private static List<String> key(List<Row> rows) {
    return rows.stream()
        .map(r -> r.video() + "#" + r.index() + "@" + r.seconds() + "=" + Math.round(r.mean()))
        .toList();
  }

  @Test
  void aTruncatedVideoFailsNamingTheFileAndTheFrameOrIsSkipped(@TempDir Path dir) throws Exception {
    Path whole = TestVideos.write(dir.resolve("whole.mkv"), "matroska", 64, 48, 50, 25);
    byte[] bytes = Files.readAllBytes(whole);
    Path cut = dir.resolve("cut").resolve("cut.mkv");
    Files.createDirectories(cut.getParent());
    Files.write(cut, Arrays.copyOf(bytes, bytes.length * 6 / 10));
    VideoSource source = VideoSource.of(cut.getParent().toString());

    assertThatThrownBy(() -> readAll(source, context(8, 1 << 20, 0)))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(cut.toString())
        .hasMessageContaining("frame ")
        .hasMessageContaining("the file is truncated or corrupt")
        .satisfies(
            e ->
                assertThat(((SluiceException) e).entry())
                    .as("the entry names the frame position")
                    .matches("frame [1-9][0-9]* \\(after [0-9.]+ s\\)"));

    BadRecords allowance = new BadRecords(1);
    Read read = readAll(source, new ReadContext(8, 1 << 20, allowance));
    assertThat(allowance.skipped()).isEqualTo(1);
    // The frames before the cut were handed on, in order.
    assertThat(read.rows()).isNotEmpty().hasSizeLessThan(50);
    for (int i = 0; i < read.rows().size(); i++) {
      assertThat(read.rows().get(i).index()).isEqualTo(i);
    }
  }

  @Test
  void aVideoDamagedInTheMiddleFailsAtTheFrameWhereDecodingStops(@TempDir Path dir)
      throws Exception {
    Path whole = TestVideos.write(dir.resolve("whole.mkv"), "matroska", 64, 48, 50, 25);
    byte[] bytes = Files.readAllBytes(whole);
    // 2 KB of garbage from the middle on: the container's structure breaks there.
    for (int i = bytes.length / 2; i < Math.min(bytes.length, bytes.length / 2 + 2000); i++) {
      bytes[i] = (byte) 0xff;
    }
    Path damaged = dir.resolve("damaged").resolve("damaged.mkv");
    Files.createDirectories(damaged.getParent());
    Files.write(damaged, bytes);
    VideoSource source = VideoSource.of(damaged.getParent().toString());

    assertThatThrownBy(() -> readAll(source, context(8, 1 << 20, 0)))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(damaged.toString())
        .hasMessageContaining("the file is truncated or corrupt")
        .satisfies(
            e ->
                assertThat(((SluiceException) e).entry())
                    .matches("frame [1-9][0-9]* \\(after [0-9.]+ s\\)"));
    BadRecords allowance = new BadRecords(1);
    Read read = readAll(source, new ReadContext(8, 1 << 20, allowance));
    assertThat(allowance.skipped()).isEqualTo(1);
    assertThat(read.rows()).isNotEmpty().hasSizeLessThan(50);
  }

  @Test
  void aFileThatIsNotAVideoFailsOrIsSkipped(@TempDir Path dir) throws Exception {
    Path fake = dir.resolve("notes.mp4");
    Files.writeString(fake, "these are not the frames you are looking for\n".repeat(50));
    TestVideos.write(dir.resolve("real.mp4"), "mp4", 32, 32, 10, 25);
    VideoSource source = VideoSource.of(dir.toString());

    assertThatThrownBy(() -> readAll(source, context(8, 1 << 20, 0)))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining(fake.toString())
        .hasMessageContaining("not a readable video")
        .hasMessageContaining("frame 0 (opening)");

    BadRecords allowance = new BadRecords(1);
    Read read = readAll(source, new ReadContext(8, 1 << 20, allowance));
    assertThat(allowance.skipped()).isEqualTo(1);
    assertThat(read.rows()).hasSize(10).allMatch(r -> r.video().equals("real.mp4"));
  }

  @Test
  void aDatasetReadsAFolderOfVideosWithinItsAllocator(@TempDir Path dir) throws Exception {
    TestVideos.write(dir.resolve("one.mp4"), "mp4", 48, 32, 12, 25);
    Files.createDirectories(dir.resolve("more"));
    TestVideos.write(dir.resolve("more").resolve("two.mkv"), "matroska", 48, 32, 7, 25);
    Files.writeString(dir.resolve("README.txt"), "not a video, and not read: no video extension");
    try (Sluice sluice =
        Sluice.builder()
            .resources(Resources.cpus(2))
            .options(
                ExecutionOptions.defaults()
                    .withMemoryBudget(8L << 20)
                    .withTargetBlockRows(4)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build()) {
      var ds = sluice.read(VideoSource.builder(dir.toString()).resize(24, 16).build());
      assertThat(ds.explain()).isEqualTo("Input -> TaskPoolMap[ReadVideo] -> Output");
      assertThat(ds.count()).isEqualTo(19);
      assertThat(ds.stats().peakMemory()).isPositive().isLessThanOrEqualTo(8L << 20);
    }
    // Sluice.close() failed had any block been left open.
  }
}
