package dev.sluice.examples.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.cluster.ClusterConfig;
import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.cluster.exec.SluiceWorker;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.PipelineDefinition;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SplitOptions;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import dev.sluice.nd4j.FeatureColumn;
import dev.sluice.nd4j.LabelColumn;
import dev.sluice.nd4j.SluiceDataSetIterator;
import dev.sluice.sharding.RemainderPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Two trainers, each with its own DL4J iterator, share every epoch of one pipeline run by two
 * workers (four members in this JVM on their own loopback addresses): in each of two epochs, each
 * trainer's {@link SluiceDataSetIterator} gives half of the examples, the halves disjoint.
 */
@Timeout(120)
class TrainerSharesIT {
  private static final int ROWS = 2_000;
  private static final int FLOATS = 64;
  private static final AtomicInteger THREADS = new AtomicInteger();

  /** Ids as features (the id in the first element) and their parity as the label. */
  public static final class Ids implements PipelineDefinition {
    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      return sluice
          .range(Integer.parseInt(p.get("rows")), 8)
          .mapBatches(new ToExample(), MapOptions.DEFAULT.withName("Example"));
    }
  }

  /** An id into a features row and a label. */
  public static final class ToExample implements BatchFunction {
    @Override
    public Batch apply(Batch in, BatchContext ctx) {
      Schema schema =
          new Schema(List.of(Columns.tensor("x", ElementType.FLOAT32, FLOATS), Columns.int64("y")));
      int n = in.rowCount();
      try (BatchBuilder b =
          BatchBuilder.createUninitialized(ctx.allocator(), schema, n, 0, in.sources())) {
        ArrowBuf x = b.tensorData("x");
        for (int i = 0; i < n; i++) {
          long id = in.getLong(RangeSource.COLUMN, i);
          x.setZero((long) i * FLOATS * 4, (long) FLOATS * 4);
          x.setFloat((long) i * FLOATS * 4, id);
          b.setLong("y", i, id % 2);
        }
        return b.build(n);
      }
    }
  }

  private final List<AutoCloseable> started = new ArrayList<>();
  private final List<Sluice> sluices = new ArrayList<>();
  private final ExecutorService threads =
      Executors.newFixedThreadPool(
          2,
          r -> {
            Thread t = new Thread(r, "trainer-shares-it-" + THREADS.incrementAndGet());
            t.setDaemon(true);
            return t;
          });

  @BeforeEach
  void startCluster() throws Exception {
    String name = "sluice-it-" + UUID.randomUUID().toString().substring(0, 8);
    String join = null;
    for (String host : List.of("2", "3")) {
      ClusterConfig.Builder c =
          ClusterConfig.worker()
              .clusterName(name)
              .bindAddress("127.0.0." + host)
              .port(0)
              .hostLabel("h" + host)
              .resources(Resources.cpus(2))
              .memoryBudget(16L << 20)
              .heartbeatInterval(Duration.ofSeconds(1))
              .maxNoHeartbeat(Duration.ofSeconds(5));
      if (join != null) {
        c.members(join);
      }
      SluiceWorker w = SluiceWorker.start(c.build(), getClass().getClassLoader());
      started.add(w);
      join = w.member().self().address();
    }
    for (String host : List.of("4", "5")) {
      ClusterTrainer t =
          ClusterTrainer.start(
              ClusterConfig.trainer()
                  .clusterName(name)
                  .bindAddress("127.0.0." + host)
                  .port(0)
                  .members(join)
                  .heartbeatInterval(Duration.ofSeconds(1))
                  .maxNoHeartbeat(Duration.ofSeconds(5))
                  .build());
      started.add(t);
      t.awaitWorkers(2, Duration.ofSeconds(30));
      sluices.add(
          Sluice.builder()
              .runtime(t.runtime())
              .options(
                  ExecutionOptions.defaults()
                      .withMemoryBudget(16L << 20)
                      .withTargetBlockRows(100)
                      .withProgress(ExecutionOptions.Progress.OFF))
              .build());
    }
  }

  @AfterEach
  void stopCluster() throws Exception {
    threads.shutdownNow();
    assertThat(threads.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    for (Sluice s : sluices) {
      s.close();
    }
    for (int i = started.size() - 1; i >= 0; i--) {
      started.get(i).close();
    }
  }

  @Test
  void eachTrainersIteratorGivesItsHalfOfEveryEpoch() throws Exception {
    int epochs = 2;
    List<Future<List<BitSet>>> trainers = new ArrayList<>();
    for (int t = 0; t < 2; t++) {
      Dataset ds = sluices.get(t).pipeline(Ids.class, Map.of("rows", String.valueOf(ROWS)));
      int index = t;
      trainers.add(
          threads.submit(
              () -> {
                List<BitSet> perEpoch = new ArrayList<>();
                try (SluiceDataSetIterator it =
                    SluiceDataSetIterator.builder(
                            ds, FeatureColumn.of("x"), LabelColumn.oneHot("y", 2))
                        .batchSize(32)
                        .seed(11) // the same on every trainer: one plan
                        .streamingShare(
                            2,
                            index,
                            SplitOptions.equal(RemainderPolicy.DROP),
                            Duration.ofSeconds(30))
                        .build()) {
                  for (int e = 0; e < epochs; e++) {
                    BitSet ids = new BitSet();
                    while (it.hasNext()) {
                      DataSet d = it.next();
                      for (int r = 0; r < d.numExamples(); r++) {
                        int id = (int) d.getFeatures().getFloat(r, 0);
                        assertThat(ids.get(id)).as("example %d twice", id).isFalse();
                        assertThat(d.getLabels().getInt(r, 1)).isEqualTo(id % 2);
                        ids.set(id);
                      }
                    }
                    perEpoch.add(ids);
                    it.reset();
                  }
                }
                return perEpoch;
              }));
    }
    List<BitSet> a = trainers.get(0).get(90, TimeUnit.SECONDS);
    List<BitSet> b = trainers.get(1).get(90, TimeUnit.SECONDS);
    for (int e = 0; e < epochs; e++) {
      assertThat(a.get(e).cardinality()).as("epoch %d", e).isEqualTo(ROWS / 2);
      assertThat(b.get(e).cardinality()).as("epoch %d", e).isEqualTo(ROWS / 2);
      assertThat(a.get(e).intersects(b.get(e))).as("epoch %d", e).isFalse();
    }
  }
}
