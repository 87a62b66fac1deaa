package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.Locality;
import dev.sluice.loader.SluiceException;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The consumer's end of an execution, as {@code BatchIterator} sees it: one whole execution, or one
 * consumer's share of a streaming split.
 */
public interface BlockStream {
  /** The next block, waiting for it; null at the end. Throws the execution's failure. */
  Batch take() throws InterruptedException;

  /** Where the consumer re-batches (counts against the execution's budget). */
  BufferAllocator consumerAllocator();

  /** Adds waiting measured by the consumer itself (a prefetching iterator). */
  void addConsumerWait(long nanos);

  /** Says the consumer measures its waiting itself, so {@link #take()} must not count it again. */
  void measureConsumerWaitOutside();

  /**
   * Says that the consumer may allocate up to {@code rows} rows in one go (the batch a re-batching
   * iterator copies rows into), so that the execution keeps room for them within its budget on top
   * of what the consumer holds. What the consumer holds (blocks, slices of them, copies made
   * before) is counted as it is held. Adds to what was said before.
   */
  default void consumerHolds(long rows) {}

  /**
   * Says that the consumer's user starts ({@code true}) or stops waiting for data, when the
   * consumer prefetches on a thread of its own (see {@link #measureConsumerWaitOutside()}): only a
   * waiting user lets the execution go beyond its plan to make progress.
   */
  default void userWaiting(boolean waiting) {}

  /**
   * The error to throw when the consumer cannot copy a batch of {@code batchRows} rows into its
   * allocator: it names the budget, the hard limit and what to change.
   */
  default SluiceException consumerOutOfMemory(
      int batchRows, org.apache.arrow.memory.OutOfMemoryException e) {
    return new SluiceException(
        "the consumer's batch of "
            + batchRows
            + " rows does not fit in memory: "
            + e.getMessage()
            + ". Lower the batch size or raise the memory budget",
        e);
  }

  /** Statistics of the execution. */
  DatasetStats stats();

  /**
   * Local and remote deliveries, for a consumer of a streaming split; {@link Locality#NONE}
   * otherwise.
   */
  default Locality locality() {
    return Locality.NONE;
  }

  /** The execution allocator's peak so far. */
  long peakMemory();

  /** Releases this consumer's end (and the execution, when nobody else uses it). */
  void close();
}
