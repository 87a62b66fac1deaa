package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

class ClassLabelsTest {
  private static final Schema SAMPLES =
      new Schema(
          List.of(
              Columns.utf8(Batch.KEY_COLUMN),
              Columns.utf8(Batch.URL_COLUMN),
              Columns.binary("jpg"),
              Columns.binary("cls")));

  /** Samples k0, k1, ... of shard.tar with the given class texts (null: no .cls entry). */
  private static Batch samples(BufferAllocator a, String... classes) {
    try (BatchBuilder b = BatchBuilder.create(a, SAMPLES, classes.length)) {
      for (int i = 0; i < classes.length; i++) {
        b.setString(Batch.KEY_COLUMN, i, "k" + i);
        b.setString(Batch.URL_COLUMN, i, "/data/shard.tar");
        b.setBytes("jpg", i, new byte[] {(byte) i, 1, 2, 3});
        if (classes[i] != null) {
          b.setBytes("cls", i, classes[i].getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
      }
      return b.build(classes.length);
    }
  }

  private static BatchContext ctx(BufferAllocator a, BadRecords bad) {
    return BatchContext.of(a, bad, "ClassLabels");
  }

  @Test
  void indicesReplaceTheClassTextAndTheOtherColumnsAreShared() {
    try (RootAllocator a = new RootAllocator()) {
      try (Batch in = samples(a, "3", " 7\n", "0");
          Batch out = ClassLabels.fromIndex("cls", 10).apply(in, ctx(a, BadRecords.none()))) {
        assertThat(out.schema().getFields().stream().map(f -> f.getName()).toList())
            .containsExactly(Batch.KEY_COLUMN, Batch.URL_COLUMN, "jpg", "label");
        assertThat(List.of(out.getInt("label", 0), out.getInt("label", 1), out.getInt("label", 2)))
            .containsExactly(3, 7, 0);
        assertThat(out.vector("jpg").getDataBuffer().memoryAddress())
            .as("the encoded bytes are shared")
            .isEqualTo(in.vector("jpg").getDataBuffer().memoryAddress());
      }
      try (Batch in = samples(a, "1");
          Batch out =
              ClassLabels.fromIndex("cls", 2)
                  .output("y")
                  .keepText(true)
                  .apply(in, ctx(a, BadRecords.none()))) {
        assertThat(out.getString("cls", 0)).isEqualTo("1");
        assertThat(out.getInt("y", 0)).isEqualTo(1);
      }
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void namesMapToTheirIndex() {
    try (RootAllocator a = new RootAllocator();
        Batch in = samples(a, "dog", " cat ", "dog");
        Batch out =
            ClassLabels.fromNames("cls", List.of("cat", "dog"))
                .apply(in, ctx(a, BadRecords.none()))) {
      assertThat(List.of(out.getInt("label", 0), out.getInt("label", 1), out.getInt("label", 2)))
          .containsExactly(1, 0, 1);
    }
    assertThatThrownBy(() -> ClassLabels.fromNames("cls", List.of("a", "a")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void eachKindOfBadLabelIsNamedWithItsFileAndSample() {
    record Case(String text, String message) {}
    List<Case> cases =
        List.of(
            new Case(null, "missing class label: the sample has no 'cls' entry"),
            new Case("", "empty class label in 'cls'"),
            new Case("eleven", "class label 'eleven' in 'cls' is not a class index"),
            new Case("12", "class index 12 in 'cls' outside [0, 10)"),
            new Case("-1", "class index -1 in 'cls' outside [0, 10)"));
    try (RootAllocator a = new RootAllocator()) {
      for (Case c : cases) {
        try (Batch in = samples(a, "1", c.text())) {
          assertThatThrownBy(
                  () -> ClassLabels.fromIndex("cls", 10).apply(in, ctx(a, BadRecords.none())))
              .isInstanceOf(SluiceException.class)
              .hasMessageContaining(c.message())
              .hasMessageContaining("/data/shard.tar")
              .hasMessageContaining("k1")
              .hasMessageNotContaining("For input string");
        }
      }
      try (Batch in = samples(a, "x")) {
        assertThatThrownBy(
                () ->
                    ClassLabels.fromNames("cls", List.of("cat"))
                        .apply(in, ctx(a, BadRecords.none())))
            .hasMessageContaining("class name 'x' in 'cls' is not one of the 1 classes");
      }
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void badLabelsAreLeftOutWithinTheAllowance() {
    try (RootAllocator a = new RootAllocator()) {
      BadRecords allowance = new BadRecords(2);
      try (Batch in = samples(a, "1", null, "eleven", "2");
          Batch out = ClassLabels.fromIndex("cls", 10).apply(in, ctx(a, allowance))) {
        assertThat(out.rowCount()).isEqualTo(2);
        assertThat(out.getString(Batch.KEY_COLUMN, 1)).isEqualTo("k3");
        assertThat(out.getInt("label", 1)).isEqualTo(2);
        assertThat(out.getBytes("jpg", 1)).containsExactly(3, 1, 2, 3);
      }
      assertThat(allowance.skipped()).isEqualTo(2);
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aBatchWithoutTheColumnNamesTheColumnsItHas() {
    try (RootAllocator a = new RootAllocator();
        Batch in = samples(a, "1")) {
      assertThatThrownBy(
              () -> ClassLabels.fromIndex("txt", 10).apply(in, ctx(a, BadRecords.none())))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("no column 'txt'")
          .hasMessageContaining("cls");
    }
  }
}
