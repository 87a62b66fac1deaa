package dev.sluice.bench;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.PipelineDefinition;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.source.RangeSource;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The {@code scaling} benchmark's pipeline, built by the trainer and by every worker from its
 * parameters: {@code Sluice.range(rows, splits)} in blocks of {@code blockRows} rows, then three
 * stages of one CPU each, which the planner fuses into the read (one task per block): {@code Parse}
 * (cheap: a float64 column computed from the id), {@code Work} (the simulated work: a fixed sleep
 * of {@code delayMicros} per block, which holds the task's slot but no core) and {@code Label}
 * (cheap: an int64 label column).
 *
 * <p>Parameters: {@code rows}, {@code splits}, {@code delayMicros}.
 */
public final class ScalingPipeline implements PipelineDefinition {
  /** The columns of a delivered block. */
  static final String VALUE = "value";

  static final String LABEL = "label";

  private static final Schema PARSED =
      new Schema(List.of(Columns.int64(RangeSource.COLUMN), Columns.float64(VALUE)));

  private static final Schema LABELLED =
      new Schema(
          List.of(Columns.int64(RangeSource.COLUMN), Columns.float64(VALUE), Columns.int64(LABEL)));

  /** The parameters of a pipeline of {@code rows} rows in {@code splits} splits. */
  static Map<String, String> parameters(long rows, int splits, long delayMicros) {
    return Map.of(
        "rows",
        Long.toString(rows),
        "splits",
        Integer.toString(splits),
        "delayMicros",
        Long.toString(delayMicros));
  }

  @Override
  public Dataset build(Sluice sluice, Map<String, String> p) {
    long delayMicros = Long.parseLong(p.get("delayMicros"));
    if (delayMicros < 0) {
      throw new IllegalArgumentException("delayMicros must be >= 0: " + delayMicros);
    }
    return sluice
        .range(Long.parseLong(p.get("rows")), Integer.parseInt(p.get("splits")))
        .mapBatches(ScalingPipeline::parse, MapOptions.DEFAULT.withName("Parse"))
        .mapBatches(new Work(delayMicros), MapOptions.DEFAULT.withName("Work"))
        .mapBatches(ScalingPipeline::label, MapOptions.DEFAULT.withName("Label"));
  }

  private static Batch parse(Batch in, BatchContext ctx) {
    int n = in.rowCount();
    try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), PARSED, n, 0, in.sources())) {
      for (int i = 0; i < n; i++) {
        long id = in.getLong(RangeSource.COLUMN, i);
        b.setLong(RangeSource.COLUMN, i, id);
        b.setDouble(VALUE, i, id * 0.5);
      }
      return b.build(n);
    }
  }

  private static Batch label(Batch in, BatchContext ctx) {
    int n = in.rowCount();
    try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), LABELLED, n, 0, in.sources())) {
      for (int i = 0; i < n; i++) {
        long id = in.getLong(RangeSource.COLUMN, i);
        b.setLong(RangeSource.COLUMN, i, id);
        b.setDouble(VALUE, i, in.getDouble(VALUE, i));
        b.setLong(LABEL, i, id % 10);
      }
      return b.build(n);
    }
  }

  /**
   * The simulated work: sleeps a fixed time per block and hands the block on. The sleep is the work
   * (a decoder busy for that long), not a synchronisation.
   */
  static final class Work implements BatchFunction {
    private final long delayMicros;

    Work(long delayMicros) {
      this.delayMicros = delayMicros;
    }

    @Override
    public Batch apply(Batch in, BatchContext ctx) {
      try {
        Thread.sleep(delayMicros / 1000, (int) (delayMicros % 1000) * 1000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("the simulated work was interrupted", e);
      }
      return in;
    }
  }
}
