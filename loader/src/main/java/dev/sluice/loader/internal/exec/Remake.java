package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.runtime.Lineage;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Makes a block again from its lineage alone, as Ray reconstructs a lost object: a read's block by
 * reading its rows of its split again ({@link ReadReplay}); a task's block by making its inputs
 * again, cutting the recorded slices of them and running the operator's functions over them. The
 * inputs are always made again from the read (they were released once used), so this costs the
 * whole chain; it runs only for blocks lost with a node. Functions must be deterministic for the
 * block to come out the same (its rows are checked against its name).
 */
final class Remake {
  private Remake() {}

  /** The block named {@code lineage}, in {@code allocator}, owned by the caller. */
  static Batch of(Lineage lineage, List<OperatorState> ops, BufferAllocator allocator)
      throws Exception {
    OperatorState producer = ops.get(lineage.operator());
    if (lineage instanceof Lineage.Read read) {
      return producer.remakeRead(read, allocator);
    }
    Lineage.Derived derived = (Lineage.Derived) lineage;
    List<Batch> parts = new ArrayList<>();
    try {
      for (Lineage.Slice s : derived.inputs()) {
        Batch in = of(s.block(), ops, allocator);
        if (in.rowCount() != s.rows()) {
          int rows = in.rowCount();
          in.close();
          throw new IllegalStateException(
              "made again, "
                  + s.block()
                  + " has "
                  + rows
                  + " rows, not "
                  + s.rows()
                  + ": a function upstream is not deterministic");
        }
        if (s.whole()) {
          parts.add(in);
        } else {
          try {
            parts.add(in.slice(allocator, s.from(), s.to() - s.from()));
          } finally {
            in.close();
          }
        }
      }
      Batch input = parts.size() == 1 ? parts.remove(0) : Batch.concat(allocator, parts);
      return producer.remakeFrom(input, allocator);
    } finally {
      parts.forEach(Batch::close);
    }
  }
}
