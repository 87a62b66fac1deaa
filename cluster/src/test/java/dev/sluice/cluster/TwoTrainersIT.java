package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.cluster.exec.SluiceWorker;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.SplitOptions;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.sharding.RemainderPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.ArrowBuf;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * One execution split between two trainers ({@code Dataset.streamingShare}), run by two workers:
 * four members in this JVM on their own loopback addresses. The first trainer is the coordinator
 * and hosts the split; the second attaches to it and takes its blocks from the workers.
 */
@Timeout(120)
class TwoTrainersIT {
  private static final long MIB = 1L << 20;
  private static final long BUDGET = 16 * MIB;
  private static final int ROW_BYTES = 16 << 10;
  private static final long ROWS = 8_000; // decoded: 8,000 x 16 KiB = 125 MiB = 8 budgets

  private final TestMembers members = new TestMembers();
  private final List<AutoCloseable> started = new ArrayList<>();
  private final ExecutorService threads =
      Executors.newFixedThreadPool(
          2,
          r -> {
            Thread t = new Thread(r, "two-trainers-it-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
          });
  private static final AtomicInteger THREADS = new AtomicInteger();
  private SluiceWorker w2;
  private SluiceWorker w3;
  private final List<Sluice> trainers = new ArrayList<>();

  @BeforeEach
  void startCluster() throws Exception {
    w2 = worker(members.worker("127.0.0.2", "h2", Resources.cpus(2), BUDGET));
    String join = w2.member().self().address();
    w3 = worker(members.worker("127.0.0.3", "h3", Resources.cpus(2), BUDGET, join));
    for (String bind : List.of("127.0.0.4", "127.0.0.5")) {
      ClusterTrainer t = ClusterTrainer.start(members.trainer(bind, join).build());
      started.add(t);
      t.awaitWorkers(2, Duration.ofSeconds(30));
      Sluice s =
          Sluice.builder()
              .runtime(t.runtime())
              .options(
                  ExecutionOptions.defaults()
                      .withMemoryBudget(BUDGET)
                      .withTargetBlockRows(64)
                      .withProgress(ExecutionOptions.Progress.OFF))
              .build();
      trainers.add(s);
    }
  }

  private SluiceWorker worker(ClusterConfig.Builder config) {
    SluiceWorker w = SluiceWorker.start(config.build(), getClass().getClassLoader());
    started.add(w);
    return w;
  }

  @AfterEach
  void stopCluster() throws Exception {
    threads.shutdownNow();
    assertThat(threads.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    for (Sluice s : trainers) {
      s.close();
    }
    members.close();
    for (int i = started.size() - 1; i >= 0; i--) {
      started.get(i).close(); // the trainers leave first, youngest first
    }
  }

  private Dataset dataset(Sluice sluice) {
    return dataset(sluice, ROWS);
  }

  private Dataset dataset(Sluice sluice, long rows) {
    return sluice.pipeline(
        TestPipelines.Expanding.class,
        Map.of("rows", String.valueOf(rows), "splits", "8", "bytes", String.valueOf(ROW_BYTES)));
  }

  /** What one trainer saw of its share. */
  private record Share(BitSet ids, long rows, long repeats, DatasetStats stats, long peak) {}

  private Share read(BatchIterator it, CountDownLatch afterFirst, CountDownLatch goOn)
      throws InterruptedException {
    return read(it, afterFirst, goOn, false);
  }

  private Share read(
      BatchIterator it, CountDownLatch afterFirst, CountDownLatch goOn, boolean padded)
      throws InterruptedException {
    BitSet seen = new BitSet();
    long rows = 0;
    long repeats = 0;
    try (it) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          ArrowBuf payload = b.tensorData("payload");
          for (int i = 0; i < b.rowCount(); i++) {
            long id = b.getLong("id", i);
            if (seen.get((int) id)) {
              assertThat(padded).as("row %d twice", id).isTrue();
              repeats++;
            }
            seen.set((int) id);
            assertThat(payload.getByte((long) i * ROW_BYTES + ROW_BYTES - 1))
                .isEqualTo(TestPipelines.payloadByte(id, ROW_BYTES - 1));
          }
          rows += b.rowCount();
        }
        if (afterFirst != null && afterFirst.getCount() > 0) {
          afterFirst.countDown();
          assertThat(goOn.await(60, TimeUnit.SECONDS)).isTrue();
        }
      }
      return new Share(seen, rows, repeats, it.stats(), it.stats().peakMemory());
    }
  }

  @Test
  void equalSharesCoverEveryRowOnceAndEveryMemberStaysWithinItsBudget() throws Exception {
    SplitOptions split = SplitOptions.equal(RemainderPolicy.DROP).withBufferBlocks(2);
    List<Future<Share>> shares = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      Dataset ds = dataset(trainers.get(i));
      int index = i;
      shares.add(
          threads.submit(
              () -> read(ds.streamingShare(2, index, split, Duration.ofSeconds(30)), null, null)));
    }
    Share a = shares.get(0).get(90, TimeUnit.SECONDS);
    Share b = shares.get(1).get(90, TimeUnit.SECONDS);

    assertThat(a.rows()).isEqualTo(ROWS / 2);
    assertThat(b.rows()).isEqualTo(ROWS / 2);
    assertThat(a.ids().intersects(b.ids())).isFalse();
    BitSet all = (BitSet) a.ids().clone();
    all.or(b.ids());
    assertThat(all.cardinality()).isEqualTo(ROWS);
    // The coordinator's execution ran within its budget; the other trainer held a few blocks.
    assertThat(a.stats().peakMemory()).as(a.stats().format()).isLessThanOrEqualTo(BUDGET);
    assertThat(b.peak()).as(b.stats().format()).isPositive().isLessThanOrEqualTo(BUDGET);
    assertThat(b.stats().plan()).contains("Decode").contains("StreamingShare[2]#1");
    assertWorkersWithinBudgetAndClean();
  }

  @Test
  void paddedSharesAreEqualWithRowsCutAndRepeatedByTheCoordinator() throws Exception {
    long rows = ROWS - 1; // one row short of equal shares: one is repeated
    SplitOptions split = SplitOptions.equal(RemainderPolicy.PAD).withBufferBlocks(2);
    List<Future<Share>> shares = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      Dataset ds = dataset(trainers.get(i), rows);
      int index = i;
      shares.add(
          threads.submit(
              () ->
                  read(
                      ds.streamingShare(2, index, split, Duration.ofSeconds(30)),
                      null,
                      null,
                      true)));
    }
    Share a = shares.get(0).get(90, TimeUnit.SECONDS);
    Share b = shares.get(1).get(90, TimeUnit.SECONDS);

    assertThat(a.rows()).isEqualTo(ROWS / 2);
    assertThat(b.rows()).isEqualTo(ROWS / 2);
    BitSet all = (BitSet) a.ids().clone();
    all.or(b.ids());
    assertThat(all.cardinality()).isEqualTo(rows);
    // Exactly one row appears twice in all: within a share or across the two.
    BitSet both = (BitSet) a.ids().clone();
    both.and(b.ids());
    assertThat(a.repeats() + b.repeats() + both.cardinality()).isEqualTo(1);
    assertWorkersWithinBudgetAndClean();
  }

  @Test
  void aStalledTrainerHoldsBackOnlyItsOwnQueue() throws Exception {
    SplitOptions split = SplitOptions.unequal().withBufferBlocks(2);
    CountDownLatch stalled = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Dataset first = dataset(trainers.get(0));
    Dataset second = dataset(trainers.get(1));
    Future<Share> slow =
        threads.submit(
            () ->
                read(second.streamingShare(2, 1, split, Duration.ofSeconds(30)), stalled, release));
    Future<Share> fast =
        threads.submit(
            () -> read(first.streamingShare(2, 0, split, Duration.ofSeconds(30)), null, null));
    assertThat(stalled.await(60, TimeUnit.SECONDS)).isTrue();
    // The second trainer stopped reading after its first batch; the first ends its epoch anyway.
    Share a = fast.get(90, TimeUnit.SECONDS);
    release.countDown();
    Share b = slow.get(60, TimeUnit.SECONDS);

    assertThat(a.ids().intersects(b.ids())).isFalse();
    assertThat(a.rows() + b.rows()).isEqualTo(ROWS);
    // The stalled one got its first block, what its queue and its credit held, and nothing more.
    assertThat(b.rows()).isLessThanOrEqualTo(6 * 64L);
    assertWorkersWithinBudgetAndClean();
  }

  @Test
  void aTrainerThatNeverAttachesFailsTheSplitForTheOthersNamingIt() throws Exception {
    SplitOptions split = SplitOptions.equal(RemainderPolicy.DROP).withBufferBlocks(2);
    Dataset first = dataset(trainers.get(0));
    // Trainer 1 never asks for its share: trainer 0 (the host) must not wait for it without end.
    Future<Share> alone =
        threads.submit(
            () -> read(first.streamingShare(2, 0, split, Duration.ofSeconds(3)), null, null));
    assertThatThrownBy(() -> alone.get(60, TimeUnit.SECONDS))
        .hasCauseInstanceOf(SluiceException.class)
        .hasMessageContaining("consumer [1] of 2")
        .hasMessageContaining("did not attach within PT3S");
    // A latecomer gets the same error, and every member is clean afterwards.
    Dataset second = dataset(trainers.get(1));
    assertThatThrownBy(
            () -> {
              try (BatchIterator it = second.streamingShare(2, 1, split, Duration.ofSeconds(3))) {
                it.hasNext();
              }
            })
        .isInstanceOf(SluiceException.class);
    assertWorkersWithinBudgetAndClean();
  }

  private void assertWorkersWithinBudgetAndClean() {
    for (SluiceWorker w : List.of(w2, w3)) {
      System.out.printf(
          "peak on %s: %d bytes (budget %d)%n",
          w.service().node(), w.service().peakMemory(), BUDGET);
      assertThat(w.service().peakMemory())
          .as("peak on %s", w.service().node())
          .isPositive()
          .isLessThanOrEqualTo(BUDGET);
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                assertThat(w.service().openExecutions()).isZero();
                assertThat(w.service().allocatedMemory()).isZero();
              });
    }
    for (Sluice s : trainers) {
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(() -> assertThat(s.allocator().getAllocatedMemory()).isZero());
    }
  }
}
