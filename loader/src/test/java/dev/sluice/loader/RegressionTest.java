package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.runtime.Resources;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Bugs found by the benchmarks, kept fixed. */
class RegressionTest {

  private static Sluice sluice(double cpus) {
    return Sluice.builder()
        .resources(Resources.cpus(cpus))
        .options(
            ExecutionOptions.defaults()
                .withMemoryBudget(64L << 20)
                .withTargetBlockRows(100)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  /** A stateful function that burns about 2 ms of CPU per batch. */
  public static final class Busy implements BatchFunction {
    @Override
    public Batch apply(Batch input, BatchContext context) {
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2);
      long x = 0;
      while (System.nanoTime() < end) {
        x += input.rowCount();
      }
      return x >= 0 ? input : null;
    }
  }

  @Test
  @Timeout(60)
  void aGrowingActorPoolLeavesACpuForItsUpstream() {
    try (Sluice s = sluice(2)) {
      Dataset ds =
          s.range(20_000, 20)
              .mapBatches((in, ctx) -> in, MapOptions.DEFAULT.withName("Pass"))
              .mapBatches(
                  Busy.class,
                  ActorPool.of(1, 2).withIdleTimeout(Duration.ofSeconds(10)),
                  MapOptions.DEFAULT);
      assertThat(ds.count()).isEqualTo(20_000);
    }
  }

  @Test
  void hasColumnIsFalseForAMissingColumn() {
    try (Sluice s = sluice(2);
        BatchIterator it = s.range(10, 1).iterBatches();
        Batch b = it.next()) {
      assertThat(b.hasColumn("id")).isTrue();
      assertThat(b.hasColumn("nope")).isFalse();
      assertThat(b.describeRow(3)).isEqualTo("row 3");
    }
  }

  @Test
  void errorMessagesAreNotDecoratedTwice() {
    try (Sluice s = sluice(2)) {
      Dataset ds =
          s.range(100, 1)
              .mapBatches(
                  (in, ctx) -> {
                    throw new IllegalStateException("boom");
                  },
                  MapOptions.DEFAULT.withName("Explode"));
      assertThatThrownBy(ds::count)
          .isInstanceOf(SluiceException.class)
          .satisfies(e -> assertThat(e.getMessage().split("Explode\\]", -1)).hasSize(2));
    }
  }

  @Test
  void consumerWaitIsAtMostTheWallTimeWithPrefetch() {
    try (Sluice s = sluice(2);
        BatchIterator it =
            s.range(50_000, 5).iterBatches(IterOptions.batches(64).withPrefetchBatches(2))) {
      while (it.hasNext()) {
        it.next().close();
      }
      DatasetStats st = it.stats();
      assertThat(st.consumerWaitNanos()).isLessThanOrEqualTo(st.wallNanos());
    }
  }
}
