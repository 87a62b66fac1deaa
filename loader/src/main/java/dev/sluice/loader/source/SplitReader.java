package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import java.io.IOException;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Reads one split as a sequence of batches, streaming: it holds at most one batch's worth of input
 * in memory, never a whole file. Used by one thread at a time (the executor may move it between
 * threads, with a happens-before edge between calls).
 */
public interface SplitReader extends AutoCloseable {
  /**
   * The next batch of at most {@link ReadContext#targetRows()} rows (and roughly {@link
   * ReadContext#targetBytes()} bytes), allocated in {@code allocator} and owned by the caller; null
   * when the split is exhausted. A corrupt record is reported to {@link ReadContext#badRecords()},
   * which either lets the reader skip it or throws an error naming the file and the entry.
   */
  Batch next(BufferAllocator allocator) throws IOException;

  @Override
  void close() throws IOException;
}
