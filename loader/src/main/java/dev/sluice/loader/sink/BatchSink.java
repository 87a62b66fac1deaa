package dev.sluice.loader.sink;

import dev.sluice.loader.Batch;
import java.io.IOException;

/**
 * Writes batches somewhere (files of a format). {@link #write} does not take ownership of the
 * batch; {@link #close()} flushes and closes what the sink opened. Used by one thread at a time.
 */
public interface BatchSink extends AutoCloseable {
  /** Writes all rows of a batch. */
  void write(Batch batch) throws IOException;

  @Override
  void close() throws IOException;
}
