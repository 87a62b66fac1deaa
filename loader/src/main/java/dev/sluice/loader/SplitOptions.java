package dev.sluice.loader;

import dev.sluice.sharding.RemainderPolicy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * How {@link Dataset#streamingSplit(int, SplitOptions)} divides one execution among its consumers.
 * Immutable.
 *
 * @param equal whether every consumer gets the same number of rows (see {@link #remainder})
 * @param remainder with {@code equal}, what happens to the {@code R mod n} rows that do not divide
 *     evenly ({@link RemainderPolicy#DROP}: left out; {@link RemainderPolicy#PAD}: made up by
 *     repeating the first rows the split received; {@link RemainderPolicy#UNEVEN}: shares differ by
 *     at most one row); ignored without {@code equal}. The choice and its numbers are logged.
 * @param localityHints one host name per consumer (null or empty for "no preference"), or an empty
 *     list for no hints at all: a block read from a split held on a consumer's host goes preferably
 *     to that consumer, when it has room. Preferences only: they never make a consumer wait.
 * @param bufferBlocks blocks each consumer's queue holds at most, {@code >= 1}
 * @param iterOptions how each consumer's iterator cuts its share into batches
 * @param whenTrainerLost for a split shared by trainers in several processes ({@link
 *     Dataset#streamingShare}), what the others do when one dies mid-epoch
 */
public record SplitOptions(
    boolean equal,
    RemainderPolicy remainder,
    List<String> localityHints,
    int bufferBlocks,
    IterOptions iterOptions,
    TrainerLoss whenTrainerLost) {

  /**
   * What the trainers of a shared split do when one of them is lost mid-epoch (its process died or
   * left the cluster without closing its iterator).
   */
  public enum TrainerLoss {
    /**
     * Every other trainer's {@code next()} fails with an error naming the lost trainer and its
     * index: the epoch stops, as a data-parallel job whose rank died would. The default.
     */
    FAIL,
    /**
     * The others go on with their own shares to the end of the epoch; the lost trainer's consumer
     * leaves the split (the blocks queued for it and those it had not confirmed are dropped, its
     * rows are not given to the others), and equal shares are evened out among those left. Logged,
     * and counted in the execution's events.
     */
    CONTINUE
  }

  public SplitOptions {
    Objects.requireNonNull(remainder, "remainder");
    Objects.requireNonNull(iterOptions, "iterOptions");
    Objects.requireNonNull(whenTrainerLost, "whenTrainerLost");
    localityHints =
        Collections.unmodifiableList(
            new ArrayList<>(Objects.requireNonNull(localityHints, "localityHints")));
    if (bufferBlocks < 1) {
      throw new IllegalArgumentException("bufferBlocks must be >= 1: " + bufferBlocks);
    }
  }

  /**
   * Shares that may differ: blocks go to whichever consumer has room. Two blocks of buffer, blocks
   * as they come.
   */
  public static SplitOptions unequal() {
    return new SplitOptions(
        false, RemainderPolicy.DROP, List.of(), 2, IterOptions.blocks(), TrainerLoss.FAIL);
  }

  /**
   * Equal shares, the remainder treated by {@code policy}. Two blocks of buffer, blocks as they
   * come.
   */
  public static SplitOptions equal(RemainderPolicy policy) {
    return new SplitOptions(true, policy, List.of(), 2, IterOptions.blocks(), TrainerLoss.FAIL);
  }

  /** The same with one host hint per consumer (an entry may be null for "no preference"). */
  public SplitOptions withLocalityHints(List<String> hints) {
    return new SplitOptions(equal, remainder, hints, bufferBlocks, iterOptions, whenTrainerLost);
  }

  /** The same with another buffer per consumer. */
  public SplitOptions withBufferBlocks(int blocks) {
    return new SplitOptions(equal, remainder, localityHints, blocks, iterOptions, whenTrainerLost);
  }

  /** The same with other iteration options. */
  public SplitOptions withIterOptions(IterOptions options) {
    return new SplitOptions(
        equal, remainder, localityHints, bufferBlocks, options, whenTrainerLost);
  }

  /** The same with another answer to a trainer lost mid-epoch (see {@link TrainerLoss}). */
  public SplitOptions whenTrainerLost(TrainerLoss loss) {
    return new SplitOptions(equal, remainder, localityHints, bufferBlocks, iterOptions, loss);
  }
}
