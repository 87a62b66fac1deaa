package dev.sluice.loader.runtime;

/**
 * What a task hands back to the scheduler from its node: the reference to its output, kept in the
 * node's {@link BlockStore} under the name the task's spec gives it, and the figures the scheduler
 * learns from. Nothing in it is a live object of the node's process, so it crosses a wire as it is.
 *
 * @param output the output block, or null when the task made no rows
 * @param rowsIn rows the task consumed
 * @param bytesIn bytes the task consumed
 * @param peakBytes the peak of the task's allocator
 * @param wallNanos time the task ran
 * @param cpuNanos CPU time of the task's thread
 * @param exhausted for reads: the split has no more rows
 */
public record TaskOutcome(
    BlockRef output,
    long rowsIn,
    long bytesIn,
    long peakBytes,
    long wallNanos,
    long cpuNanos,
    boolean exhausted) {
  public TaskOutcome {
    if (rowsIn < 0 || bytesIn < 0 || peakBytes < 0 || wallNanos < 0 || cpuNanos < 0) {
      throw new IllegalArgumentException(
          "bad outcome: " + rowsIn + " rows, " + bytesIn + " B in, peak " + peakBytes);
    }
  }
}
