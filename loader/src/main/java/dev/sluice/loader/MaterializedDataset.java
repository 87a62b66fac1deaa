package dev.sluice.loader;

import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A dataset whose blocks are held in memory ({@link Dataset#materialize()}). Reading it copies
 * blocks into each execution, so it can be read any number of times. Closing frees the held blocks.
 */
public final class MaterializedDataset implements AutoCloseable {
  private final Dataset dataset;
  private final List<Batch> blocks;
  private final BufferAllocator allocator;

  MaterializedDataset(Dataset dataset, List<Batch> blocks, BufferAllocator allocator) {
    this.dataset = dataset;
    this.blocks = blocks;
    this.allocator = allocator;
  }

  /** A dataset reading the held blocks (valid until this is closed). */
  public Dataset dataset() {
    return dataset;
  }

  /** Rows held. */
  public long rowCount() {
    long n = 0;
    for (Batch b : blocks) {
      n += b.rowCount();
    }
    return n;
  }

  /** Blocks held. */
  public int blockCount() {
    return blocks.size();
  }

  /** Bytes held. */
  public long sizeInBytes() {
    return allocator.getAllocatedMemory();
  }

  @Override
  public void close() {
    blocks.forEach(Batch::close);
    allocator.close();
  }
}
