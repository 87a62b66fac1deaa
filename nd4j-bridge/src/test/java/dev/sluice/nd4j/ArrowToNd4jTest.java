package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.SluiceException;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

class ArrowToNd4jTest {
  private static final int ROWS = 3;
  private static final int H = 2;
  private static final int W = 3;
  private static final int C = 2;

  /** The value stored at element {@code i} of the column: small, signed where the type allows. */
  private static long valueAt(ElementType t, long i) {
    long v = i % 100;
    return t == ElementType.UINT8 ? v + 150 : v - 50; // uint8 above 127 checks unsignedness
  }

  private static void put(ArrowBuf buf, ElementType t, long i, long v) {
    switch (t) {
      case UINT8, INT8 -> buf.setByte(i, (byte) v);
      case INT16 -> buf.setShort(2 * i, (short) v);
      case INT32 -> buf.setInt(4 * i, (int) v);
      case INT64 -> buf.setLong(8 * i, v);
      case FLOAT32 -> buf.setFloat(4 * i, v);
      case FLOAT64 -> buf.setDouble(8 * i, v);
    }
  }

  private static Batch tensorBatch(BufferAllocator alloc, ElementType t) {
    Schema schema = new Schema(List.of(Columns.tensor("t", t, H, W, C)));
    try (BatchBuilder b = BatchBuilder.create(alloc, schema, ROWS)) {
      ArrowBuf buf = b.tensorData("t");
      for (int i = 0; i < ROWS * H * W * C; i++) {
        put(buf, t, i, valueAt(t, i));
      }
      return b.build(ROWS);
    }
  }

  private static double expected(ElementType t, int r, int h, int w, int c) {
    return valueAt(t, (((long) r * H + h) * W + w) * C + c);
  }

  @ParameterizedTest
  @EnumSource(ElementType.class)
  void roundTripsEveryElementTypeInBothLayouts(ElementType t) {
    try (RootAllocator alloc = new RootAllocator();
        Batch batch = tensorBatch(alloc, t)) {
      INDArray view = ArrowToNd4j.view(batch, "t");
      INDArray stored = ArrowToNd4j.copy(batch, FeatureColumn.of("t"));
      INDArray nchw =
          ArrowToNd4j.copy(
              batch, FeatureColumn.of("t").withLayout(Layout.NCHW).withDataType(DataType.DOUBLE));
      INDArray same =
          ArrowToNd4j.copy(batch, FeatureColumn.of("t").withDataType(ArrowToNd4j.dataType(t)));

      assertThat(view.dataType()).isEqualTo(ArrowToNd4j.dataType(t));
      assertThat(view.shape()).containsExactly(ROWS, H, W, C);
      assertThat(stored.dataType()).isEqualTo(DataType.FLOAT);
      assertThat(stored.shape()).containsExactly(ROWS, H, W, C);
      assertThat(nchw.shape()).containsExactly(ROWS, C, H, W);
      for (int r = 0; r < ROWS; r++) {
        for (int h = 0; h < H; h++) {
          for (int w = 0; w < W; w++) {
            for (int c = 0; c < C; c++) {
              double e = expected(t, r, h, w, c);
              assertThat(view.getDouble(r, h, w, c)).as("view %s", t).isEqualTo(e);
              assertThat(stored.getDouble(r, h, w, c)).as("copy %s", t).isEqualTo(e);
              assertThat(same.getDouble(r, h, w, c)).as("same-type copy %s", t).isEqualTo(e);
              assertThat(nchw.getDouble(r, c, h, w)).as("nchw %s", t).isEqualTo(e);
            }
          }
        }
      }
      assertThat(
              ArrowToNd4j.isZeroCopy(
                  batch, FeatureColumn.of("t").withDataType(ArrowToNd4j.dataType(t))))
          .isTrue();
    }
  }

  @Test
  void zeroCopyViewSharesArrowMemoryAndCopyDoesNot() {
    try (RootAllocator alloc = new RootAllocator();
        Batch batch = tensorBatch(alloc, ElementType.FLOAT32)) {
      FeatureColumn asStored = FeatureColumn.of("t");
      assertThat(ArrowToNd4j.isZeroCopy(batch, asStored)).isTrue();
      INDArray view = ArrowToNd4j.convert(batch, asStored);
      INDArray copy = ArrowToNd4j.copy(batch, asStored);
      INDArray scaled = ArrowToNd4j.convert(batch, asStored.withScale(0.5));
      assertThat(ArrowToNd4j.isZeroCopy(batch, asStored.withScale(0.5))).isFalse();

      ArrowBuf data = batch.tensorData("t");
      assertThat(view.data().addressPointer().address()).isEqualTo(data.memoryAddress());
      data.setFloat(4L * 7, 1234.5f); // element 7 = row 0, h 1, w 0, c 1
      assertThat(view.getFloat(0, 1, 0, 1)).isEqualTo(1234.5f);
      assertThat(copy.getFloat(0, 1, 0, 1)).isEqualTo((float) valueAt(ElementType.FLOAT32, 7));
      assertThat(scaled.getFloat(0, 1, 0, 1))
          .isEqualTo((float) valueAt(ElementType.FLOAT32, 7) * 0.5f);

      view.putScalar(new long[] {2, 1, 2, 1}, -7f); // and back: writing the view writes the batch
      assertThat(data.getFloat(4L * (ROWS * H * W * C - 1))).isEqualTo(-7f);
    }
  }

  @Test
  void uint8ScalesToUnitFloatInOnePass() {
    Schema schema = new Schema(List.of(Columns.tensor("img", ElementType.UINT8, 2, 2, 3)));
    try (RootAllocator alloc = new RootAllocator();
        BatchBuilder b = BatchBuilder.create(alloc, schema, 1)) {
      ArrowBuf buf = b.tensorData("img");
      for (int i = 0; i < 12; i++) {
        buf.setByte(i, (byte) (i == 0 ? 255 : i * 10));
      }
      try (Batch batch = b.build(1)) {
        INDArray x =
            ArrowToNd4j.copy(
                batch, FeatureColumn.of("img").withScale(1 / 255.0).withLayout(Layout.NCHW));
        assertThat(x.shape()).containsExactly(1, 3, 2, 2);
        assertThat(x.getFloat(0, 0, 0, 0)).isEqualTo(1f);
        assertThat(x.getFloat(0, 1, 0, 0))
            .isEqualTo(10 / 255f, org.assertj.core.data.Offset.offset(1e-7f));
        assertThat(x.getFloat(0, 2, 1, 1))
            .isEqualTo(110 / 255f, org.assertj.core.data.Offset.offset(1e-7f));
        assertThat(x.maxNumber().floatValue()).isLessThanOrEqualTo(1f);
      }
    }
  }

  private static Batch labelled(BufferAllocator alloc, long... classes) {
    Schema schema =
        new Schema(
            List.of(
                Columns.int32("y"),
                Columns.float64("v"),
                Columns.tensor("m", ElementType.UINT8, 2)));
    try (BatchBuilder b = BatchBuilder.create(alloc, schema, classes.length)) {
      for (int r = 0; r < classes.length; r++) {
        b.setLong("y", r, classes[r]);
        b.setDouble("v", r, r * 1.5);
        b.tensorData("m").setByte(2L * r, 1);
        b.tensorData("m").setByte(2L * r + 1, r % 2);
      }
      return b.build(classes.length);
    }
  }

  @Test
  void oneHotLabelsAndNumericColumnsAndMasks() {
    try (RootAllocator alloc = new RootAllocator();
        Batch batch = labelled(alloc, 2, 0, 1)) {
      INDArray y = ArrowToNd4j.labels(batch, LabelColumn.oneHot("y", 3));
      assertThat(y.dataType()).isEqualTo(DataType.FLOAT);
      assertThat(y.toFloatMatrix()).isEqualTo(new float[][] {{0, 0, 1}, {1, 0, 0}, {0, 1, 0}});
      INDArray v = ArrowToNd4j.labels(batch, LabelColumn.asIs("v"));
      assertThat(v.shape()).containsExactly(3, 1);
      assertThat(v.getFloat(2, 0)).isEqualTo(3f);
      INDArray vView = ArrowToNd4j.view(batch, "v");
      assertThat(vView.dataType()).isEqualTo(DataType.DOUBLE);
      assertThat(vView.getDouble(1, 0)).isEqualTo(1.5);

      DataSet ds =
          ArrowToNd4j.toDataSet(
              batch, FeatureColumn.of("v").withMask("m"), LabelColumn.oneHot("y", 3).withMask("m"));
      assertThat(ds.getFeaturesMaskArray().toFloatMatrix())
          .isEqualTo(new float[][] {{1, 0}, {1, 1}, {1, 0}});
      assertThat(ds.getLabelsMaskArray()).isEqualTo(ds.getFeaturesMaskArray());
      assertThat(ds.getLabels()).isEqualTo(y);
    }
  }

  @Test
  void outOfRangeClassIndexNamesRowAndValue() {
    try (RootAllocator alloc = new RootAllocator();
        Batch batch = labelled(alloc, 0, 1, 5)) {
      assertThatThrownBy(() -> ArrowToNd4j.labels(batch, LabelColumn.oneHot("y", 3)))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("class index 5")
          .hasMessageContaining("row 2")
          .hasMessageContaining("'y'");
    }
    try (RootAllocator alloc = new RootAllocator();
        Batch batch = labelled(alloc, -1)) {
      assertThatThrownBy(() -> ArrowToNd4j.labels(batch, LabelColumn.oneHot("y", 3)))
          .hasMessageContaining("class index -1")
          .hasMessageContaining("row 0");
    }
  }

  @Test
  void rejectsWhatCannotBeConverted() {
    try (RootAllocator alloc = new RootAllocator();
        Batch batch = labelled(alloc, 0)) {
      assertThatThrownBy(
              () -> ArrowToNd4j.copy(batch, FeatureColumn.of("m").withLayout(Layout.NCHW)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("NCHW");
      assertThatThrownBy(() -> ArrowToNd4j.labels(batch, LabelColumn.oneHot("v", 3)))
          .hasMessageContaining("not class indices");
      assertThatThrownBy(() -> ArrowToNd4j.view(batch, "nope")).hasMessageContaining("nope");
    }
  }

  @Test
  void copiesOutliveTheBatch() {
    INDArray copy;
    try (RootAllocator alloc = new RootAllocator()) {
      try (Batch batch = tensorBatch(alloc, ElementType.INT16)) {
        copy = ArrowToNd4j.copy(batch, FeatureColumn.of("t"));
      }
      assertThat(alloc.getAllocatedMemory()).isZero();
    }
    assertThat(copy.getDouble(2, 1, 2, 1)).isEqualTo(expected(ElementType.INT16, 2, 1, 2, 1));
  }
}
