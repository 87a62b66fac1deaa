package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

/**
 * Row-range concatenation and uninitialised tensor columns: the copies behind re-batching and
 * decoding.
 */
class BatchCopyTest {
  private static final Schema SCHEMA =
      new Schema(
          List.of(
              Columns.tensor("t", ElementType.UINT8, 3),
              Columns.int64("id"),
              Columns.utf8("name"),
              Columns.float32("f")));

  /**
   * Rows {@code first .. first + n - 1}: tensor bytes, id, name (null every 7th row) and a float.
   */
  private static Batch rows(org.apache.arrow.memory.BufferAllocator a, int first, int n) {
    try (BatchBuilder b =
        BatchBuilder.createUninitialized(a, SCHEMA, n, 16L * n, List.of("file-" + first))) {
      ArrowBuf t = b.tensorData("t");
      for (int i = 0; i < n; i++) {
        long id = first + i;
        for (int k = 0; k < 3; k++) {
          t.setByte(3L * i + k, (byte) (id * 3 + k));
        }
        b.setLong("id", i, id);
        if (id % 7 == 0) {
          b.setNull("name", i);
        } else {
          b.setString("name", i, "row-" + id);
        }
        b.setDouble("f", i, id / 2.0);
      }
      return b.build(n);
    }
  }

  private static void assertRow(Batch b, int row, long id) {
    assertThat(b.getLong("id", row)).isEqualTo(id);
    byte[] t = b.getBytes("t", row);
    assertThat(t).containsExactly((byte) (id * 3), (byte) (id * 3 + 1), (byte) (id * 3 + 2));
    if (id % 7 == 0) {
      assertThat(b.vector("name").isNull(row)).isTrue();
    } else {
      assertThat(b.getString("name", row)).isEqualTo("row-" + id);
    }
    assertThat(b.getDouble("f", row)).isEqualTo(id / 2.0);
  }

  @Property(tries = 50)
  void concatRowsCopiesExactlyTheRangesInOrder(
      @ForAll @IntRange(min = 1, max = 5) int blocks,
      @ForAll @IntRange(min = 1, max = 40) int blockRows,
      @ForAll @IntRange(min = 0, max = 1000) int cutSeed) {
    try (RootAllocator a = new RootAllocator()) {
      List<Batch> in = new ArrayList<>();
      for (int i = 0; i < blocks; i++) {
        in.add(rows(a, i * blockRows, blockRows));
      }
      java.util.Random random = new java.util.Random(cutSeed);
      List<Batch.Rows> parts = new ArrayList<>();
      List<Long> expected = new ArrayList<>();
      for (int i = 0; i < blocks; i++) {
        int from = random.nextInt(blockRows);
        int count = random.nextInt(blockRows - from + 1);
        parts.add(new Batch.Rows(in.get(i), from, count));
        for (int r = from; r < from + count; r++) {
          expected.add((long) i * blockRows + r);
        }
      }
      try (Batch out = Batch.concatRows(a, parts)) {
        assertThat(out.rowCount()).isEqualTo(expected.size());
        for (int r = 0; r < expected.size(); r++) {
          assertRow(out, r, expected.get(r));
        }
        assertThat(out.sources())
            .containsExactlyElementsOf(in.stream().map(b -> b.sources().get(0)).toList());
      }
      in.forEach(Batch::close);
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void concatOfWholeBatchesKeepsNullsAndRejectsOtherSchemas() {
    try (RootAllocator a = new RootAllocator();
        Batch x = rows(a, 0, 10);
        Batch y = rows(a, 10, 5);
        Batch xy = Batch.concat(a, List.of(x, y))) {
      for (int r = 0; r < 15; r++) {
        assertRow(xy, r, r);
      }
      try (BatchBuilder other =
              BatchBuilder.create(a, new Schema(List.of(Columns.int64("id"))), 1);
          Batch z = other.build(0)) {
        assertThatThrownBy(() -> Batch.concat(a, List.of(x, z)))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("different schemas");
      }
      assertThatThrownBy(() -> new Batch.Rows(x, 8, 3))
          .isInstanceOf(IndexOutOfBoundsException.class);
    }
  }

  @Test
  void uninitialisedTensorColumnsHoldWhatIsWrittenAndZeroedOnesStartAtZero() {
    try (RootAllocator a = new RootAllocator()) {
      // Dirty a buffer, release it, then build from both kinds of builder.
      try (ArrowBuf dirty = a.buffer(4096)) {
        dirty.setOne(0, 4096);
      }
      try (BatchBuilder b = BatchBuilder.create(a, SCHEMA, 4);
          Batch zeroed = b.build(4)) {
        for (int r = 0; r < 4; r++) {
          assertThat(zeroed.getBytes("t", r)).containsOnly((byte) 0);
          assertThat(zeroed.vector("t").isNull(r)).isFalse();
        }
      }
      try (Batch written = rows(a, 0, 100)) {
        assertThat(written.rowCount()).isEqualTo(100);
        for (int r = 0; r < 100; r++) {
          assertRow(written, r, r);
        }
      }
      try (BatchBuilder b = BatchBuilder.createUninitialized(a, SCHEMA, 8, 0, List.of())) {
        assertThat(b.tensorData("t").capacity()).isGreaterThanOrEqualTo(24);
      } // closed unbuilt: nothing leaks
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void withColumnsOfSharesTheKeptColumnsAndEitherBatchMayCloseFirst() {
    try (RootAllocator root = new RootAllocator()) {
      for (boolean originalFirst : new boolean[] {true, false}) {
        org.apache.arrow.memory.BufferAllocator a = root.newChildAllocator("a", 0, Long.MAX_VALUE);
        org.apache.arrow.memory.BufferAllocator b = root.newChildAllocator("b", 0, Long.MAX_VALUE);
        Batch in = rows(a, 0, 50);
        Batch extra;
        try (BatchBuilder bb =
            BatchBuilder.create(b, new Schema(List.of(Columns.int32("label"))), 50)) {
          for (int r = 0; r < 50; r++) {
            bb.setLong("label", r, r % 10);
          }
          extra = bb.build(50);
        }
        Batch out = in.withColumnsOf(b, List.of("name"), extra);
        assertThat(extra.isClosed()).isTrue();
        assertThat(out.schema().getFields().stream().map(f -> f.getName()).toList())
            .containsExactly("t", "id", "f", "label");
        assertThat(out.tensorData("t").memoryAddress())
            .as("shared, not copied")
            .isEqualTo(in.tensorData("t").memoryAddress());
        if (originalFirst) {
          in.close();
        }
        for (int r = 0; r < 50; r++) {
          assertThat(out.getLong("id", r)).isEqualTo(r);
          assertThat(out.getBytes("t", r))
              .containsExactly((byte) (r * 3), (byte) (r * 3 + 1), (byte) (r * 3 + 2));
          assertThat(out.getLong("label", r)).isEqualTo(r % 10);
        }
        out.close();
        if (!originalFirst) {
          assertThat(in.getLong("id", 49)).isEqualTo(49);
          in.close();
        }
        a.close(); // throws on a leak
        b.close();
      }
      assertThat(root.getAllocatedMemory()).isZero();
      try (Batch x = rows(root, 0, 3);
          Batch y = rows(root, 0, 2)) {
        assertThatThrownBy(() -> x.withColumnsOf(root, List.of(), y))
            .isInstanceOf(IllegalArgumentException.class);
      }
    }
  }

  @Property(tries = 40)
  void sliceSharedSharesTheBuffersAndOutlivesItsSource(
      @ForAll @IntRange(min = 1, max = 40) int n,
      @ForAll @IntRange(min = 0, max = 1000) int cutSeed,
      @ForAll boolean closeSourceFirst) {
    try (RootAllocator a = new RootAllocator()) {
      java.util.Random random = new java.util.Random(cutSeed);
      int from = random.nextInt(n);
      int length = random.nextInt(n - from + 1);
      Batch source = rows(a, 100, n);
      dev.sluice.loader.internal.batch.BatchHosts.set(source, List.of("host-a"));
      long before = a.getAllocatedMemory();
      Batch slice = source.sliceShared(a, from, length);
      // no copy of the tensor data: the slice reads the source's own memory
      if (length > 0) {
        assertThat(slice.tensorData("t").memoryAddress())
            .isEqualTo(source.tensorData("t").memoryAddress() + 3L * from);
      }
      assertThat(a.getAllocatedMemory() - before)
          .as("only offsets and validity bits are new")
          .isLessThan(64L * 4 + 4L * length + 256);
      assertThat(slice.sources()).isEqualTo(source.sources());
      assertThat(slice.hosts()).containsExactly("host-a");
      (closeSourceFirst ? source : slice).close();
      Batch left = closeSourceFirst ? slice : source;
      if (closeSourceFirst) {
        assertThat(slice.rowCount()).isEqualTo(length);
        for (int r = 0; r < length; r++) {
          assertRow(slice, r, 100 + from + r);
        }
      }
      left.close();
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void sliceSharedRejectsRowsOutsideTheBatch() {
    try (RootAllocator a = new RootAllocator();
        Batch b = rows(a, 0, 5)) {
      assertThatThrownBy(() -> b.sliceShared(a, 3, 3))
          .isInstanceOf(IndexOutOfBoundsException.class);
      assertThatThrownBy(() -> b.sliceShared(a, -1, 1))
          .isInstanceOf(IndexOutOfBoundsException.class);
    }
  }
}
