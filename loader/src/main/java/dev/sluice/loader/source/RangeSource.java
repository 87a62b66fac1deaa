package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.sharding.SourceSplit;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The integers {@code [0, n)} in a column {@code id} (int64), cut into {@code splits} row ranges:
 * Ray Data's {@code range}. For tests and benchmarks of the executor itself.
 */
public final class RangeSource implements Source {
  /** The column. */
  public static final String COLUMN = "id";

  private static final Schema SCHEMA = new Schema(List.of(Columns.int64(COLUMN)));

  private final long n;
  private final int splits;

  /** The integers {@code [0, n)} in {@code splits} splits. */
  public RangeSource(long n, int splits) {
    if (n < 0 || splits < 1) {
      throw new IllegalArgumentException("need n >= 0 and splits >= 1");
    }
    this.n = n;
    this.splits = splits;
  }

  @Override
  public String name() {
    return "ReadRange";
  }

  @Override
  public Schema schema() {
    return SCHEMA;
  }

  @Override
  public List<SourceSplit> planSplits() {
    List<SourceSplit> out = new ArrayList<>();
    int count = (int) Math.max(1, Math.min(splits, n));
    for (int i = 0; i < count; i++) {
      long from = n * i / count;
      long to = n * (i + 1) / count;
      out.add(
          new SourceSplit(
              "range-" + n, i, List.of("range"), from, to, to - from, (to - from) * 8, List.of()));
    }
    return out;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) {
    return new SplitReader() {
      private long next = split.start();

      @Override
      public Batch next(BufferAllocator allocator) {
        if (next >= split.end()) {
          return null;
        }
        int rows = (int) Math.min(context.targetRows(), split.end() - next);
        rows = (int) Math.max(1, Math.min(rows, context.targetBytes() / 8));
        try (BatchBuilder b = BatchBuilder.create(allocator, SCHEMA, rows, 0, List.of())) {
          for (int i = 0; i < rows; i++) {
            b.setLong(COLUMN, i, next + i);
          }
          next += rows;
          return b.build(rows);
        }
      }

      @Override
      public void close() {}
    };
  }
}
