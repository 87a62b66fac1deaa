package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.runtime.Resources;
import java.util.BitSet;

/** The memory budget holds however much the data expands, and the allocator's peak proves it. */
class MemoryBudgetTest {

  @org.junit.jupiter.api.RepeatedTest(3)
  void tenfoldExpansionOverTwentyBudgetsStaysWithinTheBudget() {
    long budget = 32L << 20;
    int payload = 4096;
    int ratio = 10;
    long rows = 20_000; // decoded: 20,000 x 40 KiB = 781 MiB = 24 budgets
    ExecutionOptions opts =
        ExecutionOptions.defaults()
            .withMemoryBudget(budget)
            .withTargetBlockRows(64)
            .withTargetBlockBytes(256 << 10)
            .withProgress(ExecutionOptions.Progress.OFF);
    try (Sluice s = Sluice.builder().resources(Resources.cpus(2)).options(opts).build()) {
      Dataset ds =
          s.read(new BlobSource(rows, 16, payload, null))
              .mapBatches(
                  BlobSource.expand(payload, ratio),
                  MapOptions.DEFAULT.withName("Decode").withCpus(0.5))
              .mapBatches((in, ctx) -> in, MapOptions.DEFAULT.withName("Model").withCpus(0.25));
      BitSet seen = new BitSet();
      long decodedBytes = 0;
      try (BatchIterator it = ds.iterBatches()) {
        while (it.hasNext()) {
          try (Batch b = it.next()) {
            decodedBytes += (long) b.rowCount() * payload * ratio;
            for (int i = 0; i < b.rowCount(); i++) {
              int id = b.getInt("id", i);
              assertThat(seen.get(id)).as("row %d twice", id).isFalse();
              seen.set(id);
            }
          }
        }
        DatasetStats stats = it.stats();
        assertThat(seen.cardinality()).isEqualTo(rows);
        assertThat(decodedBytes).isGreaterThanOrEqualTo(20 * budget);
        assertThat(stats.peakMemory())
            .as(stats.format())
            .isLessThanOrEqualTo(budget)
            .isGreaterThan(budget / 8);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }
}
