package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;

/**
 * A block waiting in an operator's input queue, shared by the queue and by the tasks that read
 * parts of it (when re-batching cuts one block into several bundles). Reference counted: the queue
 * holds one reference until it has handed out every row, each task one until it finishes; the block
 * is closed when the last reference goes. Thread-safe (tasks release on their threads).
 */
final class SharedBlock {
  private final Batch batch;
  private final long bytes;
  private int refs = 1;

  /** Rows already handed to tasks; only the scheduling thread touches it. */
  int offset;

  SharedBlock(Batch batch) {
    this.batch = batch;
    this.bytes = batch.sizeInBytes();
  }

  Batch batch() {
    return batch;
  }

  int rows() {
    return batch.rowCount();
  }

  long bytes() {
    return bytes;
  }

  synchronized void retain() {
    if (refs <= 0) {
      throw new IllegalStateException("block already released");
    }
    refs++;
  }

  synchronized void release() {
    if (--refs == 0) {
      batch.close();
    } else if (refs < 0) {
      throw new IllegalStateException("block released twice");
    }
  }

  /** A row range of a shared block, read by one task. */
  record Segment(SharedBlock block, int from, int to) {
    int rows() {
      return to - from;
    }

    boolean whole() {
      return from == 0 && to == block.rows();
    }
  }
}
