package dev.sluice.sharding;

import java.util.Objects;

/**
 * The right of one consumer to read one split of an epoch, until it completes the split or is
 * declared failed. A split handed out again after a failure gets a new lease with a higher {@code
 * attempt}, so a late completion of the old lease is told apart and rejected ({@link
 * SplitEnumerator#complete(SplitLease)}).
 *
 * @param epoch the epoch of the enumerator that issued the lease
 * @param planPosition the split's position in the epoch's plan
 * @param split the split to read, whole, from its first row
 * @param consumerId the consumer holding the lease
 * @param attempt 0 for the first lease of this split in this epoch, one more for each re-issue
 */
public record SplitLease(
    int epoch, int planPosition, SourceSplit split, int consumerId, int attempt)
    implements SplitResponse {

  public SplitLease {
    Objects.requireNonNull(split, "split");
    if (epoch < 0 || planPosition < 0 || consumerId < 0 || attempt < 0) {
      throw new IllegalArgumentException(
          "bad lease: epoch "
              + epoch
              + ", position "
              + planPosition
              + ", consumer "
              + consumerId
              + ", attempt "
              + attempt);
    }
  }
}
