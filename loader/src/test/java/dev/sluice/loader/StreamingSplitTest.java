package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * streamingSplit: disjoint shares, equal when asked, and no consumer holds the others beyond its
 * buffer.
 */
class StreamingSplitTest {
  private static final int BLOCK = 100;

  private static Sluice sluice() {
    return Sluice.builder()
        .resources(Resources.cpus(4))
        .options(
            ExecutionOptions.defaults()
                .withMemoryBudget(64L << 20)
                .withTargetBlockRows(BLOCK)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  private ExecutorService threads;

  @BeforeEach
  void startThreads() {
    AtomicInteger n = new AtomicInteger();
    threads =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "streaming-split-consumer-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  @AfterEach
  void stopThreads() throws InterruptedException {
    threads.shutdownNow();
    assertThat(threads.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
  }

  /** Drains one share on a test thread once {@code start} opens. */
  private CompletableFuture<List<Long>> consume(
      BatchIterator it, AtomicLongArray rows, int index, CountDownLatch start) {
    return consume(it, rows, index, start, null);
  }

  /**
   * Drains one share on a test thread once {@code start} opens, taking a permit from {@code
   * perBlock} (when not null) before asking for each block: the test decides how many blocks the
   * consumer reads, and when.
   */
  private CompletableFuture<List<Long>> consume(
      BatchIterator it, AtomicLongArray rows, int index, CountDownLatch start, Semaphore perBlock) {
    return CompletableFuture.supplyAsync(
        () -> {
          List<Long> ids = new ArrayList<>();
          try (it) {
            start.await();
            while (true) {
              if (perBlock != null) {
                perBlock.acquire();
              }
              if (!it.hasNext()) {
                break;
              }
              try (Batch b = it.next()) {
                for (int r = 0; r < b.rowCount(); r++) {
                  ids.add(b.getLong(RangeSource.COLUMN, r));
                }
                rows.addAndGet(index, b.rowCount());
              }
            }
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
          return ids;
        },
        threads);
  }

  private static void assertDisjoint(List<List<Long>> shares, long total, boolean exact) {
    BitSet seen = new BitSet();
    long n = 0;
    for (List<Long> share : shares) {
      for (long id : share) {
        assertThat(seen.get((int) id)).as("row %d in two shares", id).isFalse();
        seen.set((int) id);
        n++;
      }
    }
    if (exact) {
      assertThat(n).isEqualTo(total);
    }
  }

  @Test
  void unequalSharesCoverTheDatasetAndAConsumerGetsWhatItReadPlusItsBufferNoMore()
      throws Exception {
    try (Sluice s = sluice()) {
      int buffer = 3;
      List<BatchIterator> its =
          s.range(40_000, 8).streamingSplit(4, false, buffer, IterOptions.blocks());
      AtomicLongArray rows = new AtomicLongArray(4);
      CountDownLatch go = new CountDownLatch(1);
      // Consumer 0 reads five blocks alone (the others' buffers fill meanwhile), then nothing until
      // the three others have read the rest of the dataset.
      Semaphore slowBlocks = new Semaphore(5);
      CompletableFuture<List<Long>> slow =
          consume(its.get(0), rows, 0, new CountDownLatch(0), slowBlocks);
      await().atMost(Duration.ofSeconds(10)).until(() -> rows.get(0) == 5 * BLOCK);
      List<CompletableFuture<List<Long>>> fast = new ArrayList<>();
      for (int i = 1; i < 4; i++) {
        fast.add(consume(its.get(i), rows, i, go));
      }
      go.countDown();
      List<List<Long>> shares = new ArrayList<>();
      for (CompletableFuture<List<Long>> f : fast) {
        shares.add(f.get(60, TimeUnit.SECONDS));
      }
      slowBlocks.release(1_000);
      List<Long> s0 = slow.get(60, TimeUnit.SECONDS);
      // A block goes to a consumer with room, the one with the fewest rows: consumer 0 had room
      // until its buffer was full (its five blocks soon were the fewest rows), and none after that.
      assertThat(s0).hasSize((5 + buffer) * BLOCK);
      assertThat(shares.stream().mapToInt(List::size).sum())
          .isEqualTo(40_000 - (5 + buffer) * BLOCK);
      shares.add(s0);
      assertDisjoint(shares, 40_000, true);
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aStalledConsumerDoesNotHoldUpTheOthersWhenSharesMayDiffer() throws Exception {
    try (Sluice s = sluice()) {
      List<BatchIterator> its = s.range(20_000, 4).streamingSplit(3, false);
      AtomicLongArray rows = new AtomicLongArray(3);
      CountDownLatch go = new CountDownLatch(1);
      CountDownLatch never = new CountDownLatch(1);
      CompletableFuture<List<Long>> stalled = consume(its.get(0), rows, 0, never);
      CompletableFuture<List<Long>> a = consume(its.get(1), rows, 1, go);
      CompletableFuture<List<Long>> b = consume(its.get(2), rows, 2, go);
      go.countDown();
      List<Long> sa = a.get(60, TimeUnit.SECONDS);
      List<Long> sb = b.get(60, TimeUnit.SECONDS);
      // The two live consumers finished while the stalled one held its buffer of two blocks: it had
      // room, so it got blocks (it had the fewest rows) until that buffer was full, and none after.
      assertThat(sa.size() + sb.size()).isEqualTo(20_000 - 2 * BLOCK);
      never.countDown();
      List<Long> s0 = stalled.get(60, TimeUnit.SECONDS);
      assertThat(s0).hasSize(2 * BLOCK);
      assertDisjoint(List.of(s0, sa, sb), 20_000, true);
    }
  }

  @Test
  void equalSharesAreExactlyEqualAndAFastConsumerRunsAheadOnlyByItsBuffer() throws Exception {
    try (Sluice s = sluice()) {
      long total = 30_050;
      List<BatchIterator> its = s.range(total, 6).streamingSplit(3, true);
      AtomicLongArray rows = new AtomicLongArray(3);
      CountDownLatch go = new CountDownLatch(1);
      CountDownLatch later = new CountDownLatch(1);
      CompletableFuture<List<Long>> slow = consume(its.get(0), rows, 0, later);
      CompletableFuture<List<Long>> a = consume(its.get(1), rows, 1, go);
      CompletableFuture<List<Long>> b = consume(its.get(2), rows, 2, go);
      go.countDown();
      // While consumer 0 reads nothing, the others get no further than its buffer (two blocks).
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> rows.get(1) == 2 * BLOCK && rows.get(2) == 2 * BLOCK);
      assertThat(a.isDone() || b.isDone()).isFalse();
      assertThat(rows.get(1)).isEqualTo(2 * BLOCK);
      later.countDown();
      List<Long> s0 = slow.get(60, TimeUnit.SECONDS);
      List<Long> sa = a.get(60, TimeUnit.SECONDS);
      List<Long> sb = b.get(60, TimeUnit.SECONDS);
      assertThat(s0.size()).isEqualTo(sa.size()).isEqualTo(sb.size());
      assertThat(3L * s0.size())
          .as("only the rows that do not divide are dropped")
          .isEqualTo(total - total % 3);
      assertDisjoint(List.of(s0, sa, sb), total, false);
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void anErrorReachesEveryConsumer() {
    try (Sluice s = sluice()) {
      List<BatchIterator> its =
          s.range(10_000, 4)
              .mapBatches(
                  (in, ctx) -> {
                    if (in.getLong("id", 0) >= 5_000) {
                      throw new IllegalStateException("bad block");
                    }
                    return in;
                  })
              .streamingSplit(2, false);
      for (BatchIterator it : its) {
        try (it) {
          org.assertj.core.api.Assertions.assertThatThrownBy(
                  () -> {
                    while (it.hasNext()) {
                      it.next().close();
                    }
                  })
              .isInstanceOf(SluiceException.class)
              .hasMessageContaining("bad block");
        }
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aShareAcrossProcessesNeedsARuntimeSharedByThem() {
    try (Sluice s = sluice()) {
      Dataset ds = s.range(1_000, 4);
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> ds.streamingShare(2, 0, SplitOptions.unequal(), Duration.ofSeconds(1)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("in one process, use streamingSplit");
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> ds.streamingShare(2, 2, SplitOptions.unequal(), Duration.ofSeconds(1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("index 2 is not among 2 consumers");
    }
  }
}
