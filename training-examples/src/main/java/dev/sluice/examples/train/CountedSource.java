package dev.sluice.examples.train;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.source.ReadContext;
import dev.sluice.loader.source.Source;
import dev.sluice.loader.source.SplitReader;
import dev.sluice.loader.source.WebDatasetSource;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Tar shards with their sample counts known, so that a position in an epoch (rows delivered) maps
 * exactly to shards done and an offset: what makes a checkpoint resumable. WebDataset shards do
 * not say how many samples they hold, so {@link #count} reads them once (only the small {@code
 * cls} entries are kept; the rest is skipped while streaming).
 */
final class CountedSource implements Source {
  private final Source base;
  private final List<SourceSplit> splits;

  private CountedSource(Source base, List<SourceSplit> splits) {
    this.base = base;
    this.splits = List.copyOf(splits);
  }

  /** Counts the samples of every shard of {@code pattern}, with one pass through the shards. */
  static CountedSource count(Sluice sluice, String pattern, String smallExtension) throws IOException {
    Source base = WebDatasetSource.of(pattern);
    Map<String, Long> perFile = new HashMap<>();
    Source probe = WebDatasetSource.builder(pattern).extensions(smallExtension).build();
    try (BatchIterator it = sluice.read(probe).iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          for (int r = 0; r < b.rowCount(); r++) {
            perFile.merge(b.getString(Batch.URL_COLUMN, r), 1L, Long::sum);
          }
        }
      }
    }
    List<SourceSplit> counted = new ArrayList<>();
    for (SourceSplit s : base.planSplits()) {
      long rows = perFile.getOrDefault(s.paths().get(0), 0L);
      counted.add(new SourceSplit(s.sourceId(), s.index(), s.paths(), s.start(), s.end(), rows, s.estimatedBytes(), s.hosts()));
    }
    return new CountedSource(base, counted);
  }

  @Override
  public String name() {
    return base.name();
  }

  @Override
  public Schema schema() {
    return base.schema();
  }

  @Override
  public List<SourceSplit> planSplits() {
    return splits;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) throws IOException {
    return base.open(split, context);
  }
}
