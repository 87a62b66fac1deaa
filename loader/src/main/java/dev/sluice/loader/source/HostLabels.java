package dev.sluice.loader.source;

import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Says which hosts hold a source's splits, for a source that cannot tell (files on shared storage,
 * where every path reads anywhere but some hosts read some paths faster: the storage attached to a
 * rack, a local copy on some machines). A cluster's workers lease the splits of their own host
 * label first ({@code sluice-worker --host}), so this is how a shared-storage job gets locality:
 *
 * <pre>{@code
 * // Each shard is cached on the machines of one rack (rackOf: the job's own mapping).
 * Source shards = HostLabels.of(source, split -> List.of(rackOf(split.paths().get(0))));
 * }</pre>
 *
 * The hosts replace the source's own; the splits are otherwise the source's (shuffled per epoch
 * when the source supports it). Every member builds the same source from the pipeline's definition,
 * so the function runs in each process: it must depend on the split only.
 */
public final class HostLabels {
  private HostLabels() {}

  /** The hosts of a split. */
  @FunctionalInterface
  public interface SplitHosts extends Function<SourceSplit, List<String>>, Serializable {}

  /** {@code source} with its splits' hosts given by {@code hosts}. */
  public static Source of(Source source, SplitHosts hosts) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(hosts, "hosts");
    return source instanceof SupportsFileShuffle
        ? new Shuffleable(source, hosts)
        : new Labelled(source, hosts);
  }

  /** Every split of {@code source} on one host {@code label}. */
  public static Source all(Source source, String label) {
    Objects.requireNonNull(label, "label");
    return of(source, split -> List.of(label));
  }

  private static List<SourceSplit> relabel(List<SourceSplit> splits, SplitHosts hosts) {
    List<SourceSplit> out = new ArrayList<>(splits.size());
    for (SourceSplit s : splits) {
      List<String> h = hosts.apply(s);
      out.add(
          new SourceSplit(
              s.sourceId(),
              s.index(),
              s.paths(),
              s.start(),
              s.end(),
              s.estimatedRows(),
              s.estimatedBytes(),
              h == null ? List.of() : h));
    }
    return out;
  }

  private static class Labelled implements Source {
    final Source source;
    final SplitHosts hosts;

    Labelled(Source source, SplitHosts hosts) {
      this.source = source;
      this.hosts = hosts;
    }

    @Override
    public String name() {
      return source.name();
    }

    @Override
    public List<SourceSplit> planSplits() throws IOException {
      return relabel(source.planSplits(), hosts);
    }

    @Override
    public SplitReader open(SourceSplit split, ReadContext context) throws IOException {
      return source.open(split, context);
    }

    @Override
    public Schema schema() {
      return source.schema();
    }

    /** The labelled source, for the plan's fingerprint. */
    @Override
    public String toString() {
      return "HostLabels(" + source + ")";
    }
  }

  private static final class Shuffleable extends Labelled implements SupportsFileShuffle {
    Shuffleable(Source source, SplitHosts hosts) {
      super(source, hosts);
    }

    @Override
    public List<SourceSplit> planSplits(long seed, int epoch) throws IOException {
      return relabel(((SupportsFileShuffle) source).planSplits(seed, epoch), hosts);
    }
  }
}
