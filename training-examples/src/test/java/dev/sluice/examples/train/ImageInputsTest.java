package dev.sluice.examples.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.Columns;
import dev.sluice.loader.SluiceException;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

class ImageInputsTest {
  private static final Schema SAMPLES = new Schema(List.of(
      Columns.utf8(Batch.KEY_COLUMN), Columns.binary("jpg"), Columns.utf8("cls")));

  private static Batch samples(BufferAllocator a, String... classes) {
    try (BatchBuilder b = BatchBuilder.create(a, SAMPLES, classes.length)) {
      for (int i = 0; i < classes.length; i++) {
        b.setString(Batch.KEY_COLUMN, i, "k" + i);
        b.setBytes("jpg", i, new byte[] {(byte) i, 1, 2, 3});
        b.setString("cls", i, classes[i]);
      }
      return b.build(classes.length);
    }
  }

  private static BatchContext ctx(BufferAllocator a, BadRecords bad) {
    return BatchContext.of(a, bad, "ParseLabel");
  }

  @Test
  void labelsReplaceTheClassTextAndTheOtherColumnsAreShared() throws Exception {
    try (RootAllocator a = new RootAllocator()) {
      try (Batch in = samples(a, "3", " 7 ", "0");
          Batch out = ImageInputs.parseLabel("cls", 10).apply(in, ctx(a, BadRecords.none()))) {
        assertThat(out.schema().getFields().stream().map(f -> f.getName()).toList())
            .containsExactly(Batch.KEY_COLUMN, "jpg", ImageInputs.LABEL);
        assertThat(List.of(out.getLong(ImageInputs.LABEL, 0), out.getLong(ImageInputs.LABEL, 1), out.getLong(ImageInputs.LABEL, 2)))
            .containsExactly(3L, 7L, 0L);
        assertThat(out.vector("jpg").getDataBuffer().memoryAddress()).as("the encoded bytes are shared")
            .isEqualTo(in.vector("jpg").getDataBuffer().memoryAddress());
        assertThat(out.getBytes("jpg", 2)).containsExactly(2, 1, 2, 3);
      }
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aBadLabelIsLeftOutWithinTheAllowanceAndNamedOtherwise() throws Exception {
    try (RootAllocator a = new RootAllocator()) {
      BadRecords allowance = new BadRecords(1);
      try (Batch in = samples(a, "1", "eleven", "12", "2")) {
        assertThatThrownBy(() -> ImageInputs.parseLabel("cls", 10).apply(in, ctx(a, allowance)))
            .isInstanceOf(SluiceException.class).hasMessageContaining("k2");
      }
      try (Batch in = samples(a, "1", "eleven", "2");
          Batch out = ImageInputs.parseLabel("cls", 10).apply(in, ctx(a, new BadRecords(1)))) {
        assertThat(out.rowCount()).isEqualTo(2);
        assertThat(out.getString(Batch.KEY_COLUMN, 1)).isEqualTo("k2");
        assertThat(out.getLong(ImageInputs.LABEL, 1)).isEqualTo(2);
        assertThat(out.getBytes("jpg", 1)).containsExactly(2, 1, 2, 3);
      }
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }
}
