package dev.sluice.loader.sink;

import dev.sluice.loader.Batch;
import java.io.IOException;

/**
 * Writes batches somewhere (files of a format). {@link #write} does not take ownership of the
 * batch; {@link #close()} completes and closes what the sink opened; {@link #abort()} is called
 * instead when the write fails. Used by one thread at a time.
 */
public interface BatchSink extends AutoCloseable {
  /** Writes all rows of a batch. */
  void write(Batch batch) throws IOException;

  /** Completes the output (the write succeeded) and closes the sink. */
  @Override
  void close() throws IOException;

  /**
   * The write failed: discards what the sink had written, as far as it can, and closes it. File
   * sinks ({@link FileSink}) delete their temporary file and the files they completed. The default
   * closes the sink.
   */
  default void abort() throws IOException {
    close();
  }
}
