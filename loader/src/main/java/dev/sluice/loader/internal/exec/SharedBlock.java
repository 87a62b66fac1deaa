package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Lineage;

/**
 * A block waiting in an operator's input queue, shared by the queue and by the tasks that read
 * parts of it (when re-batching cuts one block into several bundles). Reference counted: the queue
 * holds one reference until it has handed out every row, each task one until it finishes; the block
 * is released from its store when the last reference goes. Thread-safe (tasks release on their
 * threads).
 */
final class SharedBlock {
  private final BlockRef ref;
  private final BlockDirectory blocks;
  private int refs = 1;

  /** Rows already handed to tasks; only the scheduling thread touches it. */
  int offset;

  SharedBlock(BlockRef ref, BlockDirectory blocks) {
    this.ref = ref;
    this.blocks = blocks;
  }

  BlockRef ref() {
    return ref;
  }

  /** The reference the block now lives under (another when it was lost and made again). */
  BlockRef current() {
    return blocks.current(ref);
  }

  /** The block's rows, read from its store (by a task that holds a reference). */
  Batch batch() {
    return blocks.get(ref);
  }

  /** Whether the block can be read now (not lost and waiting to be made again). */
  boolean ready() {
    return blocks.ready(ref);
  }

  int rows() {
    return ref.rows();
  }

  long bytes() {
    return ref.bytes();
  }

  synchronized void retain() {
    if (refs <= 0) {
      throw new IllegalStateException("block already released");
    }
    refs++;
  }

  synchronized void release() {
    if (--refs == 0) {
      blocks.release(ref);
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

    /** The range as lineage (what the task's output was made from). */
    Lineage.Slice slice() {
      return new Lineage.Slice(block.ref().lineage(), from, to, block.rows());
    }
  }
}
