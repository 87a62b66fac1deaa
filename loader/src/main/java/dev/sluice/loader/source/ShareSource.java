package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import dev.sluice.sharding.ShareSegment;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * One consumer's share of a source: the row ranges ({@link ShareSegment}s) of its splits that a
 * sharding assignment gave it, read in order. Each segment becomes one split of this source; its
 * reader reads the underlying split and keeps rows {@code [fromRow, toRow)} of it (rows before are
 * read and dropped: sources stream, they do not seek). Read with order preserved, the rows come out
 * exactly in the share's order, which is what makes positions resumable: a remainder computed from
 * a saved position is again a list of segments.
 */
public final class ShareSource implements Source {
  private final Source base;
  private final List<ShareSegment> segments;
  private final String id;

  /**
   * A source reading {@code segments} of {@code base}, in order.
   *
   * @param base the source the segments' splits come from
   * @param segments the row ranges to read
   * @param id names this share in splits and messages (for example {@code rank-2-epoch-5})
   */
  public ShareSource(Source base, List<ShareSegment> segments, String id) {
    this.base = base;
    this.segments = List.copyOf(segments);
    this.id = id;
  }

  @Override
  public String name() {
    return base.name();
  }

  @Override
  public Schema schema() {
    return base.schema();
  }

  @Override
  public List<SourceSplit> planSplits() {
    List<SourceSplit> out = new ArrayList<>();
    for (int i = 0; i < segments.size(); i++) {
      ShareSegment s = segments.get(i);
      SourceSplit u = s.split();
      out.add(
          new SourceSplit(
              id,
              i,
              u.paths(),
              s.fromRow(),
              s.toRow(),
              s.rowsKnown() ? s.rows() : -1,
              u.estimatedBytes(),
              u.hosts()));
    }
    return out;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) throws IOException {
    ShareSegment segment = segments.get(split.index());
    SplitReader reader = base.open(segment.split(), context);
    return new SplitReader() {
      private long row; // rows of the underlying split read so far

      @Override
      public Batch next(BufferAllocator allocator) throws IOException {
        while (true) {
          if (segment.toRow() >= 0 && row >= segment.toRow()) {
            return null;
          }
          Batch b = reader.next(allocator);
          if (b == null) {
            return null;
          }
          long from = row;
          long to = row + b.rowCount();
          row = to;
          long keepFrom = Math.max(from, segment.fromRow());
          long keepTo = segment.toRow() < 0 ? to : Math.min(to, segment.toRow());
          if (keepTo <= keepFrom) {
            b.close();
            continue;
          }
          if (keepFrom == from && keepTo == to) {
            return b;
          }
          try (b) {
            return b.slice(allocator, (int) (keepFrom - from), (int) (keepTo - keepFrom));
          }
        }
      }

      @Override
      public void close() throws IOException {
        reader.close();
      }
    };
  }
}
