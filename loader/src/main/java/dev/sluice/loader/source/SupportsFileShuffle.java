package dev.sluice.loader.source;

import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.util.List;

/**
 * A capability of a {@link Source} that reads one sample per file (an image folder, binary files):
 * it can permute its files before grouping them into splits, so that every split, and so every
 * block, holds files from across the whole dataset, in another order each epoch (Ray Data's {@code
 * shuffle="files"}). Without it a source's files are shuffled only as whole splits, and a folder
 * sorted by class stays sorted within each split.
 *
 * <p>{@link dev.sluice.loader.Dataset#shuffleFiles(long)} uses it; sources without it have their
 * splits (their files or shards) permuted instead.
 */
public interface SupportsFileShuffle {
  /**
   * The splits of epoch {@code epoch}: the same files as {@link Source#planSplits()}, permuted by
   * {@link dev.sluice.sharding.EpochPlan#shuffleFiles} with (seed, epoch) and then grouped as
   * usual. The result depends only on the files, the seed and the epoch, so every process that
   * plans it gets the same splits; split indices number the shuffled grouping.
   */
  List<SourceSplit> planSplits(long seed, int epoch) throws IOException;
}
