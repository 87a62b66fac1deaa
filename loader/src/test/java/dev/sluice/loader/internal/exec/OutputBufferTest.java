package dev.sluice.loader.internal.exec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.BlockStore;
import dev.sluice.loader.runtime.Lineage;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

class OutputBufferTest {
  private static final Schema SCHEMA = new Schema(List.of(Columns.int64("id")));

  private final BlockStore store = new BlockStore("n0");

  private BlockRef batch(RootAllocator a, long id) {
    try (BatchBuilder b = BatchBuilder.create(a, SCHEMA, 1)) {
      b.setLong("id", 0, id);
      return store.put(b.build(1), new Lineage.Read(0, "Read", 0, 0, id, id, id + 1), List.of());
    }
  }

  /** Takes every released output, in order; returns their ids. */
  private List<Long> ids(OutputBuffer buffer) {
    List<Long> out = new ArrayList<>();
    for (BlockRef r; (r = buffer.pollReady()) != null; ) {
      try (Batch b = store.take(r)) {
        out.add(b.getLong("id", 0));
      }
    }
    return out;
  }

  @Test
  void orderedReleasesInKeyOrderAcrossMajors() {
    try (RootAllocator a = new RootAllocator()) {
      OutputBuffer out = new OutputBuffer(true);
      out.add(1, 0, batch(a, 10));
      out.add(0, 1, batch(a, 1));
      assertThat(ids(out)).isEmpty();
      out.add(0, 0, batch(a, 0));
      assertThat(ids(out)).containsExactly(0L, 1L);
      out.add(0, 2, null); // key used, nothing in it
      assertThat(ids(out)).isEmpty();
      out.finish(0, 3);
      assertThat(ids(out)).containsExactly(10L);
      out.add(2, 0, batch(a, 20));
      out.finish(1, 1);
      assertThat(ids(out)).containsExactly(20L);
      assertThat(out.isEmpty()).isTrue();
    }
  }

  @Test
  void unorderedReleasesAtOnceAndReleaseAllFreesEverything() {
    try (RootAllocator a = new RootAllocator()) {
      OutputBuffer out = new OutputBuffer(false);
      out.add(5, 0, batch(a, 5));
      out.add(1, 0, batch(a, 1));
      assertThat(ids(out)).containsExactly(5L, 1L);
      out.add(7, 0, batch(a, 7));
      assertThat(out.readyCount()).isEqualTo(1);
      assertThat(store.get(out.peekReady()).getLong("id", 0)).isEqualTo(7L);
      assertThat(out.bytes()).isEqualTo(out.peekReady().bytes()).isEqualTo(store.bytes());
      assertThat(out.readyCount()).isEqualTo(1);
      out.releaseAll(store::release);
      assertThat(out.readyCount()).isZero();
      OutputBuffer ordered = new OutputBuffer(true);
      ordered.add(3, 0, batch(a, 3));
      ordered.releaseAll(store::release);
      assertThat(store.size()).isZero();
      assertThat(a.getAllocatedMemory()).isZero();
    }
  }
}
