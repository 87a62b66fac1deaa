package dev.sluice.bench;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.PipelineDefinition;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.source.HostLabels;
import dev.sluice.loader.source.RangeSource;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The pipeline of the {@code locality} benchmark, built by the trainer and every worker: a range
 * whose splits are held alternately on the hosts named in {@code hosts} ({@link HostLabels}), a
 * stateless decode that expands each id into {@code bytes} payload bytes, and an actor pool of two
 * actors (one per worker, as placed by free CPUs) that hands the rows on (a model). Parameters:
 * {@code rows}, {@code splits}, {@code bytes}, {@code hosts} (comma-separated).
 */
public final class LocalityPipeline implements PipelineDefinition {
  @Override
  public Dataset build(Sluice sluice, Map<String, String> p) {
    List<String> hosts = List.of(p.get("hosts").split(","));
    return sluice
        .read(
            HostLabels.of(
                new RangeSource(Long.parseLong(p.get("rows")), Integer.parseInt(p.get("splits"))),
                split -> List.of(hosts.get(split.index() % hosts.size()))))
        .mapBatches(
            new Expand(Integer.parseInt(p.get("bytes"))),
            MapOptions.DEFAULT.withName("Decode").withCpus(0.5))
        .mapBatches(
            Pass.class, ActorPool.of(2, 2), MapOptions.DEFAULT.withName("Model").withCpus(0.5));
  }

  /** Expands each id into a row of {@code bytes} payload bytes. */
  public static final class Expand implements BatchFunction {
    private final int bytes;

    Expand(int bytes) {
      this.bytes = bytes;
    }

    @Override
    public Batch apply(Batch in, BatchContext ctx) {
      int n = in.rowCount();
      Schema schema =
          new Schema(
              List.of(Columns.int64("id"), Columns.tensor("payload", ElementType.UINT8, bytes)));
      try (BatchBuilder b =
          BatchBuilder.createUninitialized(ctx.allocator(), schema, n, 0, in.sources())) {
        ArrowBuf data = b.tensorData("payload");
        for (int i = 0; i < n; i++) {
          long id = in.getLong(RangeSource.COLUMN, i);
          b.setLong("id", i, id);
          data.setZero((long) i * bytes, bytes);
          data.setLong((long) i * bytes, id);
        }
        return b.build(n);
      }
    }
  }

  /** An actor's function that hands its input on. */
  public static final class Pass implements BatchFunction {
    @Override
    public Batch apply(Batch in, BatchContext ctx) {
      return in;
    }
  }
}
