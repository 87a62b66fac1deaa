package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Resources;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

/**
 * The window of batches a DL4J iterator shares with the trainer ({@code shareBatchMemory}: queued,
 * converting, and handed out for {@code reuseArrays} calls) is planned within the memory budget,
 * with rows large against it.
 */
class SharedBatchMemoryBudgetTest {
  private static final int FLOATS = 256 * 1024; // 1 MiB per row
  private static final Schema ROWS =
      new Schema(List.of(Columns.tensor("x", ElementType.FLOAT32, FLOATS), Columns.int64("y")));

  @Test
  void theSharedWindowOfLargeRowsStaysWithinTheBudget() {
    long budget = 64L << 20;
    int rows = 240;
    int keep = 6;
    ExecutionOptions opts =
        ExecutionOptions.defaults()
            .withMemoryBudget(budget)
            .withProgress(ExecutionOptions.Progress.OFF);
    try (Sluice s = Sluice.builder().resources(Resources.cpus(2)).options(opts).build()) {
      Dataset ds =
          s.range(rows, 4)
              .mapBatches(
                  (in, ctx) -> {
                    int n = in.rowCount();
                    try (BatchBuilder b =
                        BatchBuilder.createUninitialized(
                            ctx.allocator(), ROWS, n, 0, in.sources())) {
                      ArrowBuf x = b.tensorData("x");
                      for (int i = 0; i < n; i++) {
                        long id = in.getLong("id", i);
                        x.setZero((long) i * FLOATS * 4, (long) FLOATS * 4);
                        x.setFloat((long) i * FLOATS * 4, id);
                        b.setLong("y", i, id % 2);
                      }
                      return b.build(n);
                    }
                  },
                  MapOptions.DEFAULT.withName("Expand"));
      BitSet seen = new BitSet();
      ArrayDeque<DataSet> handedOut = new ArrayDeque<>();
      try (SluiceDataSetIterator it =
          SluiceDataSetIterator.builder(ds, FeatureColumn.of("x"), LabelColumn.oneHot("y", 2))
              .batchSize(4)
              .prefetch(3)
              .reuseArrays(keep)
              .shareBatchMemory(true)
              .shuffle(false)
              .build()) {
        while (it.hasNext()) {
          DataSet d = it.next();
          handedOut.add(d);
          if (handedOut.size() > keep) {
            handedOut.poll(); // valid for `keep` calls of next(): the trainer may hold that many
          }
          for (DataSet held : handedOut) { // every batch held is still intact
            for (int r = 0; r < held.numExamples(); r++) {
              int id = (int) held.getFeatures().getFloat(r, 0);
              assertThat(held.getLabels().getInt(r, 1)).isEqualTo(id % 2);
            }
          }
          for (int r = 0; r < d.numExamples(); r++) {
            int id = (int) d.getFeatures().getFloat(r, 0);
            assertThat(seen.get(id)).as("row %d twice", id).isFalse();
            seen.set(id);
          }
        }
        assertThat(it.stats().batchesShared()).isEqualTo(rows / 4);
      }
      assertThat(seen.cardinality()).isEqualTo(rows);
      DatasetStats stats = ds.stats();
      assertThat(stats.peakMemory()).as(stats.format()).isLessThanOrEqualTo(budget);
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }
}
