package dev.sluice.loader;

import dev.sluice.loader.source.RangeSource;
import dev.sluice.loader.source.ReadContext;
import dev.sluice.loader.source.Source;
import dev.sluice.loader.source.SplitReader;
import dev.sluice.sharding.SourceSplit;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.vector.types.pojo.Schema;

/** {@link RangeSource} whose split {@code i} is held on host {@code hosts[i mod hosts.length]}. */
public final class HostedRangeSource implements Source {
  private final RangeSource range;
  private final List<String> hosts;

  public HostedRangeSource(long n, int splits, List<String> hosts) {
    this.range = new RangeSource(n, splits);
    this.hosts = List.copyOf(hosts);
  }

  /** The host of the split that holds row {@code id}. */
  String hostOf(long id) {
    for (SourceSplit s : planSplits()) {
      if (id >= s.start() && id < s.end()) {
        return s.hosts().get(0);
      }
    }
    throw new IllegalArgumentException("no row " + id);
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
  public List<SourceSplit> planSplits() {
    List<SourceSplit> out = new ArrayList<>();
    for (SourceSplit s : range.planSplits()) {
      out.add(
          new SourceSplit(
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
  public SplitReader open(SourceSplit split, ReadContext context) {
    return range.open(split, context);
  }
}
