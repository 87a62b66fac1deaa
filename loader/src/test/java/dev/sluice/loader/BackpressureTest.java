package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sluice.loader.runtime.Resources;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Backpressure: a slow stage or a slow consumer holds the chain back, within the budget, without
 * deadlock.
 */
class BackpressureTest {
  private static final int PAYLOAD = 8192;

  private static Sluice sluice(long budget) {
    return Sluice.builder()
        .resources(Resources.cpus(4))
        .options(
            ExecutionOptions.defaults()
                .withMemoryBudget(budget)
                .withTargetBlockRows(32)
                .withTargetBlockBytes(256 << 10)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  private static long inFlight(DatasetStats s) {
    return s.operators().stream().mapToLong(OperatorStats::tasksInFlight).sum();
  }

  @Test
  void slowConsumerHoldsTheWholeChainBackWithinTheBudget() {
    long budget = 16L << 20;
    long rows = 8_000; // 8,000 x 32 KiB decoded = 250 MiB
    try (Sluice s = sluice(budget)) {
      Dataset ds =
          s.read(new BlobSource(rows, 8, PAYLOAD, null))
              .mapBatches(
                  BlobSource.expand(PAYLOAD, 4),
                  MapOptions.DEFAULT.withName("Decode").withCpus(0.5));
      long consumed = 0;
      try (BatchIterator it = ds.iterBatches()) {
        for (int i = 0; i < 5; i++) {
          assertThat(it.hasNext()).isTrue();
          try (Batch b = it.next()) {
            consumed += b.rowCount();
            // The consumer stalls: the pipeline must come to rest, holding a bounded amount.
            await().atMost(Duration.ofSeconds(10)).until(() -> inFlight(it.stats()) == 0);
            DatasetStats st = it.stats();
            long read = st.operators().get(0).rowsOut();
            long decodedAhead = st.operators().get(1).rowsOut() - consumed;
            assertThat(decodedAhead * PAYLOAD * 4).as(st.format()).isLessThanOrEqualTo(budget);
            assertThat(read).isLessThan(rows / 2);
            assertThat(
                    st.operators().get(0).backpressureNanos()
                        + st.operators().get(1).backpressureNanos())
                .isPositive();
          }
        }
        while (it.hasNext()) {
          try (Batch b = it.next()) {
            consumed += b.rowCount();
          }
        }
        assertThat(consumed).isEqualTo(rows);
        assertThat(it.peakMemory()).isLessThanOrEqualTo(budget);
      }
    }
  }

  @Test
  void fastUpstreamDoesNotStarveSlowDownstream() {
    long budget = 16L << 20;
    long rows = 4_000;
    Semaphore slow = new Semaphore(0);
    AtomicLong slowRows = new AtomicLong();
    BatchFunction gated =
        (in, ctx) -> {
          slow.acquire();
          slowRows.addAndGet(in.rowCount());
          return in;
        };
    try (Sluice s = sluice(budget)) {
      Dataset ds =
          s.read(new BlobSource(rows, 8, PAYLOAD, null))
              .mapBatches(
                  BlobSource.expand(PAYLOAD, 4),
                  MapOptions.DEFAULT.withName("FastDecode").withCpus(0.5))
              .mapBatches(
                  gated,
                  MapOptions.DEFAULT.withName("SlowModel").withCpus(0.25).withConcurrency(1));
      AtomicLong consumed = new AtomicLong();
      try (BatchIterator it = ds.iterBatches()) {
        java.util.concurrent.CompletableFuture<Void> consumer =
            java.util.concurrent.CompletableFuture.runAsync(
                () -> {
                  while (it.hasNext()) {
                    try (Batch b = it.next()) {
                      consumed.addAndGet(b.rowCount());
                    }
                  }
                });
        // The fast stages run ahead until they are held back, while the slow stage waits for
        // permits.
        await()
            .atMost(Duration.ofSeconds(10))
            .untilAsserted(
                () -> {
                  DatasetStats st = it.stats();
                  assertThat(
                          st.operators().get(0).tasksInFlight()
                              + st.operators().get(1).tasksInFlight())
                      .as(st.format())
                      .isZero();
                  assertThat(
                          st.operators().get(0).backpressureNanos()
                              + st.operators().get(1).backpressureNanos())
                      .as(st.format())
                      .isPositive();
                });
        DatasetStats held = it.stats();
        assertThat(held.operators().get(1).rowsOut()).as(held.format()).isLessThan(rows);
        // The slow stage still gets memory to run: each permit yields progress.
        for (int step = 0; step < 5; step++) {
          long before = slowRows.get();
          slow.release();
          await()
              .atMost(Duration.ofSeconds(10))
              .untilAsserted(
                  () -> assertThat(slowRows.get()).as(it.stats().format()).isGreaterThan(before));
        }
        slow.release(Integer.MAX_VALUE / 2);
        consumer.get(60, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(consumed.get()).isEqualTo(rows);
        assertThat(it.peakMemory()).isLessThanOrEqualTo(budget);
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }
  }
}
