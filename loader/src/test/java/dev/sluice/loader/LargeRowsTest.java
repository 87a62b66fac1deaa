package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.runtime.Resources;
import java.util.BitSet;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The memory bound holds for rows that are large against the budget, the consumer's re-batching
 * included: the table of issue 15 (a function expanding each id of {@code range(n, 8)} into a row
 * of several MiB, under a 64 MiB budget, read as batches of 4).
 */
class LargeRowsTest {
  private static final long BUDGET = 64L << 20;

  /** Each input row (an id) becomes a row of {@code rowBytes} bytes, every byte written. */
  static BatchFunction expand(long rowBytes) {
    return (in, ctx) -> {
      int n = in.rowCount();
      Schema schema =
          new Schema(
              List.of(
                  Columns.int64("id"),
                  Columns.tensor("pixels", ElementType.UINT8, (int) rowBytes)));
      try (BatchBuilder b =
          BatchBuilder.createUninitialized(ctx.allocator(), schema, n, 0, in.sources())) {
        ArrowBuf data = b.tensorData("pixels");
        for (int i = 0; i < n; i++) {
          long id = in.getLong("id", i);
          b.setLong("id", i, id);
          data.setByte(i * rowBytes, (byte) id);
          data.setZero(i * rowBytes + 1, rowBytes - 1);
        }
        return b.build(n);
      }
    };
  }

  private static Sluice sluice(long budget) {
    ExecutionOptions opts =
        ExecutionOptions.defaults()
            .withMemoryBudget(budget)
            .withProgress(ExecutionOptions.Progress.OFF);
    return Sluice.builder().resources(Resources.cpus(2)).options(opts).build();
  }

  private static MapOptions mapOptions(int batchSize) {
    MapOptions o = MapOptions.DEFAULT.withName("Expand");
    return batchSize > 0 ? o.withBatchSize(batchSize) : o;
  }

  /** Reads every batch, checking each id comes once and its row holds it; returns the stats. */
  private static DatasetStats readAll(Dataset ds, IterOptions iter, int rows, long rowBytes) {
    BitSet seen = new BitSet();
    try (BatchIterator it = ds.iterBatches(iter)) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          if (iter.batchSize() > 0) {
            assertThat(b.rowCount()).isLessThanOrEqualTo(iter.batchSize());
          }
          for (int i = 0; i < b.rowCount(); i++) {
            int id = (int) b.getLong("id", i);
            assertThat(seen.get(id)).as("row %d twice", id).isFalse();
            seen.set(id);
            assertThat(b.tensorData("pixels").getByte(i * rowBytes)).isEqualTo((byte) id);
          }
        }
      }
      assertThat(seen.cardinality()).isEqualTo(rows);
      return it.stats();
    }
  }

  @ParameterizedTest(name = "{0} rows of {1} MiB, map batchSize {2}")
  @CsvSource({"2000, 2, 4", "1000, 4, 1", "500, 8, 1", "2000, 2, 0"})
  void theIssuesTableCompletesWithinTheBudget(int rows, int mib, int batchSize) {
    long rowBytes = (long) mib << 20;
    try (Sluice s = sluice(BUDGET)) {
      Dataset ds = s.range(rows, 8).mapBatches(expand(rowBytes), mapOptions(batchSize));
      DatasetStats stats = readAll(ds, IterOptions.batches(4), rows, rowBytes);
      // The execution allocator is the parent of every operator's and the consumer's allocators.
      assertThat(stats.peakMemory()).as(stats.format()).isLessThanOrEqualTo(BUDGET);
      OperatorStats expand = stats.operators().get(stats.operators().size() - 1);
      assertThat(expand.bytesOutPerRowIn())
          .as(stats.format())
          .isBetween((double) rowBytes, rowBytes + 64.0);
      assertThat(stats.format()).contains("out per row in").contains("consumer's copies");
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  /**
   * Reads 12 rows of {@code rowBytes} as batches of {@code batch} under {@code budget}: all rows,
   * within it.
   */
  private static void completesWithin(long budget, long rowBytes, int batch) {
    try (Sluice s = sluice(budget)) {
      Dataset ds = s.range(12, 8).mapBatches(expand(rowBytes), mapOptions(1));
      DatasetStats stats = readAll(ds, IterOptions.batches(batch), 12, rowBytes);
      assertThat(stats.peakMemory()).as(stats.format()).isLessThanOrEqualTo(budget);
    }
  }

  @Test
  void rowsOfAlmostTheBudgetRunOneTaskAtATime() {
    completesWithin(BUDGET, 40L << 20, 1);
  }

  @Test
  void aConsumerBatchLargerThanTheHardLimitFailsSayingWhatToChangeAndTheAdviceHolds() {
    long rowBytes = 40L << 20;
    String advice;
    try (Sluice s = sluice(BUDGET)) {
      Dataset ds = s.range(12, 8).mapBatches(expand(rowBytes), mapOptions(1));
      SluiceException e =
          (SluiceException)
              org.assertj.core.api.Assertions.catchThrowable(
                  () -> readAll(ds, IterOptions.batches(4), 12, rowBytes));
      assertThat(e).isNotNull();
      assertThat(e.getMessage())
          .contains("consumer's batch of 4 rows")
          .contains("40.0 MiB per row")
          .contains("memory budget of 64.0 MiB")
          .contains("hard limit of 128.0 MiB")
          .contains("at most 1 row for this budget")
          .contains("raise the memory budget to at least ");
      advice =
          e.getMessage()
              .replaceAll("(?s).*raise the memory budget to at least ([0-9.]+) MiB.*", "$1");
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
    // The budget it names is enough for batches of 4 such rows, within that budget.
    long advised = (long) (Double.parseDouble(advice) * (1 << 20));
    assertThat(advised).isBetween(6 * rowBytes, 7 * rowBytes);
    completesWithin(advised, rowBytes, 4);
  }

  @Test
  void aRowLargerThanTheHardLimitFailsNamingTheOperatorTheInputAndTheLimits() {
    long rowBytes = 160L << 20;
    try (Sluice s = sluice(BUDGET)) {
      Dataset ds = s.range(4, 1).mapBatches(expand(rowBytes), mapOptions(2));
      assertThatThrownBy(() -> readAll(ds, IterOptions.batches(1), 4, rowBytes))
          .isInstanceOfSatisfying(
              SluiceException.class,
              e -> {
                assertThat(e.operator()).isEqualTo("Expand");
                assertThat(e.getMessage())
                    .contains("asked for 320.0 MiB")
                    .contains("memory budget of 64.0 MiB")
                    .contains("hard limit of 128.0 MiB")
                    .contains("Raise the memory budget to at least 640.0 MiB")
                    .contains("lower the operator's batchSize (MapOptions.withBatchSize) from 2")
                    .doesNotStartWith("org.apache.arrow");
              });
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aLimitOrAFailureWhileABlockIsCutLeavesNoMemoryBehind() {
    long rowBytes = 2L << 20;
    try (Sluice s = sluice(BUDGET)) {
      // Fused: the read's blocks of 250 ids are cut into tasks of 5 rows; the limit stops it
      // mid-block.
      Dataset limited = s.range(2000, 8).mapBatches(expand(rowBytes)).limit(13);
      DatasetStats stats = readAll(limited, IterOptions.batches(4), 13, rowBytes);
      assertThat(stats.peakMemory()).as(stats.format()).isLessThanOrEqualTo(BUDGET);
      java.util.concurrent.atomic.AtomicInteger calls =
          new java.util.concurrent.atomic.AtomicInteger();
      BatchFunction expand = expand(rowBytes);
      Dataset failing =
          s.range(2000, 8)
              .mapBatches(
                  (in, ctx) -> {
                    if (calls.incrementAndGet() == 7) {
                      throw new IllegalStateException("the seventh call fails");
                    }
                    return expand.apply(in, ctx);
                  });
      assertThatThrownBy(() -> readAll(failing, IterOptions.batches(4), 2000, rowBytes))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("the seventh call fails");
    }
    // Sluice.close() above fails on memory still held (a cut block's rest in its split's
    // allocator).
  }

  /** Fused into the read (the read's CPU) or a map operator of its own (another CPU request). */
  @ParameterizedTest(name = "cpus {0}")
  @org.junit.jupiter.params.provider.ValueSource(doubles = {1.0, 0.5})
  void aThousandfoldExpansionWithDefaultOptionsStaysWithinTheBudget(double cpus) {
    long budget = 16L << 20;
    long rowBytes = 8 * 1000; // an 8-byte id becomes 8,000 bytes
    int rows = 110_000; // 880 MB decoded: 52 budgets
    try (Sluice s = sluice(budget)) {
      Dataset ds =
          s.range(rows, 8)
              .mapBatches(expand(rowBytes), MapOptions.DEFAULT.withName("Expand").withCpus(cpus));
      DatasetStats stats = readAll(ds, IterOptions.batches(256), rows, rowBytes);
      assertThat(stats.operators()).hasSize(cpus == 1.0 ? 1 : 2);
      assertThat((double) rows * rowBytes).isGreaterThanOrEqualTo(50.0 * budget);
      assertThat(stats.peakMemory()).as(stats.format()).isLessThanOrEqualTo(budget);
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }
}
