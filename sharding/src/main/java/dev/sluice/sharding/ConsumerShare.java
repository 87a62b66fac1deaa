package dev.sluice.sharding;

import java.util.List;

/**
 * One consumer's share of an epoch: the row ranges it delivers, in the order it delivers them.
 *
 * <p>Segments from {@code repeatedFrom} on (only under {@link RemainderPolicy#PAD}) repeat rows
 * that are also delivered elsewhere in the epoch, to make the shares equal; an evaluation that must
 * count each row once skips them. They always come last. Positions ({@link ConsumerPosition}) index
 * into {@link #segments()}.
 *
 * @param rank the consumer's rank, from 0
 * @param segments the row ranges in delivery order (repeated ones included, last)
 * @param repeatedFrom index of the first repeated segment; {@code segments.size()} when none
 */
public record ConsumerShare(int rank, List<ShareSegment> segments, int repeatedFrom) {

  public ConsumerShare {
    if (rank < 0) {
      throw new IllegalArgumentException("rank must be >= 0: " + rank);
    }
    segments = List.copyOf(segments);
    if (repeatedFrom < 0 || repeatedFrom > segments.size()) {
      throw new IllegalArgumentException(
          "repeatedFrom " + repeatedFrom + " outside [0, " + segments.size() + "]");
    }
  }

  /** Whether every segment is bounded, so that the share's row count is known. */
  public boolean rowsKnown() {
    return segments.stream().allMatch(ShareSegment::rowsKnown);
  }

  /** Rows in the share, repeated ones included; -1 if some segment is open-ended. */
  public long rows() {
    long total = 0;
    for (ShareSegment segment : segments) {
      if (!segment.rowsKnown()) {
        return -1;
      }
      total += segment.rows();
    }
    return total;
  }

  /** The segments that repeat rows delivered elsewhere (under {@link RemainderPolicy#PAD}). */
  public List<ShareSegment> repeatedSegments() {
    return segments.subList(repeatedFrom, segments.size());
  }

  /** Rows of {@link #repeatedSegments()}; 0 unless the policy is {@link RemainderPolicy#PAD}. */
  public long repeatedRows() {
    return repeatedSegments().stream().mapToLong(ShareSegment::rows).sum();
  }
}
