package dev.sluice.loader.sink;

import java.io.IOException;

/** Opens a sink when a write starts (so that a dataset can be written more than once). */
@FunctionalInterface
public interface SinkFactory {
  /** A new, open sink; the write closes it. */
  BatchSink open() throws IOException;
}
