package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.TensorSpec;
import dev.sluice.loader.ToFloatImage;
import dev.sluice.loader.runtime.Resources;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

/** {@link ToFloatImage} against the DL4J iterator's own conversion, and its column handling. */
class ToFloatImageWithIteratorTest {
  private static final int H = 3;
  private static final int W = 4;
  private static final int C = 3;
  private static final Schema IMAGES =
      new Schema(List.of(Columns.tensor("img", ElementType.UINT8, H, W, C), Columns.int32("y")));

  /** Pixel k of image id: every value 0-255 occurs, above 127 too (unsignedness). */
  private static int pixel(long id, int k) {
    return (int) ((id * 37 + k * 11) % 256);
  }

  private static final BatchFunction TO_IMAGES =
      (in, ctx) -> {
        int n = in.rowCount();
        try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), IMAGES, n)) {
          for (int i = 0; i < n; i++) {
            long id = in.getLong("id", i);
            for (int k = 0; k < H * W * C; k++) {
              b.tensorData("img").setByte((long) H * W * C * i + k, (byte) pixel(id, k));
            }
            b.setLong("y", i, id % 2);
          }
          return b.build(n);
        }
      };

  private static Batch images(RootAllocator a, int n) throws Exception {
    Schema ids = new Schema(List.of(Columns.int64("id")));
    try (BatchBuilder b = BatchBuilder.create(a, ids, n)) {
      for (int i = 0; i < n; i++) {
        b.setLong("id", i, i);
      }
      try (Batch in = b.build(n)) {
        return TO_IMAGES.apply(in, BatchContext.of(a, BadRecords.none(), "ToImages"));
      }
    }
  }

  @Test
  void nchwHoldsEachScaledValueAtItsPlaneAndSharesTheOtherColumns() throws Exception {
    try (RootAllocator a = new RootAllocator()) {
      try (Batch in = images(a, 5);
          Batch out =
              ToFloatImage.of("img")
                  .scaled(1 / 255.0)
                  .apply(in, BatchContext.of(a, BadRecords.none(), "ToFloat"))) {
        assertThat(out.rowCount()).isEqualTo(5);
        assertThat(out.tensorSpec("img")).isEqualTo(TensorSpec.of(ElementType.FLOAT32, C, H, W));
        assertThat(out.getLong("y", 3)).isEqualTo(1);
        assertThat(out.vector("y").getDataBuffer().memoryAddress())
            .isEqualTo(in.vector("y").getDataBuffer().memoryAddress());
        for (int i = 0; i < 5; i++) {
          for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
              for (int c = 0; c < C; c++) {
                int v = pixel(i, (y * W + x) * C + c);
                long at = 4L * ((long) i * C * H * W + (long) c * H * W + (long) y * W + x);
                assertThat(out.tensorData("img").getFloat(at))
                    .isEqualTo((float) v * (float) (1 / 255.0));
              }
            }
          }
        }
      }
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void asStoredKeepsTheRowShapeAndAnEmptyBatchStaysEmpty() throws Exception {
    try (RootAllocator a = new RootAllocator();
        Batch in = images(a, 2);
        Batch out =
            ToFloatImage.of("img")
                .scaled(2.0)
                .channelsLast()
                .apply(in, BatchContext.of(a, BadRecords.none(), "ToFloat"));
        Batch none = in.slice(a, 0, 0);
        Batch noneOut =
            ToFloatImage.of("img")
                .scaled(2.0)
                .apply(none, BatchContext.of(a, BadRecords.none(), "ToFloat"))) {
      assertThat(out.tensorSpec("img")).isEqualTo(TensorSpec.of(ElementType.FLOAT32, H, W, C));
      assertThat(out.tensorData("img").getFloat(4L * (H * W * C + 7))).isEqualTo(2f * pixel(1, 7));
      assertThat(noneOut.rowCount()).isZero();
      assertThat(noneOut.tensorSpec("img")).isEqualTo(TensorSpec.of(ElementType.FLOAT32, C, H, W));
    }
  }

  @Test
  void rejectsWhatItCannotConvertNamingTheColumn() throws Exception {
    try (RootAllocator a = new RootAllocator()) {
      try (Batch in = images(a, 1)) {
        rejects(a, in);
      }
      assertThat(a.getAllocatedMemory()).isZero(); // (a failed conversion leaves nothing behind)
    }
  }

  private static void rejects(RootAllocator a, Batch in) {
    BatchContext ctx = BatchContext.of(a, BadRecords.none(), "ToFloat");
    assertThatThrownBy(() -> ToFloatImage.of("y").scaled(1).channelsLast().apply(in, ctx))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'y'")
        .hasMessageContaining("tensor column");
    assertThatThrownBy(() -> ToFloatImage.of("nope").scaled(1).channelsLast().apply(in, ctx))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nope");
    try (Batch floats = ToFloatImage.of("img").scaled(1).channelsLast().apply(in, ctx)) {
      assertThatThrownBy(() -> ToFloatImage.of("img").scaled(1).channelsLast().apply(floats, ctx))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("float32");
    }
    assertThatThrownBy(() -> ToFloatImage.of("img").scaled(0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ToFloatImage.of("img").scaled(Double.NaN))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * In a pipeline: converted in the tasks and handed over without a copy, the features equal what
   * the iterator's own conversion of the uint8 column makes.
   */
  @Test
  void convertedInTheTasksAndSharedEqualsTheIteratorsConversion() {
    try (Sluice s =
        Sluice.builder()
            .resources(Resources.cpus(2))
            .options(
                ExecutionOptions.defaults()
                    .withPreserveOrder(true)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build()) {
      List<INDArray> byIterator = new ArrayList<>();
      try (SluiceDataSetIterator it =
          SluiceDataSetIterator.builder(
                  s.range(200, 3).mapBatches(TO_IMAGES),
                  FeatureColumn.of("img").withLayout(Layout.NCHW).withScale(1 / 255.0),
                  LabelColumn.oneHot("y", 2))
              .batchSize(32)
              .shuffle(false)
              .build()) {
        while (it.hasNext()) {
          byIterator.add(it.next().getFeatures());
        }
      }
      try (SluiceDataSetIterator it =
          SluiceDataSetIterator.builder(
                  s.range(200, 3)
                      .mapBatches(TO_IMAGES)
                      .mapBatches(ToFloatImage.of("img").scaled(1 / 255.0)),
                  FeatureColumn.of("img"),
                  LabelColumn.oneHot("y", 2))
              .batchSize(32)
              .shuffle(false)
              .prefetch(2)
              .reuseArrays(1)
              .shareBatchMemory(true)
              .build()) {
        int b = 0;
        while (it.hasNext()) {
          DataSet d = it.next();
          assertThat(d.getFeatures()).as("batch %d", b).isEqualTo(byIterator.get(b));
          b++;
        }
        assertThat(b).isEqualTo(byIterator.size());
        assertThat(it.stats().batchesShared()).isEqualTo(b);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }
}
