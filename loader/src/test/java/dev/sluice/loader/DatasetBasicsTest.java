package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DatasetBasicsTest {

  private static Sluice sluice() {
    return Sluice.builder()
        .resources(Resources.cpus(4))
        .options(
            ExecutionOptions.defaults()
                .withMemoryBudget(64L << 20)
                .withTargetBlockRows(1000)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  static BatchFunction plusOne() {
    return (in, ctx) -> {
      int n = in.rowCount();
      try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), in.schema(), n)) {
        for (int i = 0; i < n; i++) {
          b.setLong(RangeSource.COLUMN, i, in.getLong(RangeSource.COLUMN, i) + 1);
        }
        return b.build(n);
      }
    };
  }

  @Test
  void countsEveryRowOnce() {
    try (Sluice s = sluice()) {
      assertThat(s.range(100_000, 7).mapBatches(plusOne()).count()).isEqualTo(100_000);
    }
  }

  @Test
  void everyRowExactlyOnceUnordered() {
    try (Sluice s = sluice()) {
      Dataset ds =
          s.range(50_000, 9)
              .mapBatches(plusOne())
              .mapBatches(plusOne(), MapOptions.DEFAULT.withCpus(0.5));
      List<Long> ids = collect(ds, IterOptions.blocks());
      assertThat(ids).hasSize(50_000);
      assertThat(ids.stream().sorted().toList()).isEqualTo(range(2, 50_002));
    }
  }

  @Test
  void inOrderWhenOrderIsAsked() {
    try (Sluice s = sluice()) {
      Dataset ds =
          s.range(30_000, 11)
              .mapBatches(plusOne())
              .mapBatches(plusOne(), MapOptions.DEFAULT.withBatchSize(777).withCpus(0.5))
              .withOptions(s.defaultOptions().withPreserveOrder(true));
      assertThat(collect(ds, IterOptions.batches(1000))).isEqualTo(range(2, 30_002));
    }
  }

  @Test
  void rebatchesToExactSizes() {
    try (Sluice s = sluice();
        BatchIterator it = s.range(10_005, 3).iterBatches(IterOptions.batches(100))) {
      List<Integer> sizes = new ArrayList<>();
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          sizes.add(b.rowCount());
        }
      }
      assertThat(sizes).hasSize(101);
      assertThat(sizes.subList(0, 100)).allMatch(n -> n == 100);
      assertThat(sizes.get(100)).isEqualTo(5);
    }
  }

  @Test
  void unorderedRebatchingSlicesBlocksAndCopiesOnlyTheirTails() {
    // Blocks of 37 rows (and 28 at each split's end) cut into batches of 32: in order, almost every
    // batch spans two blocks (a copy); without order, a block gives one slice of its memory and its
    // tail waits for other tails.
    try (Sluice s =
        Sluice.builder()
            .resources(Resources.cpus(2))
            .options(
                ExecutionOptions.defaults()
                    .withMemoryBudget(64L << 20)
                    .withTargetBlockRows(37)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build()) {
      long[] copied = new long[2];
      for (boolean ordered : new boolean[] {true, false}) {
        Dataset ds = s.range(1_000, 4).withOptions(s.defaultOptions().withPreserveOrder(ordered));
        List<Long> ids = new ArrayList<>();
        List<Integer> sizes = new ArrayList<>();
        try (BatchIterator it = ds.iterBatches(IterOptions.batches(32))) {
          while (it.hasNext()) {
            try (Batch b = it.next()) {
              sizes.add(b.rowCount());
              for (int r = 0; r < b.rowCount(); r++) {
                ids.add(b.getLong(RangeSource.COLUMN, r));
              }
            }
          }
          copied[ordered ? 0 : 1] = it.batchesCopied();
        }
        assertThat(sizes).hasSize(32);
        assertThat(sizes.subList(0, 31)).allMatch(n -> n == 32);
        assertThat(ids.stream().sorted().toList()).isEqualTo(range(0, 1_000));
        if (ordered) {
          assertThat(ids).isEqualTo(range(0, 1_000));
        }
        assertThat(s.allocator().getAllocatedMemory()).isZero();
      }
      assertThat(copied[0]).as("copies in order").isGreaterThanOrEqualTo(20);
      // 28 blocks: 24 slices of a 37-row block, their tails (24 x 5) and the four 28-row blocks
      // (232 rows) in 8 joined batches
      assertThat(copied[1]).as("copies without order").isLessThanOrEqualTo(8);
    }
  }

  @Test
  void closingTheContextClosesWhatWasRegisteredFirstInReverseOrder() {
    List<String> closed = new ArrayList<>();
    Sluice s = sluice();
    s.closeBeforeContext(() -> closed.add("first"));
    Runnable unregister = s.closeBeforeContext(() -> closed.add("unregistered"));
    s.closeBeforeContext(
        () -> {
          closed.add("failing");
          throw new java.io.IOException("cannot close");
        });
    s.closeBeforeContext(() -> closed.add("last"));
    unregister.run();
    org.assertj.core.api.Assertions.assertThatThrownBy(s::close)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cannot close");
    assertThat(closed).containsExactly("last", "failing", "first");
    s.close(); // idempotent: nothing runs twice
    assertThat(closed).hasSize(3);
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> s.closeBeforeContext(() -> {}))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void limitStopsEarly() {
    try (Sluice s = sluice()) {
      Dataset ds =
          s.range(1_000_000, 50)
              .limit(2_500)
              .withOptions(s.defaultOptions().withPreserveOrder(true));
      assertThat(collect(ds, IterOptions.blocks())).isEqualTo(range(0, 2_500));
      assertThat(ds.stats().operators().get(0).rowsOut()).isLessThan(1_000_000);
    }
  }

  @Test
  void filterKeepsMatchingRows() {
    try (Sluice s = sluice()) {
      assertThat(s.range(10_000, 4).filter((b, r) -> b.getLong("id", r) % 3 == 0).count())
          .isEqualTo(3334);
    }
  }

  @Test
  void localShuffleIsDeterministicForASeed() {
    try (Sluice s = sluice()) {
      Dataset ds = s.range(5_000, 1).withOptions(s.defaultOptions().withPreserveOrder(true));
      IterOptions opts = IterOptions.batches(64).withLocalShuffle(1000, 42);
      List<Long> a = collect(ds, opts);
      List<Long> b = collect(ds, opts);
      List<Long> c = collect(ds, IterOptions.batches(64).withLocalShuffle(1000, 43));
      assertThat(a).isEqualTo(b).isNotEqualTo(c).isNotEqualTo(range(0, 5_000));
      assertThat(a.stream().sorted().toList()).isEqualTo(range(0, 5_000));
    }
  }

  @Test
  void materializeHoldsRowsAndReadsTwice() {
    try (Sluice s = sluice();
        MaterializedDataset m = s.range(3_000, 3).mapBatches(plusOne()).materialize()) {
      assertThat(m.rowCount()).isEqualTo(3_000);
      assertThat(m.dataset().count()).isEqualTo(3_000);
      assertThat(m.dataset().count()).isEqualTo(3_000);
    }
  }

  static List<Long> collect(Dataset ds, IterOptions opts) {
    List<Long> out = new ArrayList<>();
    try (BatchIterator it = ds.iterBatches(opts)) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          for (int i = 0; i < b.rowCount(); i++) {
            out.add(b.getLong(RangeSource.COLUMN, i));
          }
        }
      }
    }
    return out;
  }

  static List<Long> range(long from, long to) {
    List<Long> out = new ArrayList<>();
    for (long i = from; i < to; i++) {
      out.add(i);
    }
    return out;
  }

  @Test
  void aReadAsksForItsResourcesAndFusesMapsThatAskTheSame() {
    java.util.concurrent.atomic.AtomicInteger running =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger most =
        new java.util.concurrent.atomic.AtomicInteger();
    BatchFunction plusOne = plusOne();
    BatchFunction counted =
        (in, ctx) -> {
          most.accumulateAndGet(running.incrementAndGet(), Math::max);
          try {
            return plusOne.apply(in, ctx);
          } finally {
            running.decrementAndGet();
          }
        };
    try (Sluice s = sluice()) {
      MapOptions fourCpus = MapOptions.DEFAULT.withCpus(4);
      Dataset ds =
          s.read(new RangeSource(40_000, 8), fourCpus)
              .mapBatches(counted, fourCpus.withName("Counted"));
      assertThat(ds.explain()).isEqualTo("Input -> TaskPoolMap[ReadRange->Counted] -> Output");
      assertThat(ds.count()).isEqualTo(40_000);
      // Four CPUs per task on a runtime of four: one read task at a time.
      assertThat(most.get()).isEqualTo(1);
      assertThat(
              s.read(new RangeSource(10, 1), fourCpus)
                  .mapBatches(plusOne(), MapOptions.DEFAULT.withName("PlusOne"))
                  .explain())
          .isEqualTo("Input -> TaskPoolMap[ReadRange] -> TaskPoolMap[PlusOne] -> Output");
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> s.read(new RangeSource(10, 1), MapOptions.DEFAULT.withCpus(8)).count())
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("ReadRange asks for 8.0 CPU");
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> s.read(new RangeSource(10, 1), MapOptions.DEFAULT.withBatchSize(4)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("a read takes CPUs, GPUs and a concurrency cap only");
    }
  }
}
