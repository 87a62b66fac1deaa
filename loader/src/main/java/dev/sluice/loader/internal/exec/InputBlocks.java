package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.runtime.BlockRef;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Where a node's tasks read their input blocks: from the node's own store (shared, read in place)
 * or, for a block another process holds, fetched into the task's allocator (a copy the task owns).
 */
@FunctionalInterface
public interface InputBlocks {

  /**
   * An input block.
   *
   * @param batch the block's rows
   * @param owned whether the reader closes it (a copy) or only reads it (a store's block)
   */
  record Opened(Batch batch, boolean owned) {}

  /**
   * Opens {@code ref} for a task.
   *
   * @param ref the block
   * @param taskAllocator the task's allocator, for a copy
   * @throws dev.sluice.loader.runtime.BlockLostException when the block is gone with its node
   */
  Opened open(BlockRef ref, BufferAllocator taskAllocator);
}
