package dev.sluice.cluster;

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
import dev.sluice.loader.source.RangeSource;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;

/** Pipelines the cluster tests run: built by every member from their definitions. */
public final class TestPipelines {
  private TestPipelines() {}

  /**
   * {@code rows} ids in {@code splits} splits, each expanded to an {@code id} and a {@code payload}
   * of {@code bytes} bytes (a function of the id) in stateless tasks (of {@code decodeCpus} CPUs,
   * 0.5 by default: with 1, the read's, decoding is fused into the reads), then handed on by an
   * actor pool of one or two actors: decoding that expands the data, as images do.
   */
  public static final class Expanding implements PipelineDefinition {
    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      int bytes = Integer.parseInt(p.get("bytes"));
      return sluice
          .range(Long.parseLong(p.get("rows")), Integer.parseInt(p.get("splits")))
          .mapBatches(
              new Expand(bytes),
              MapOptions.DEFAULT
                  .withName("Decode")
                  .withCpus(Double.parseDouble(p.getOrDefault("decodeCpus", "0.5"))))
          .mapBatches(
              Pass.class, ActorPool.of(1, 2), MapOptions.DEFAULT.withName("Model").withCpus(0.25));
    }
  }

  /**
   * Consumer {@code rank}'s share (of {@code consumers}, equal, remainder dropped) of {@code rows}
   * ids in {@code splits} splits, epoch {@code epoch} seeded {@code seed}, each expanded to a
   * payload of {@code bytes} bytes; with {@code position} (a saved {@code ConsumerPosition},
   * Base64), what remains of the share after it.
   */
  public static final class Share implements PipelineDefinition {
    /** The assignment the parameters name. */
    public static dev.sluice.sharding.ShareAssignment assignment(Map<String, String> p) {
      RangeSource source = source(p);
      return dev.sluice.sharding.StaticAssigner.equal(
              Integer.parseInt(p.get("consumers")), dev.sluice.sharding.RemainderPolicy.DROP)
          .assign(
              dev.sluice.sharding.EpochPlan.create(
                  source.planSplits(),
                  Long.parseLong(p.get("seed")),
                  Integer.parseInt(p.get("epoch")),
                  true));
    }

    private static RangeSource source(Map<String, String> p) {
      return new RangeSource(Long.parseLong(p.get("rows")), Integer.parseInt(p.get("splits")));
    }

    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      dev.sluice.sharding.ShareAssignment a = assignment(p);
      String position = p.getOrDefault("position", "");
      Dataset share =
          position.isEmpty()
              ? sluice.readShare(source(p), a, Integer.parseInt(p.get("rank")))
              : sluice.resumeShare(
                  source(p),
                  a,
                  new dev.sluice.sharding.ConsumerPosition.Serializer()
                      .deserialize(java.util.Base64.getDecoder().decode(position)));
      return share.mapBatches(
          new Expand(Integer.parseInt(p.get("bytes"))),
          MapOptions.DEFAULT.withName("Decode").withCpus(0.5));
    }
  }

  /**
   * {@code rows} ids through a decoder that finds row {@code bad} corrupt, as a decoder finds a
   * truncated image: the error names the file and the entry.
   */
  public static final class Corrupt implements PipelineDefinition {
    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      long bad = Long.parseLong(p.get("bad"));
      BatchFunction decode =
          (in, ctx) -> {
            for (int i = 0; i < in.rowCount(); i++) {
              long id = in.getLong(RangeSource.COLUMN, i);
              if (id == bad) {
                throw new dev.sluice.loader.SluiceException(
                    "truncated PNG: the data ends inside chunk IDAT",
                    null,
                    "shards/train-0007.tar",
                    "sample-" + id + ".png",
                    null);
              }
            }
            return in;
          };
      return sluice
          .range(Long.parseLong(p.get("rows")), 4)
          .mapBatches(decode, MapOptions.DEFAULT.withName("Decode").withCpus(0.5));
    }
  }

  /**
   * {@code rows} ids in {@code splits} splits held alternately on the hosts named in {@code hosts}
   * (comma-separated), each expanded to a payload of {@code bytes} bytes in stateless tasks.
   */
  public static final class HostedExpanding implements PipelineDefinition {
    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      return sluice
          .read(
              new HostedRange(
                  Long.parseLong(p.get("rows")),
                  Integer.parseInt(p.get("splits")),
                  List.of(p.get("hosts").split(","))))
          .mapBatches(
              new Expand(Integer.parseInt(p.get("bytes"))),
              MapOptions.DEFAULT.withName("Decode").withCpus(0.5));
    }
  }

  /** {@link RangeSource} whose split {@code i} is held on host {@code hosts[i mod hosts.size]}. */
  public static final class HostedRange implements dev.sluice.loader.source.Source {
    private final RangeSource range;
    private final List<String> hosts;

    HostedRange(long n, int splits, List<String> hosts) {
      this.range = new RangeSource(n, splits);
      this.hosts = List.copyOf(hosts);
    }

    @Override
    public String name() {
      return "ReadHostedRange";
    }

    @Override
    public Schema schema() {
      return range.schema();
    }

    @Override
    public List<dev.sluice.sharding.SourceSplit> planSplits() {
      List<dev.sluice.sharding.SourceSplit> out = new java.util.ArrayList<>();
      for (dev.sluice.sharding.SourceSplit s : range.planSplits()) {
        out.add(
            new dev.sluice.sharding.SourceSplit(
                s.sourceId(),
                s.index(),
                s.paths(),
                s.start(),
                s.end(),
                s.estimatedRows(),
                s.estimatedBytes(),
                List.of(hosts.get(s.index() % hosts.size()))));
      }
      return out;
    }

    @Override
    public dev.sluice.loader.source.SplitReader open(
        dev.sluice.sharding.SourceSplit split, dev.sluice.loader.source.ReadContext context) {
      return range.open(split, context);
    }
  }

  /**
   * A range whose listing grows by one split after its first: as files appearing while a job
   * starts, so that the members that list later see other splits than the first.
   */
  public static final class GrowingListing implements PipelineDefinition {
    /** Listings so far, in this JVM. */
    public static final java.util.concurrent.atomic.AtomicInteger LISTINGS =
        new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      return sluice.read(new Growing());
    }
  }

  /** See {@link GrowingListing}. */
  public static final class Growing implements dev.sluice.loader.source.Source {
    private final RangeSource four = new RangeSource(400, 4);
    private final RangeSource five = new RangeSource(500, 5);

    @Override
    public String name() {
      return "ReadGrowing";
    }

    @Override
    public Schema schema() {
      return four.schema();
    }

    @Override
    public List<dev.sluice.sharding.SourceSplit> planSplits() {
      return GrowingListing.LISTINGS.getAndIncrement() == 0 ? four.planSplits() : five.planSplits();
    }

    @Override
    public dev.sluice.loader.source.SplitReader open(
        dev.sluice.sharding.SourceSplit split, dev.sluice.loader.source.ReadContext context) {
      return five.open(split, context);
    }
  }

  /** The expected payload byte {@code j} of row {@code id}. */
  public static byte payloadByte(long id, int j) {
    return (byte) (id * 31 + j);
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
          for (int j = 0; j < bytes; j++) {
            data.setByte((long) i * bytes + j, payloadByte(id, j));
          }
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
