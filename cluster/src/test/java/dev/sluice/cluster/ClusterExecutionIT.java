package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.sluice.cluster.exec.ClusterRuntime;
import dev.sluice.cluster.exec.SluiceWorker;
import dev.sluice.cluster.transport.BlockSource;
import dev.sluice.cluster.transport.NettyBlockTransport;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.runtime.Resources;
import java.net.InetAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A pipeline run by two workers for a trainer, three members in this JVM on their own loopback
 * addresses: every worker builds the pipeline from its definition, the trainer's scheduler sends
 * them task specs, blocks move between the workers and to the trainer through the block transport.
 */
@Timeout(90)
class ClusterExecutionIT {
  private static final long MIB = 1L << 20;
  private static final long BUDGET = 16 * MIB;
  private static final int ROW_BYTES = 16 << 10;
  private static final long ROWS = 12_000; // decoded: 12,000 x 16 KiB = 188 MiB = 12 budgets

  private final TestMembers members = new TestMembers();
  private final List<AutoCloseable> started = new ArrayList<>();
  private SluiceWorker w2;
  private SluiceWorker w3;
  private Sluice sluice;

  @BeforeEach
  void startCluster() throws Exception {
    w2 = worker(members.worker("127.0.0.2", "h2", Resources.cpus(2), BUDGET));
    w3 =
        worker(
            members.worker(
                "127.0.0.3", "h3", Resources.cpus(2), BUDGET, w2.member().self().address()));
    SluiceMember trainer =
        members.start(members.trainer("127.0.0.1", w2.member().self().address()));
    NettyBlockTransport transport =
        NettyBlockTransport.builder(BlockSource.none())
            .bindAddress(InetAddress.getByName("127.0.0.1"))
            .port(0)
            .name("trainer")
            .build();
    started.add(transport);
    trainer.awaitWorkers(2, Duration.ofSeconds(30));
    sluice =
        Sluice.builder()
            .runtime(new ClusterRuntime(trainer, transport))
            .options(
                ExecutionOptions.defaults()
                    .withMemoryBudget(BUDGET)
                    .withTargetBlockRows(64)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build();
  }

  private SluiceWorker worker(ClusterConfig.Builder config) {
    SluiceWorker w = SluiceWorker.start(config.build(), getClass().getClassLoader());
    started.add(w);
    return w;
  }

  @AfterEach
  void stopCluster() throws Exception {
    if (sluice != null) {
      sluice.close();
    }
    members.close(); // the trainer leaves first
    for (int i = started.size() - 1; i >= 0; i--) {
      started.get(i).close();
    }
  }

  @Test
  void everyRowOnceAndEveryWorkerWithinItsBudget() {
    Dataset ds =
        sluice.pipeline(
            TestPipelines.Expanding.class,
            Map.of(
                "rows", String.valueOf(ROWS), "splits", "8", "bytes", String.valueOf(ROW_BYTES)));
    BitSet seen = new BitSet();
    long delivered = 0;
    try (BatchIterator it = ds.iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          ArrowBuf payload = b.tensorData("payload");
          for (int i = 0; i < b.rowCount(); i++) {
            long id = b.getLong("id", i);
            assertThat(seen.get((int) id)).as("row %d twice", id).isFalse();
            seen.set((int) id);
            // A byte at each end of the row's payload: the block crossed intact.
            assertThat(payload.getByte((long) i * ROW_BYTES))
                .isEqualTo(TestPipelines.payloadByte(id, 0));
            assertThat(payload.getByte((long) i * ROW_BYTES + ROW_BYTES - 1))
                .isEqualTo(TestPipelines.payloadByte(id, ROW_BYTES - 1));
          }
          delivered += (long) b.rowCount() * ROW_BYTES;
        }
      }
      DatasetStats stats = it.stats();
      assertThat(seen.cardinality()).isEqualTo(ROWS);
      assertThat(delivered).isGreaterThanOrEqualTo(10 * BUDGET);
      assertThat(stats.peakMemory()).as(stats.format()).isLessThanOrEqualTo(BUDGET);
    }
    for (SluiceWorker w : List.of(w2, w3)) {
      assertThat(w.service().peakMemory())
          .as("peak on %s", w.service().node())
          .isPositive()
          .isLessThanOrEqualTo(BUDGET);
      // The execution is closed on every worker, its memory returned.
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                assertThat(w.service().openExecutions()).isZero();
                assertThat(w.service().allocatedMemory()).isZero();
              });
    }
    assertThat(sluice.allocator().getAllocatedMemory()).isZero();
  }

  @Test
  void aWorkerListingOtherSplitsThanTheTrainerRefusesTheExecution() {
    TestPipelines.GrowingListing.LISTINGS.set(0);
    Dataset ds = sluice.pipeline(TestPipelines.GrowingListing.class, Map.of());
    // The trainer lists 4 splits; the workers, listing after it, 5.
    assertThatThrownBy(ds::count)
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("lists other splits")
        .hasMessageContaining("5 splits")
        .hasMessageContaining("4 splits")
        .hasMessageContaining("GrowingListing");
    assertThat(sluice.allocator().getAllocatedMemory()).isZero();
  }

  @Test
  void aCorruptRecordOnAWorkerFailsTheTrainersNextNamingFileAndEntry() {
    Dataset ds =
        sluice.pipeline(TestPipelines.Corrupt.class, Map.of("rows", "5000", "bad", "3333"));
    assertThatThrownBy(
            () -> {
              try (BatchIterator it = ds.iterBatches()) {
                while (it.hasNext()) {
                  it.next().close();
                }
              }
            })
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("truncated PNG")
        .hasMessageContaining("shards/train-0007.tar")
        .hasMessageContaining("sample-3333.png")
        .hasMessageContaining("Decode");
    for (SluiceWorker w : List.of(w2, w3)) {
      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                assertThat(w.service().openExecutions()).isZero();
                assertThat(w.service().allocatedMemory()).isZero();
              });
    }
    assertThat(sluice.allocator().getAllocatedMemory()).isZero();
  }
}
