package dev.sluice.loader.internal.exec;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.source.ReadContext;
import dev.sluice.loader.source.SplitReader;
import dev.sluice.sharding.SourceSplit;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Makes a read's block again from its name alone: opens the split, reads up to the block's first
 * row, takes the block's rows and runs the read's fused functions over them. A read block never
 * spans two of the source's blocks (a split is cut within the source's blocks), so the rows come
 * from one source block, as they did the first time. The work a lost block's recomputation does.
 */
final class ReadReplay {
  private ReadReplay() {}

  /**
   * The block named {@code lineage}, in {@code allocator}, owned by the caller.
   *
   * @param read the read operator (source and fused functions) the block was made by
   * @param split the split {@code lineage} names
   */
  static Batch remake(
      ReadOp read,
      SourceSplit split,
      Lineage.Read lineage,
      ReadContext context,
      BadRecords badRecords,
      int epoch,
      BufferAllocator allocator)
      throws Exception {
    if (split.index() != lineage.split()) {
      throw new IllegalArgumentException(
          "the block is of split " + lineage.split() + ", not " + split.describe());
    }
    try (SplitReader reader = read.source().open(split, context)) {
      long row = 0;
      for (Batch raw; (raw = reader.next(allocator)) != null; ) {
        long end = row + raw.rowCount();
        if (lineage.fromRow() < row || lineage.toRow() > end) {
          raw.close();
          row = end;
          if (row > lineage.fromRow()) {
            break; // the block would span two source blocks: not a block this read made
          }
          continue;
        }
        int from = (int) (lineage.fromRow() - row);
        int rows = (int) (lineage.toRow() - lineage.fromRow());
        Batch part = raw;
        if (from != 0 || rows != raw.rowCount()) {
          try {
            part = raw.slice(allocator, from, rows);
          } finally {
            raw.close();
          }
        }
        return read.fused().isEmpty()
            ? part
            : TaskBody.runChain(
                read.fused(), part, true, allocator, badRecords, read.name(), epoch);
      }
      throw new IllegalStateException(
          "split "
              + split.describe()
              + " has no block at rows "
              + lineage.fromRow()
              + ".."
              + lineage.toRow()
              + " ("
              + row
              + " rows read)");
    }
  }
}
