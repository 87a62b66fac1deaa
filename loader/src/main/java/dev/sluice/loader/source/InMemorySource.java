package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import dev.sluice.sharding.SourceSplit;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Batches held in memory (a materialised dataset), one split per batch. Readers hand out copies, so
 * the held batches can be read any number of times; the owner of the batches closes them.
 */
public final class InMemorySource implements Source {
  private final List<Batch> batches;
  private final String id;

  /** Reads the given batches (not owned). */
  public InMemorySource(String id, List<Batch> batches) {
    this.id = id;
    this.batches = List.copyOf(batches);
  }

  @Override
  public String name() {
    return "ReadMaterialized";
  }

  @Override
  public List<SourceSplit> planSplits() {
    List<SourceSplit> out = new ArrayList<>();
    for (int i = 0; i < batches.size(); i++) {
      Batch b = batches.get(i);
      out.add(
          new SourceSplit(
              id,
              i,
              List.of(id + "#" + i),
              0,
              b.rowCount(),
              b.rowCount(),
              b.sizeInBytes(),
              List.of()));
    }
    return out;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) {
    Batch held = batches.get(split.index());
    return new SplitReader() {
      private int next;

      @Override
      public Batch next(BufferAllocator allocator) {
        if (next >= held.rowCount()) {
          return null;
        }
        int rows = Math.min(context.targetRows(), held.rowCount() - next);
        Batch out = held.slice(allocator, next, rows);
        next += rows;
        return out;
      }

      @Override
      public void close() {}
    };
  }
}
