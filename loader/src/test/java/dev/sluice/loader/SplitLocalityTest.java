package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import dev.sluice.sharding.RemainderPolicy;
import dev.sluice.sharding.SourceSplit;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * streamingSplit with locality hints: blocks carry their split's hosts, local consumers are
 * preferred, nobody stalls.
 */
class SplitLocalityTest {
  private static final int BLOCK = 100;
  private static final List<String> HOSTS = List.of("host-a", "host-b", "host-c");

  private ExecutorService threads;

  @BeforeEach
  void startThreads() {
    AtomicInteger n = new AtomicInteger();
    threads =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "split-locality-consumer-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  @AfterEach
  void stopThreads() throws InterruptedException {
    threads.shutdownNow();
    assertThat(threads.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
  }

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

  /** Drains one share once {@code start} opens; returns its ids. */
  private CompletableFuture<List<Long>> consume(BatchIterator it, CountDownLatch start) {
    return CompletableFuture.supplyAsync(
        () -> {
          List<Long> ids = new ArrayList<>();
          try {
            start.await();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
          try (it) {
            while (it.hasNext()) {
              try (Batch b = it.next()) {
                for (int r = 0; r < b.rowCount(); r++) {
                  ids.add(b.getLong(RangeSource.COLUMN, r));
                }
              }
            }
          }
          return ids;
        },
        threads);
  }

  private List<List<Long>> drainAll(List<BatchIterator> its) throws Exception {
    CountDownLatch go = new CountDownLatch(1);
    List<CompletableFuture<List<Long>>> fs = new ArrayList<>();
    for (BatchIterator it : its) {
      fs.add(consume(it, go));
    }
    go.countDown();
    List<List<Long>> out = new ArrayList<>();
    for (CompletableFuture<List<Long>> f : fs) {
      out.add(f.get(60, TimeUnit.SECONDS));
    }
    return out;
  }

  private static long distinctCount(List<List<Long>> shares) {
    BitSet seen = new BitSet();
    for (List<Long> s : shares) {
      s.forEach(id -> seen.set(Math.toIntExact(id)));
    }
    return seen.cardinality();
  }

  private static void assertDisjoint(List<List<Long>> shares) {
    BitSet seen = new BitSet();
    for (List<Long> share : shares) {
      for (long id : share) {
        assertThat(seen.get((int) id)).as("row %d delivered twice", id).isFalse();
        seen.set((int) id);
      }
    }
  }

  @Test
  void blocksCarryTheHostsOfTheirSplitThroughFusedAndUnfusedMaps() {
    HostedRangeSource source = new HostedRangeSource(5_000, 10, HOSTS);
    BatchFunction rebuild =
        (in, ctx) -> { // a fresh batch that knows nothing of hosts
          try (BatchBuilder out =
              BatchBuilder.create(ctx.allocator(), in.schema(), in.rowCount())) {
            for (int r = 0; r < in.rowCount(); r++) {
              out.setLong(RangeSource.COLUMN, r, in.getLong(RangeSource.COLUMN, r));
            }
            return out.build(in.rowCount());
          }
        };
    try (Sluice s = sluice()) {
      Dataset ds =
          s.read(source)
              .mapBatches(rebuild) // fused with the read
              .mapBatches(
                  rebuild,
                  MapOptions.DEFAULT
                      .withCpus(0.5)
                      .withBatchSize(70)) // a separate operator, re-batched
              .mapBatches(() -> rebuild, ActorPool.of(1, 2), MapOptions.DEFAULT.withName("Actor"));
      assertThat(ds.explain()).contains("->");
      long rows = 0;
      try (BatchIterator it = ds.iterBatches()) {
        while (it.hasNext()) {
          try (Batch b = it.next()) {
            List<String> expected = new ArrayList<>();
            for (int r = 0; r < b.rowCount(); r++) {
              String host = source.hostOf(b.getLong(RangeSource.COLUMN, r));
              if (!expected.contains(host)) {
                expected.add(host);
              }
            }
            assertThat(b.hosts()).containsExactlyInAnyOrderElementsOf(expected);
            rows += b.rowCount();
          }
        }
      }
      assertThat(rows).isEqualTo(5_000);
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  /** The ids of each host's rows, ascending. */
  private static Map<String, List<Long>> rowsByHost(HostedRangeSource source) {
    Map<String, List<Long>> out = new HashMap<>();
    for (SourceSplit split : source.planSplits()) {
      List<Long> ids = out.computeIfAbsent(split.hosts().get(0), h -> new ArrayList<>());
      LongStream.range(split.start(), split.end()).forEach(ids::add);
    }
    return out;
  }

  @Test
  void everyBlockGoesToItsHostsConsumerWhileThatConsumerHasRoom() throws Exception {
    HostedRangeSource source = new HostedRangeSource(60_000, 30, HOSTS);
    // A buffer of as many blocks as a host has rows: every consumer always has room for its host's
    // blocks, so the routing does not depend on how fast anyone reads. Consumer 0 does not even
    // start until the others have finished: its host's blocks wait for it (it has room) rather than
    // going to an idle consumer.
    int room = 20_000;
    try (Sluice s = sluice()) {
      List<BatchIterator> its =
          s.read(source).streamingSplit(3, false, HOSTS, room, IterOptions.blocks());
      CountDownLatch go = new CountDownLatch(1);
      CountDownLatch later = new CountDownLatch(1);
      CompletableFuture<List<Long>> last = consume(its.get(0), later);
      CompletableFuture<List<Long>> b = consume(its.get(1), go);
      CompletableFuture<List<Long>> c = consume(its.get(2), go);
      go.countDown();
      List<Long> sb = b.get(60, TimeUnit.SECONDS);
      List<Long> sc = c.get(60, TimeUnit.SECONDS);
      later.countDown();
      List<List<Long>> shares = List.of(last.get(60, TimeUnit.SECONDS), sb, sc);
      Map<String, List<Long>> byHost = rowsByHost(source);
      for (int i = 0; i < 3; i++) {
        List<Long> own = byHost.get(HOSTS.get(i));
        assertThat(own).hasSize(20_000);
        assertThat(shares.get(i).stream().sorted().toList())
            .as("consumer %d: exactly its host's rows", i)
            .isEqualTo(own);
        Locality loc = its.get(i).locality();
        assertThat(loc.localRows()).isEqualTo(20_000);
        assertThat(loc.remoteRows()).isZero();
        assertThat(loc.remoteBlocks()).isZero();
        assertThat(loc.localBlocks()).as("blocks of 100 rows").isEqualTo(200);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aStalledConsumerDoesNotHoldUpTheOthersDespiteItsHostsBlocks() throws Exception {
    HostedRangeSource source = new HostedRangeSource(30_000, 12, HOSTS);
    try (Sluice s = sluice()) {
      // In order, so that the first blocks are host-a's (split 0): consumer 0 gets its first two.
      Dataset ds = s.read(source).withOptions(s.defaultOptions().withPreserveOrder(true));
      List<BatchIterator> its = ds.streamingSplit(3, false, HOSTS);
      CountDownLatch go = new CountDownLatch(1);
      CountDownLatch later = new CountDownLatch(1);
      CompletableFuture<List<Long>> stalled = consume(its.get(0), later);
      CompletableFuture<List<Long>> a = consume(its.get(1), go);
      CompletableFuture<List<Long>> b = consume(its.get(2), go);
      go.countDown();
      List<Long> sa = a.get(60, TimeUnit.SECONDS);
      List<Long> sb = b.get(60, TimeUnit.SECONDS);
      // The live consumers took host-a's blocks too, all but the two in the stalled consumer's
      // buffer: a block whose host's consumer is full waits in the staging area (one per consumer)
      // only while that is not full.
      assertThat(sa.size() + sb.size()).isEqualTo(30_000 - 2 * BLOCK);
      long remote =
          sa.stream().filter(id -> !source.hostOf(id).equals(HOSTS.get(1))).count()
              + sb.stream().filter(id -> !source.hostOf(id).equals(HOSTS.get(2))).count();
      assertThat(its.get(1).locality().remoteRows() + its.get(2).locality().remoteRows())
          .isEqualTo(remote)
          .isGreaterThanOrEqualTo(10_000 - 2 * BLOCK);
      later.countDown();
      List<Long> s0 = stalled.get(60, TimeUnit.SECONDS);
      assertThat(s0)
          .as("the first two blocks of split 0, host-a's")
          .isEqualTo(LongStream.range(0, 2 * BLOCK).boxed().toList());
      assertThat(its.get(0).locality()).isEqualTo(new Locality(2, 0, 2 * BLOCK, 0));
      assertDisjoint(List.of(s0, sa, sb));
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void equalSharesMoveOnlyTheRowsThatEvenThemOut() throws Exception {
    // Ten splits over three hosts: host-a holds four (12_020 rows), host-b and host-c three each
    // (9_015). Equal shares of 30_050 rows among three: 10_016 each, 2 rows dropped.
    HostedRangeSource source = new HostedRangeSource(30_050, 10, HOSTS);
    Map<String, List<Long>> byHost = rowsByHost(source);
    assertThat(byHost.get("host-a")).hasSize(12_020);
    assertThat(byHost.get("host-b")).hasSize(9_015);
    assertThat(byHost.get("host-c")).hasSize(9_015);
    long each = 30_050 / 3;
    try (Sluice s = sluice()) {
      // Room for every block of a host (see
      // everyBlockGoesToItsHostsConsumerWhileThatConsumerHasRoom):
      // each consumer is given exactly its host's rows; at the end, host-a's surplus is moved.
      List<BatchIterator> its =
          s.read(source).streamingSplit(3, true, HOSTS, 20_000, IterOptions.blocks());
      List<List<Long>> shares = drainAll(its);
      assertDisjoint(shares);
      assertThat(shares).allSatisfy(share -> assertThat(share).hasSize((int) each));
      for (int i = 0; i < 3; i++) {
        String host = HOSTS.get(i);
        long local = Math.min(byHost.get(host).size(), each);
        Locality loc = its.get(i).locality();
        assertThat(loc.localRows()).as("consumer %d: %s", i, loc).isEqualTo(local);
        assertThat(loc.remoteRows()).as("consumer %d: %s", i, loc).isEqualTo(each - local);
        assertThat(shares.get(i).stream().filter(id -> !source.hostOf(id).equals(host)).count())
            .isEqualTo(each - local);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void padGivesEveryConsumerCeilRowsByRepeatingTheFirstRows() throws Exception {
    try (Sluice s = sluice()) {
      long total =
          10_001; // 10_001 = 4 * 2_500 + 1: three rows are missing for four equal shares of 2_501
      Dataset ds = s.range(total, 7).withOptions(s.defaultOptions().withPreserveOrder(true));
      List<List<Long>> shares =
          drainAll(ds.streamingSplit(4, SplitOptions.equal(RemainderPolicy.PAD)));
      assertThat(shares).allSatisfy(share -> assertThat(share).hasSize(2_501));
      assertThat(distinctCount(shares)).as("every row delivered").isEqualTo(total);
      Map<Long, Integer> times = new HashMap<>();
      shares.forEach(share -> share.forEach(id -> times.merge(id, 1, Integer::sum)));
      List<Long> repeated =
          times.entrySet().stream()
              .filter(e -> e.getValue() > 1)
              .map(Map.Entry::getKey)
              .sorted()
              .toList();
      assertThat(repeated)
          .as("the first rows of the epoch's delivery, once more each")
          .containsExactly(0L, 1L, 2L);
      assertThat(times.values()).allMatch(n -> n <= 2);
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void padWrapsAroundWhenThereAreFewerRowsThanConsumers() throws Exception {
    try (Sluice s = sluice()) {
      List<List<Long>> shares =
          drainAll(s.range(2, 1).streamingSplit(5, SplitOptions.equal(RemainderPolicy.PAD)));
      assertThat(shares).allSatisfy(share -> assertThat(share).hasSize(1));
      assertThat(shares.stream().flatMap(List::stream).distinct().sorted().toList())
          .containsExactly(0L, 1L);
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void dropLeavesOutOnlyTheRowsThatDoNotDivideAndUnevenDeliversEveryRowOnce() throws Exception {
    try (Sluice s = sluice()) {
      long total = 10_003;
      List<List<Long>> dropped =
          drainAll(s.range(total, 5).streamingSplit(4, SplitOptions.equal(RemainderPolicy.DROP)));
      assertThat(dropped).allSatisfy(share -> assertThat(share).hasSize(2_500));
      assertDisjoint(dropped);

      List<List<Long>> uneven =
          drainAll(
              s.range(total, 5)
                  .streamingSplit(
                      4,
                      SplitOptions.equal(RemainderPolicy.UNEVEN)
                          .withIterOptions(IterOptions.batches(64))));
      assertDisjoint(uneven);
      assertThat(distinctCount(uneven)).isEqualTo(total);
      assertThat(uneven.stream().map(List::size).sorted().toList())
          .containsExactly(2_500, 2_501, 2_501, 2_501);
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void hintsMustNameOneHostPerConsumer() {
    try (Sluice s = sluice()) {
      assertThatThrownBy(() -> s.range(10, 1).streamingSplit(3, false, List.of("a", "b")))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("one locality hint per consumer");
    }
  }
}
