package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

class ToFloatImageTest {
  private static BatchContext ctx(BufferAllocator a) {
    return BatchContext.of(a, BadRecords.none(), "ToFloat");
  }

  @Test
  void channelsFirstScaledAndNormalized() {
    Schema schema =
        new Schema(
            List.of(Columns.int32("label"), Columns.tensor("px", ElementType.UINT8, 2, 3, 3)));
    try (RootAllocator a = new RootAllocator()) {
      Batch in;
      try (BatchBuilder b = BatchBuilder.create(a, schema, 2)) {
        ArrowBuf px = b.tensorData("px");
        for (int i = 0; i < 2 * 18; i++) {
          px.setByte(i, i * 7);
        }
        b.setLong("label", 0, 3).setLong("label", 1, 4);
        in = b.build(2);
      }
      try (in;
          Batch out =
              ToFloatImage.of("px", "x")
                  .normalized(new float[] {0.5f, 0f, 0f}, new float[] {0.5f, 1f, 2f})
                  .apply(in, ctx(a))) {
        assertThat(out.tensorSpec("x")).isEqualTo(TensorSpec.of(ElementType.FLOAT32, 3, 2, 3));
        assertThat(out.getLong("label", 1)).isEqualTo(4);
        ArrowBuf x = out.tensorData("x");
        for (int r = 0; r < 2; r++) {
          for (int y = 0; y < 2; y++) {
            for (int xx = 0; xx < 3; xx++) {
              for (int c = 0; c < 3; c++) {
                int v = ((r * 18 + (y * 3 + xx) * 3 + c) * 7) & 0xFF;
                float mean = c == 0 ? 0.5f : 0f;
                float std = c == 0 ? 0.5f : c == 1 ? 1f : 2f;
                float expected = (v / 255f - mean) / std;
                float actual = x.getFloat(4L * (r * 18 + c * 6 + y * 3 + xx));
                assertThat(actual).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-5f));
              }
            }
          }
        }
      }
    }
  }

  @Test
  void channelsLastNormalizesEachValueByItsChannelAndDropsTheInput() {
    Schema schema = new Schema(List.of(Columns.tensor("px", ElementType.UINT8, 2, 2, 3)));
    try (RootAllocator a = new RootAllocator()) {
      Batch in;
      try (BatchBuilder b = BatchBuilder.create(a, schema, 3)) {
        for (int i = 0; i < 3 * 12; i++) {
          b.tensorData("px").setByte(i, 200 + i);
        }
        in = b.build(3);
      }
      float[] mean = {1f, 2f, 3f};
      float[] std = {1f, 2f, 4f};
      try (in;
          Batch out =
              ToFloatImage.of("px", "x")
                  .scaled(1)
                  .normalized(mean, std)
                  .channelsLast()
                  .apply(in, ctx(a))) {
        assertThat(out.schema().getFields()).extracting(f -> f.getName()).containsExactly("x");
        assertThat(out.tensorSpec("x")).isEqualTo(TensorSpec.of(ElementType.FLOAT32, 2, 2, 3));
        for (int k = 0; k < 3 * 12; k++) {
          int c = k % 3;
          float v = (200 + k) & 0xFF;
          assertThat(out.tensorData("x").getFloat(4L * k))
              .isCloseTo((v - mean[c]) / std[c], org.assertj.core.data.Offset.offset(1e-4f));
        }
      }
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }
}
