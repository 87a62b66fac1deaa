package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.internal.exec.InProcessRemoteRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * An execution whose nodes are other processes as the executor sees them (played in this JVM by
 * {@link InProcessRemoteRuntime}: each node builds the pipeline from its definition, runs the specs
 * it is sent, keeps its blocks and hands them out as copies). The scheduler's memory accounting
 * then rests on block references alone, and the budget still holds on every node.
 */
class RemoteExecutionTest {
  private static final long BUDGET = 8L << 20;
  private static final int PAYLOAD = 4 << 10;
  private static final int RATIO = 10;
  private static final long ROWS = 6_000; // decoded: 6,000 x 40 KiB = 234 MiB = 29 budgets

  /** A pipeline that expands its rows tenfold, then passes them through an actor pool. */
  public static final class Pipeline implements PipelineDefinition {
    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      return sluice
          .read(new BlobSource(Long.parseLong(p.get("rows")), 12, PAYLOAD, null))
          .mapBatches(
              BlobSource.expand(PAYLOAD, RATIO),
              MapOptions.DEFAULT.withName("Decode").withCpus(0.5))
          .mapBatches(
              Pass.class,
              ActorPool.of(1, 2),
              MapOptions.DEFAULT
                  .withName("Model")
                  .withCpus(0.25)
                  .withBatchSize(Integer.parseInt(p.getOrDefault("batch", "0"))));
    }
  }

  /** An actor's function that hands its input on. */
  public static final class Pass implements BatchFunction {
    @Override
    public Batch apply(Batch in, BatchContext ctx) {
      return in;
    }
  }

  private InProcessRemoteRuntime runtime;
  private Sluice sluice;

  @BeforeEach
  void setUp() {
    runtime =
        new InProcessRemoteRuntime(
            List.of(
                new Node("w1", "h1", Resources.cpus(2), BUDGET),
                new Node("w2", "h2", Resources.cpus(2), BUDGET)));
    sluice =
        Sluice.builder()
            .runtime(runtime)
            .options(
                ExecutionOptions.defaults()
                    .withMemoryBudget(BUDGET)
                    .withTargetBlockRows(64)
                    .withTargetBlockBytes(256 << 10)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build();
  }

  @AfterEach
  void tearDown() {
    sluice.close();
    runtime.close(); // fails on memory still held on a node
  }

  @Test
  void everyRowOnceWithinTheBudgetOnEveryNode() {
    Dataset ds = sluice.pipeline(Pipeline.class, Map.of("rows", String.valueOf(ROWS)));
    BitSet seen = new BitSet();
    long decoded = 0;
    try (BatchIterator it = ds.iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          decoded += (long) b.rowCount() * PAYLOAD * RATIO;
          for (int i = 0; i < b.rowCount(); i++) {
            int id = b.getInt("id", i);
            assertThat(seen.get(id)).as("row %d twice", id).isFalse();
            seen.set(id);
          }
        }
      }
      DatasetStats stats = it.stats();
      assertThat(seen.cardinality()).isEqualTo(ROWS);
      assertThat(decoded).isGreaterThanOrEqualTo(20 * BUDGET);
      // The trainer's side holds only what the consumer took (copies).
      assertThat(stats.peakMemory()).as(stats.format()).isLessThanOrEqualTo(BUDGET);
    }
    for (String node : List.of("w1", "w2")) {
      assertThat(runtime.peak(node))
          .as("peak on %s", node)
          .isLessThanOrEqualTo(BUDGET)
          .isPositive();
    }
    assertThat(sluice.allocator().getAllocatedMemory()).isZero();
  }

  @Test
  void aDatasetWithoutADefinitionIsRefusedClearly() {
    Dataset ds =
        sluice
            .pipeline(Pipeline.class, Map.of("rows", "100"))
            .mapBatches((in, ctx) -> in); // added outside the definition
    assertThatThrownBy(ds::count)
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("w1@h1")
        .hasMessageContaining("Sluice.pipeline(YourDefinition.class, parameters)");
    assertThat(sluice.allocator().getAllocatedMemory()).isZero();
  }

  @Test
  void aNodeThatBuildsAnotherPlanRefusesNamingTheOperator() {
    runtime.overrideParameters(Map.of("batch", "32"));
    Dataset ds = sluice.pipeline(Pipeline.class, Map.of("rows", "100"));
    assertThatThrownBy(ds::count)
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("node w1 builds another plan than the trainer")
        .hasMessageContaining("operator 2: here ActorPool Model")
        .hasMessageContaining("batch=32");
    assertThat(sluice.allocator().getAllocatedMemory()).isZero();
  }
}
