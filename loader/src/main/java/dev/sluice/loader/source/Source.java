package dev.sluice.loader.source;

import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.util.List;

/**
 * A readable dataset: cuts itself into {@link SourceSplit}s and opens a reader for one split.
 * Implementations are immutable and thread-safe; each reader is used by one thread at a time.
 */
public interface Source {
  /** A short name for plans and logs, such as {@code ReadWebDataset}. */
  String name();

  /**
   * The splits, in a stable order (their {@code index} is their position). May touch storage (list
   * directories, read footers); a missing file raises an {@link IOException} naming it.
   */
  List<SourceSplit> planSplits() throws IOException;

  /** Opens a reader over one split. */
  SplitReader open(SourceSplit split, ReadContext context) throws IOException;

  /** The schema of the batches, when known without reading; null otherwise. */
  default org.apache.arrow.vector.types.pojo.Schema schema() {
    return null;
  }
}
