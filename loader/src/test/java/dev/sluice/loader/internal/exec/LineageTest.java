package dev.sluice.loader.internal.exec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.internal.plan.PhysicalOp.NamedFunction;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.runtime.LocalRuntime;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import dev.sluice.loader.source.ReadContext;
import dev.sluice.sharding.SourceSplit;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

/**
 * Blocks are named by their lineage: the same plan and seed name the same blocks however tasks
 * interleave, and a read block's name is enough to make it again, byte for byte.
 */
class LineageTest {
  private static final int ROW_BYTES = 1000;

  /**
   * 320 KiB: tasks aim at 40 KiB of output, about 40 expanded rows, so the source's blocks of 100
   * rows are cut.
   */
  private static final ExecutionOptions OPTIONS =
      ExecutionOptions.defaults().withTargetBlockRows(100).withMemoryBudget(320L << 10);

  private static final RangeSource SOURCE = new RangeSource(3_000, 6);

  /**
   * Each id becomes a row of {@code ROW_BYTES} bytes, every one a function of the id (also used by
   * {@link NodeLossTest}).
   */
  static final BatchFunction EXPAND =
      (in, ctx) -> {
        int n = in.rowCount();
        Schema schema =
            new Schema(
                List.of(
                    Columns.int64("id"), Columns.tensor("payload", ElementType.UINT8, ROW_BYTES)));
        try (BatchBuilder b =
            BatchBuilder.createUninitialized(ctx.allocator(), schema, n, 0, in.sources())) {
          ArrowBuf data = b.tensorData("payload");
          for (int i = 0; i < n; i++) {
            long id = in.getLong(RangeSource.COLUMN, i);
            b.setLong("id", i, id);
            for (int j = 0; j < ROW_BYTES; j++) {
              data.setByte((long) i * ROW_BYTES + j, (byte) (id * 31 + j));
            }
          }
          return b.build(n);
        }
      };

  private static final ReadOp READ =
      new ReadOp(
          SOURCE,
          OptionalLong.of(42),
          OptionalLong.empty(),
          List.of(new NamedFunction("Expand", EXPAND)),
          Resources.cpus(1),
          0);

  /** A block as delivered: its lineage and its bytes as Arrow IPC. */
  private record Named(Lineage.Read lineage, byte[] bytes) {}

  /** Runs the read on four threads; returns the delivered blocks by name (attempt aside). */
  private static Map<String, Named> run(RootAllocator root) throws Exception {
    Map<String, Named> blocks = new TreeMap<>();
    try (LocalRuntime runtime = new LocalRuntime(Resources.cpus(4))) {
      StreamingExecutor ex =
          new StreamingExecutor(List.of(READ), OPTIONS, 0, runtime, root, ExecutionObserver.NONE);
      ex.start();
      try {
        for (ConsumerChannel.Delivered d; (d = ex.takeDelivered()) != null; ) {
          try (Batch b = d.batch()) {
            Lineage.Read l = (Lineage.Read) d.ref().lineage();
            assertThat(l.toRow() - l.fromRow()).isEqualTo(b.rowCount());
            Named previous = blocks.put(l.dedupKey(), new Named(l, ipc(b)));
            assertThat(previous).as("two blocks named %s", l.dedupKey()).isNull();
          }
        }
      } finally {
        ex.close();
      }
    }
    return blocks;
  }

  private static byte[] ipc(Batch b) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ArrowStreamWriter w = new ArrowStreamWriter(b.root(), null, Channels.newChannel(out))) {
      w.start();
      w.writeBatch();
      w.end();
    }
    return out.toByteArray();
  }

  @Test
  void theSameSeedNamesTheSameBlocksAndEachSplitIsCutByItsOwnData() throws Exception {
    try (RootAllocator root = new RootAllocator()) {
      Map<String, Named> first = run(root);
      Map<String, Named> second = run(root);
      assertThat(second.keySet()).isEqualTo(first.keySet());
      for (String name : first.keySet()) {
        assertThat(second.get(name).lineage()).isEqualTo(first.get(name).lineage());
        assertThat(second.get(name).bytes()).as(name).isEqualTo(first.get(name).bytes());
      }
      // Every row once; each split's blocks in sequence, covering its rows without a gap; the
      // first block of each split one row (learning), later ones cut to the output target.
      Map<Integer, List<Lineage.Read>> bySplit = new HashMap<>();
      first
          .values()
          .forEach(
              n ->
                  bySplit
                      .computeIfAbsent(n.lineage().split(), k -> new ArrayList<>())
                      .add(n.lineage()));
      assertThat(bySplit).hasSize(6);
      long rows = 0;
      for (List<Lineage.Read> blocks : bySplit.values()) {
        blocks.sort((a, b) -> Long.compare(a.sequence(), b.sequence()));
        long next = 0;
        for (int i = 0; i < blocks.size(); i++) {
          Lineage.Read l = blocks.get(i);
          assertThat(l.sequence()).isEqualTo(i);
          assertThat(l.attempt()).isZero();
          assertThat(l.fromRow()).isEqualTo(next);
          next = l.toRow();
        }
        assertThat(blocks.get(0).toRow()).isEqualTo(1);
        assertThat(blocks)
            .anyMatch(l -> l.toRow() - l.fromRow() > 1 && l.toRow() - l.fromRow() < 100);
        rows += next;
      }
      assertThat(rows).isEqualTo(3_000);
      assertThat(root.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aReadBlocksNameRemakesItByteForByte() throws Exception {
    try (RootAllocator root = new RootAllocator()) {
      Map<String, Named> delivered = run(root);
      List<SourceSplit> splits = SOURCE.planSplits();
      BadRecords bad = new BadRecords(0);
      ReadContext context =
          new ReadContext(OPTIONS.targetBlockRows(), OPTIONS.targetBlockBytes(), bad);
      for (Named n : delivered.values()) {
        SourceSplit split = splits.get(n.lineage().split());
        try (Batch again = ReadReplay.remake(READ, split, n.lineage(), context, bad, 0, root)) {
          assertThat(ipc(again)).as(n.lineage().toString()).isEqualTo(n.bytes());
        }
      }
      assertThat(root.getAllocatedMemory()).isZero();
    }
  }
}
