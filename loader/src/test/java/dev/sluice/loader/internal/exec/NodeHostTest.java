package dev.sluice.loader.internal.exec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.PipelineDefinition;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.internal.plan.DatasetPlans;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.runtime.BlockLostException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.runtime.LocalRuntime;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.NodeAgent;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import dev.sluice.loader.source.RangeSource;
import dev.sluice.sharding.SourceSplit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A node's half of an execution built in a process of its own, as a cluster worker builds it: two
 * hosts in one JVM stand for two workers, each built from the same pipeline definition, driven by
 * task specs only, reading each other's blocks through copies (as the transport would bring them).
 */
class NodeHostTest {
  private static final int ROWS = 2_000;
  private static final ExecutionOptions OPTIONS =
      ExecutionOptions.defaults()
          .withTargetBlockRows(300)
          .withProgress(ExecutionOptions.Progress.OFF);

  /** Adds one to every id. */
  static final class PlusOne implements BatchFunction {
    @Override
    public Batch apply(Batch in, BatchContext ctx) {
      int n = in.rowCount();
      try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), in.schema(), n)) {
        for (int i = 0; i < n; i++) {
          b.setLong(RangeSource.COLUMN, i, in.getLong(RangeSource.COLUMN, i) + 1);
        }
        return b.build(n);
      }
    }
  }

  /** The pipeline every host builds: a read with a fused map, a task map, an actor pool. */
  public static final class Pipeline implements PipelineDefinition {
    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      return sluice
          .range(Integer.parseInt(p.get("rows")), 4)
          .mapBatches(new PlusOne())
          .mapBatches(new PlusOne(), MapOptions.DEFAULT.withCpus(0.5))
          .mapBatches(PlusOne.class, ActorPool.of(1, 1), MapOptions.DEFAULT.withCpus(0.25));
    }
  }

  private final List<AutoCloseable> toClose = new ArrayList<>();
  private RootAllocator root;
  private Sluice sluice;

  @BeforeEach
  void setUp() {
    root = new RootAllocator(256L << 20);
    sluice = Sluice.builder().options(OPTIONS).build();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    sluice.close();
    assertThat(root.getAllocatedMemory()).isZero();
    root.close();
  }

  private Dataset dataset() {
    return sluice.pipeline(Pipeline.class, Map.of("rows", String.valueOf(ROWS)));
  }

  private NodeHost host(String id, NodeHost.RemoteBlocks remote) {
    Node node = new Node(id, "h-" + id, Resources.cpus(2), 64L << 20);
    LocalRuntime runtime = new LocalRuntime(node);
    toClose.add(runtime);
    NodeHost host =
        new NodeHost(dataset(), 0, OPTIONS, node, runtime, root, remote, new AtomicLong());
    toClose.add(host);
    return host;
  }

  private static TaskOutcome run(NodeAgent.Task task) throws Exception {
    return task.outcome().get(30, TimeUnit.SECONDS);
  }

  @Test
  void twoHostsRunAPipelineFromSpecsReadingEachOthersBlocks() throws Exception {
    AtomicInteger fetched = new AtomicInteger();
    NodeHost[] hosts = new NodeHost[2];
    NodeHost.RemoteBlocks copy =
        (ref, into) -> {
          fetched.incrementAndGet();
          NodeHost owner = hosts[ref.owner().equals("w1") ? 0 : 1];
          Batch b = owner.store().get(ref);
          return b.slice(into, 0, b.rowCount());
        };
    hosts[0] = host("w1", copy);
    hosts[1] = host("w2", copy);
    NodeHost w1 = hosts[0];
    NodeHost w2 = hosts[1];
    assertThat(w1.fingerprint()).isEqualTo(w2.fingerprint());

    // w1 reads every split, block by block, as the scheduler's read operator would ask.
    List<BlockRef> read = new ArrayList<>();
    ReadOp readOp = (ReadOp) DatasetPlans.plan(dataset()).get(0);
    for (SourceSplit split : readOp.source().planSplits()) {
      long row = 0;
      double perRow = -1;
      for (long seq = 0; ; seq++) {
        TaskOutcome o =
            run(w1.agent().run(new TaskSpec.ReadBlock(0, split.index(), 0, seq, row, perRow)));
        if (o.output() != null) {
          read.add(o.output());
          assertThat(o.output().lineage())
              .isEqualTo(
                  new Lineage.Read(
                      0, "ReadRange->PlusOne", split.index(), 0, seq, row, row + o.rowsIn()));
          assertThat(o.output().hosts()).isEqualTo(split.hosts());
          perRow = Math.max(perRow, o.output().bytes() / (double) o.rowsIn());
        }
        row += o.rowsIn();
        if (o.exhausted()) {
          break;
        }
      }
    }
    assertThat(read.stream().mapToInt(BlockRef::rows).sum()).isEqualTo(ROWS);

    // w2 maps them (each input fetched from w1); the scheduler then releases the inputs at w1.
    List<BlockRef> mapped = new ArrayList<>();
    for (BlockRef in : read) {
      TaskOutcome o =
          run(
              w2.agent()
                  .run(new TaskSpec.MapBundle(1, List.of(new TaskSpec.Input(in, 0, in.rows())))));
      assertThat(o.output().owner()).isEqualTo("w2");
      assertThat(o.output().lineage())
          .isEqualTo(
              new Lineage.Derived(
                  1, "PlusOne", List.of(new Lineage.Slice(in.lineage(), 0, in.rows(), in.rows()))));
      mapped.add(o.output());
      w1.store().release(in);
    }
    assertThat(fetched.get()).isEqualTo(read.size());
    assertThat(w1.store().size()).isZero();

    // w1's actor takes them back in bundles of two blocks' rows (halves and wholes).
    NodeAgent.Actor actor = w1.agent().startActor(2, "PlusOne-0");
    actor.ready().get(30, TimeUnit.SECONDS);
    List<BlockRef> out = new ArrayList<>();
    for (BlockRef in : mapped) {
      int half = in.rows() / 2;
      TaskOutcome a =
          run(actor.call(new TaskSpec.MapBundle(2, List.of(new TaskSpec.Input(in, 0, half)))));
      TaskOutcome b =
          run(
              actor.call(
                  new TaskSpec.MapBundle(2, List.of(new TaskSpec.Input(in, half, in.rows())))));
      for (TaskOutcome o : List.of(a, b)) {
        if (o.output() != null) {
          out.add(o.output());
        }
      }
      w2.store().release(in);
    }
    actor.stop().get(30, TimeUnit.SECONDS);
    assertThat(w2.store().size()).isZero();

    // Every id went through three +1s, once.
    long sum = 0;
    long rows = 0;
    for (BlockRef ref : out) {
      try (Batch b = w1.store().take(ref)) {
        for (int i = 0; i < b.rowCount(); i++) {
          sum += b.getLong(RangeSource.COLUMN, i);
        }
        rows += b.rowCount();
      }
    }
    assertThat(rows).isEqualTo(ROWS);
    assertThat(sum).isEqualTo((long) ROWS * (ROWS - 1) / 2 + 3L * ROWS);
    assertThat(w2.peakMemory()).isPositive();
    assertThat(w1.allocatedMemory()).isZero();
    assertThat(w2.allocatedMemory()).isZero();
  }

  @Test
  void aTaskWhoseInputIsLostFailsWithBlockLost() throws Exception {
    NodeHost w1 =
        host(
            "w1",
            (ref, into) -> {
              throw new BlockLostException(ref, true);
            });
    BlockRef elsewhere =
        new BlockRef(
            7, "w9", new Lineage.Read(0, "Range->PlusOne", 0, 0, 0, 0, 10), 10, 80, List.of());
    NodeAgent.Task t =
        w1.agent().run(new TaskSpec.MapBundle(1, List.of(new TaskSpec.Input(elsewhere, 0, 10))));
    assertThatThrownBy(() -> t.outcome().get(30, TimeUnit.SECONDS))
        .hasCauseInstanceOf(BlockLostException.class);
    assertThat(w1.allocatedMemory()).isZero();
  }
}
