package dev.sluice.sharding;

import java.util.Objects;

/**
 * A range of rows of one split, as part of a consumer's share: rows {@code fromRow} (inclusive) to
 * {@code toRow} (exclusive), numbered from 0 in the order the split's reader yields them.
 *
 * <p>{@code toRow == -1} means "to the end of the split", however many rows it turns out to have.
 * Balanced shares ({@link StaticAssigner#balanced(int)}) hand out whole splits that way, because
 * their row counts may be estimates. Bounded ranges come from equal shares, which take the split's
 * row count as exact: they may cut a split between two consumers to make the shares equal, and a
 * bounded range never ends past the split's row count.
 *
 * @param split the split the rows belong to
 * @param fromRow first row, inclusive, {@code >= 0}
 * @param toRow end row, exclusive, {@code >= fromRow}, or -1 for the end of the split
 */
public record ShareSegment(SourceSplit split, long fromRow, long toRow) {

  /**
   * @throws IllegalArgumentException if the range is negative or reversed, or ends after the
   *     split's row count
   */
  public ShareSegment {
    Objects.requireNonNull(split, "split");
    if (fromRow < 0 || (toRow != -1 && toRow < fromRow)) {
      throw new IllegalArgumentException(
          "bad row range [" + fromRow + ", " + toRow + ") of " + split.describe());
    }
    if (split.rowsKnown() && toRow > split.estimatedRows()) {
      throw new IllegalArgumentException(
          "row range ["
              + fromRow
              + ", "
              + toRow
              + ") beyond the "
              + split.estimatedRows()
              + " rows of "
              + split.describe());
    }
  }

  /** The whole split, open-ended: rows {@code [0, end of split)}. */
  public static ShareSegment whole(SourceSplit split) {
    return new ShareSegment(split, 0, -1);
  }

  /** Whether the segment's row count is known: its end is bounded. */
  public boolean rowsKnown() {
    return toRow != -1;
  }

  /** The number of rows, or -1 when the segment runs to the end of its split. */
  public long rows() {
    return toRow == -1 ? -1 : toRow - fromRow;
  }

  /** The rest of this segment after its first {@code delivered} rows. */
  ShareSegment skip(long delivered) {
    return new ShareSegment(split, fromRow + delivered, toRow);
  }

  @Override
  public String toString() {
    return split.describe() + " rows [" + fromRow + ", " + (toRow == -1 ? "end" : toRow) + ")";
  }
}
