package dev.sluice.nd4j;

import java.time.Duration;

/**
 * How much a trainer waited for data: the stall figure of a Sluice iterator. Counted from the start
 * of each epoch to its end (or to now for the running epoch), summed over epochs, so that time
 * spent between epochs (evaluation, checkpoints) does not count as wall time.
 *
 * @param batches batches handed out by {@code next()}
 * @param waitNanos total time {@code next()} and {@code hasNext()} waited for a ready batch
 * @param wallNanos wall time of the epochs so far
 * @param arraysAllocated arrays allocated fresh by the conversions
 * @param arraysReused arrays the conversions took from the recycled ones ({@code reuseArrays}); 0
 *     when arrays are not recycled
 * @param batchesShared batches whose features were handed out as views of their Arrow memory, with
 *     no copy at all (features that need no conversion, with {@code reuseArrays}, on the CPU
 *     backend)
 */
public record PrefetchStats(
    long batches,
    long waitNanos,
    long wallNanos,
    long arraysAllocated,
    long arraysReused,
    long batchesShared) {

  /** The time spent waiting. */
  public Duration waited() {
    return Duration.ofNanos(waitNanos);
  }

  /** The wall time of the epochs so far. */
  public Duration wall() {
    return Duration.ofNanos(wallNanos);
  }

  /**
   * The share of wall time spent waiting, in [0, 1]: near 0 when data is always ready, near 1 when
   * the trainer is starved. 0 before any epoch.
   */
  public double stallShare() {
    return wallNanos <= 0 ? 0 : Math.min(1.0, (double) waitNanos / wallNanos);
  }

  /**
   * What happened since {@code earlier} (figures of the same iterator taken before): for one
   * epoch's stall, take the stats at its start and {@code stats().since(atStart)} at its end.
   *
   * @throws IllegalArgumentException if {@code earlier} is not earlier (a figure would go back)
   */
  public PrefetchStats since(PrefetchStats earlier) {
    if (earlier.batches > batches
        || earlier.waitNanos > waitNanos
        || earlier.wallNanos > wallNanos
        || earlier.arraysAllocated > arraysAllocated
        || earlier.arraysReused > arraysReused
        || earlier.batchesShared > batchesShared) {
      throw new IllegalArgumentException(
          "not earlier figures of the same iterator: " + earlier + " vs " + this);
    }
    return new PrefetchStats(
        batches - earlier.batches,
        waitNanos - earlier.waitNanos,
        wallNanos - earlier.wallNanos,
        arraysAllocated - earlier.arraysAllocated,
        arraysReused - earlier.arraysReused,
        batchesShared - earlier.batchesShared);
  }

  @Override
  public String toString() {
    return String.format(
        "%d batches, waited %.3f s of %.3f s (%.1f%%), arrays allocated %d, reused %d, batches shared %d",
        batches,
        waitNanos / 1e9,
        wallNanos / 1e9,
        100 * stallShare(),
        arraysAllocated,
        arraysReused,
        batchesShared);
  }
}
