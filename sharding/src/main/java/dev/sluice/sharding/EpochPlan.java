package dev.sluice.sharding;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;

/**
 * The order in which one epoch visits a source's splits: a permutation of the splits that depends
 * only on the splits (in their planning order), the seed and the epoch.
 *
 * <p>With {@code shuffle}, the permutation is a Fisher-Yates shuffle driven by a generator seeded
 * with a mixed hash of (seed, epoch): every process that plans the same splits with the same seed
 * and epoch gets the same order, whatever its thread timing, and consecutive epochs (or seeds) get
 * unrelated orders. Without {@code shuffle} the plan keeps the given order. The generator and the
 * shuffle are part of the position format ({@link ConsumerPosition#CURRENT_FORMAT}): plans do not
 * change between JDKs or releases of the same format, so a saved position stays valid.
 *
 * <p>Row counts: a plan accepts splits whose {@link SourceSplit#estimatedRows()} is known,
 * estimated or unknown ({@code -1}). Balanced assignment ({@link StaticAssigner#balanced(int)})
 * treats the counts as weights, so estimates are fine. Equal shares ({@link
 * StaticAssigner#equal(int, RemainderPolicy)}) cut the row stream at exact row numbers, so they
 * need every split's count and treat it as exact: a split that then yields another number of rows
 * is an error for the reader to report, not something the plan can detect.
 *
 * <p>Immutable and thread-safe.
 */
public final class EpochPlan {
  private final long seed;
  private final int epoch;
  private final boolean shuffled;
  private final List<SourceSplit> splits;

  private EpochPlan(long seed, int epoch, boolean shuffled, List<SourceSplit> splits) {
    this.seed = seed;
    this.epoch = epoch;
    this.shuffled = shuffled;
    this.splits = splits;
  }

  /**
   * Plans one epoch.
   *
   * @param splits the source's splits in their stable planning order (as {@link
   *     SourceSplit#index()} numbers them); the plan depends on this order, so every process must
   *     pass the same list. No two splits may share (sourceId, index).
   * @param seed the run's seed; the same seed gives the same plans
   * @param epoch the epoch, from 0
   * @param shuffle whether to permute the splits; false keeps the given order
   * @throws IllegalArgumentException if {@code epoch < 0} or two splits share (sourceId, index)
   */
  public static EpochPlan create(List<SourceSplit> splits, long seed, int epoch, boolean shuffle) {
    Objects.requireNonNull(splits, "splits");
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
    }
    var seen = new HashSet<String>();
    for (SourceSplit split : splits) {
      Objects.requireNonNull(split, "split");
      if (!seen.add(split.sourceId() + '\u0000' + split.index())) {
        throw new IllegalArgumentException(
            "two splits share source " + split.sourceId() + " and index " + split.index());
      }
    }
    var order = new ArrayList<>(splits);
    if (shuffle) {
      permute(order, SplitMix64.derive(SplitMix64.DOMAIN_PLAN, seed, epoch));
    }
    return new EpochPlan(seed, epoch, shuffle, List.copyOf(order));
  }

  /**
   * The files of a source of one sample per file, in the order epoch {@code epoch} reads them: a
   * permutation seeded by (seed, epoch), drawn apart from the split permutation of {@link #create}
   * (so the two never correlate). A source permutes its files with this before grouping them into
   * splits, so that every split holds files from across the dataset (Ray Data's {@code
   * shuffle="files"}). Part of the position format, like the plans: the same (files, seed, epoch)
   * give the same order on every JDK and in every process.
   *
   * @param files the files in their stable listing order
   * @throws IllegalArgumentException if {@code epoch < 0}
   */
  public static <T> List<T> shuffleFiles(List<T> files, long seed, int epoch) {
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
    }
    var order = new ArrayList<T>(files);
    permute(order, SplitMix64.derive(SplitMix64.DOMAIN_FILES, seed, epoch));
    return order;
  }

  /**
   * A seed for epoch {@code epoch} of a run seeded by {@code seed}, for the shuffles and random
   * draws that a plan does not cover (a consumer's local shuffle buffer, an augmentation): a
   * well-mixed hash, so that neighbouring (seed, epoch) pairs give unrelated sequences, unlike
   * {@code seed + epoch}. Stable across JDKs and releases of the same position format.
   */
  public static long epochSeed(long seed, int epoch) {
    return SplitMix64.derive(SplitMix64.DOMAIN_SEED, seed, epoch).nextLong();
  }

  /** Fisher-Yates, from the end, drawing from {@code random}. */
  private static <T> void permute(List<T> order, SplitMix64 random) {
    for (int i = order.size() - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      order.set(i, order.set(j, order.get(i)));
    }
  }

  /** The seed the plan was made with. */
  public long seed() {
    return seed;
  }

  /** The epoch the plan is for, from 0. */
  public int epoch() {
    return epoch;
  }

  /** Whether the splits were permuted (false: they keep their planning order). */
  public boolean shuffled() {
    return shuffled;
  }

  /** The splits in this epoch's order; unmodifiable. */
  public List<SourceSplit> splits() {
    return splits;
  }

  /** The number of splits. */
  public int size() {
    return splits.size();
  }

  /** The split at {@code position} in this epoch's order. */
  public SourceSplit split(int position) {
    return splits.get(position);
  }

  /** Whether every split has a row count ({@code estimatedRows >= 0}); needed for equal shares. */
  public boolean rowsKnown() {
    return splits.stream().allMatch(SourceSplit::rowsKnown);
  }

  /**
   * The sum of the splits' row counts.
   *
   * @throws IllegalStateException if some split's row count is unknown
   */
  public long totalRows() {
    long total = 0;
    for (SourceSplit split : splits) {
      if (!split.rowsKnown()) {
        throw new IllegalStateException("row count unknown for split " + split.describe());
      }
      total = Math.addExact(total, split.estimatedRows());
    }
    return total;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EpochPlan other
        && seed == other.seed
        && epoch == other.epoch
        && shuffled == other.shuffled
        && splits.equals(other.splits);
  }

  @Override
  public int hashCode() {
    return Objects.hash(seed, epoch, shuffled, splits);
  }

  @Override
  public String toString() {
    return "EpochPlan[epoch="
        + epoch
        + ", seed="
        + seed
        + ", shuffled="
        + shuffled
        + ", splits="
        + splits.size()
        + "]";
  }
}
