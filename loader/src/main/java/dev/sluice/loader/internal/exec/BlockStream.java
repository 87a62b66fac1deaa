package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.Locality;
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

  /** Statistics of the execution. */
  DatasetStats stats();

  /** Local and remote deliveries, for a consumer of a streaming split; {@link Locality#NONE} otherwise. */
  default Locality locality() {
    return Locality.NONE;
  }

  /** The execution allocator's peak so far. */
  long peakMemory();

  /** Releases this consumer's end (and the execution, when nobody else uses it). */
  void close();
}
