package dev.sluice.sharding;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;

/**
 * The result of assigning one epoch's plan to {@code n} consumers ({@link StaticAssigner}): for
 * each rank, the row ranges it delivers, in order; and the positions that let a consumer stop and
 * resume inside the epoch.
 *
 * <p>Guarantees, for every plan and consumer count: the shares are disjoint and, apart from the
 * rows {@link RemainderPolicy#DROP} leaves out ({@link #droppedSegments()}), cover every row of the
 * plan exactly once; the only rows delivered twice are the repeated tails under {@link
 * RemainderPolicy#PAD} ({@link ConsumerShare#repeatedSegments()}); with equal shares, every share
 * has the same number of rows (or, under {@link RemainderPolicy#UNEVEN}, at most one more). An
 * assignment depends only on the plan, the consumer count and the assigner, so planning the next
 * epoch with another consumer count (elastic training) is just another assignment, with the same
 * guarantees.
 *
 * <p>Immutable and thread-safe.
 */
public final class ShareAssignment {
  private final EpochPlan plan;
  private final boolean equalShares;
  private final RemainderPolicy policy;
  private final List<ConsumerShare> shares;
  private final List<ShareSegment> dropped;

  ShareAssignment(
      EpochPlan plan,
      boolean equalShares,
      RemainderPolicy policy,
      List<ConsumerShare> shares,
      List<ShareSegment> dropped) {
    this.plan = plan;
    this.equalShares = equalShares;
    this.policy = policy;
    this.shares = List.copyOf(shares);
    this.dropped = List.copyOf(dropped);
  }

  /** The plan this assigns. */
  public EpochPlan plan() {
    return plan;
  }

  /** The plan's seed. */
  public long seed() {
    return plan.seed();
  }

  /** The plan's epoch. */
  public int epoch() {
    return plan.epoch();
  }

  /** The number of consumers, {@code n >= 1}. */
  public int consumerCount() {
    return shares.size();
  }

  /** Whether the shares were made equal by rows (cutting splits where needed). */
  public boolean equalShares() {
    return equalShares;
  }

  /** The remainder policy of equal shares; empty for balanced shares. */
  public Optional<RemainderPolicy> remainderPolicy() {
    return Optional.ofNullable(policy);
  }

  /** Every consumer's share, indexed by rank. */
  public List<ConsumerShare> shares() {
    return shares;
  }

  /** The share of consumer {@code rank}. */
  public ConsumerShare share(int rank) {
    if (rank < 0 || rank >= shares.size()) {
      throw new IllegalArgumentException(
          "rank " + rank + " outside [0, " + shares.size() + ") consumers");
    }
    return shares.get(rank);
  }

  /** Rows left out of this epoch by {@link RemainderPolicy#DROP}, in plan order; else empty. */
  public List<ShareSegment> droppedSegments() {
    return dropped;
  }

  /** The number of rows in {@link #droppedSegments()}. */
  public long droppedRows() {
    return dropped.stream().mapToLong(ShareSegment::rows).sum();
  }

  /** Rows delivered a second time by {@link RemainderPolicy#PAD}, over all shares; else 0. */
  public long repeatedRows() {
    return shares.stream().mapToLong(ConsumerShare::repeatedRows).sum();
  }

  /** The position of consumer {@code rank} before it has delivered anything of this epoch. */
  public ConsumerPosition startPosition(int rank) {
    share(rank);
    return ConsumerPosition.startOfEpoch(seed(), epoch(), rank, consumerCount());
  }

  /**
   * A position of consumer {@code rank} in this epoch, with this assignment's seed, epoch and
   * consumer count.
   *
   * @param completedSegments indices of fully delivered segments of its share, in any order
   * @param offset rows delivered from the lowest-index segment not completed
   */
  public ConsumerPosition position(int rank, Collection<Integer> completedSegments, long offset) {
    share(rank);
    var sorted = new ArrayList<>(new HashSet<>(completedSegments));
    sorted.sort(null);
    var position =
        new ConsumerPosition(
            ConsumerPosition.CURRENT_FORMAT,
            seed(),
            epoch(),
            rank,
            consumerCount(),
            sorted,
            offset);
    validate(position);
    return position;
  }

  /**
   * The position of consumer {@code rank} after it has delivered the first {@code rowsDelivered}
   * rows of its share, in {@link DeliveryOrder#DETERMINISTIC} order: segments that end at or before
   * that row are completed, the offset is into the next one. Also the position to save when the
   * consumer hands rows on through a {@link LocalShuffle} and has handed on {@code rowsDelivered}.
   *
   * @throws IllegalArgumentException if {@code rowsDelivered} is not in {@code [0, share rows]}
   * @throws IllegalStateException if the share has open-ended segments (balanced shares): then the
   *     loader, which sees where segments end, builds the position with {@link #position}
   */
  public ConsumerPosition positionAfter(int rank, long rowsDelivered) {
    ConsumerShare share = share(rank);
    long total = boundedRows(share);
    if (rowsDelivered < 0 || rowsDelivered > total) {
      throw new IllegalArgumentException(
          "rows delivered " + rowsDelivered + " not in [0, " + total + "] of rank " + rank);
    }
    List<ShareSegment> segments = share.segments();
    var completed = new ArrayList<Integer>();
    long start = 0;
    while (completed.size() < segments.size()
        && start + segments.get(completed.size()).rows() <= rowsDelivered) {
      start += segments.get(completed.size()).rows();
      completed.add(completed.size());
    }
    return new ConsumerPosition(
        ConsumerPosition.CURRENT_FORMAT,
        seed(),
        epoch(),
        rank,
        consumerCount(),
        completed,
        rowsDelivered - start);
  }

  /**
   * The rows consumer {@code position.rank()} has not yet delivered this epoch, as segments in
   * share order: the rest of the current segment, then every later segment not completed. A
   * consumer restarted from {@code position} that reads exactly these delivers every row of its
   * share once (counting the epoch before and after the restart), the repeated ones under {@code
   * PAD} included. For a consumer that hands rows on through a local shuffle, use {@link
   * #remainderFrom(ConsumerPosition, int)}.
   *
   * @throws IllegalArgumentException if the position is for another seed, epoch or consumer count
   *     (the count may only change between epochs), names a segment the share does not have, or has
   *     an offset beyond the end of its current segment
   */
  public List<ShareSegment> remainderFrom(ConsumerPosition position) {
    List<ShareSegment> segments = validate(position).segments();
    int current = position.currentSegment();
    var remainder = new ArrayList<ShareSegment>();
    if (current == segments.size()) {
      return remainder;
    }
    ShareSegment partial = segments.get(current);
    if (!partial.rowsKnown() || position.offset() < partial.rows()) {
      remainder.add(partial.skip(position.offset()));
    }
    var completed = new HashSet<>(position.completedSegments());
    for (int i = current + 1; i < segments.size(); i++) {
      if (!completed.contains(i)) {
        remainder.add(segments.get(i));
      }
    }
    return remainder;
  }

  /**
   * The rows not yet handed on by a consumer that feeds its share, in {@link
   * DeliveryOrder#DETERMINISTIC} order, through {@code LocalShuffle.of(seed, epoch, rank,
   * shuffleBufferSize)} and has handed on {@code k} rows, saved as {@code positionAfter(rank, k)}.
   * The segments are in share order; feed their rows to {@link LocalShuffle#resume(long, long,
   * java.util.Iterator)} with {@code totalRows = share(rank).rows()} and {@code delivered = k} to
   * hand them on in the order the uninterrupted shuffle would have. Near the cut the rows still in
   * the shuffle buffer come back as short segments (at most {@code shuffleBufferSize} of them).
   * With {@code shuffleBufferSize == 1} this is {@link #remainderFrom(ConsumerPosition)}.
   *
   * @throws IllegalArgumentException as {@link #remainderFrom(ConsumerPosition)}, or if the
   *     completed segments are not a prefix, or {@code shuffleBufferSize < 1}
   * @throws IllegalStateException if the share has open-ended segments (balanced shares): resuming
   *     inside a shuffle needs exact row counts, which equal shares have
   */
  public List<ShareSegment> remainderFrom(ConsumerPosition position, int shuffleBufferSize) {
    if (shuffleBufferSize < 1) {
      throw new IllegalArgumentException("buffer size must be >= 1: " + shuffleBufferSize);
    }
    if (shuffleBufferSize == 1) {
      return remainderFrom(position);
    }
    ConsumerShare share = validate(position);
    long total = boundedRows(share);
    if (!position.completedIsPrefix()) {
      throw new IllegalArgumentException(
          "a position taken through a shuffle completes segments in order; got "
              + position.completedSegments());
    }
    List<ShareSegment> segments = share.segments();
    long delivered = position.offset();
    for (int index : position.completedSegments()) {
      delivered += segments.get(index).rows();
    }
    LocalShuffle shuffle =
        LocalShuffle.of(position.seed(), position.epoch(), position.rank(), shuffleBufferSize);
    var remainder = new ArrayList<ShareSegment>();
    int segment = 0;
    long segmentStart = 0;
    for (long[] range : shuffle.undelivered(total, delivered)) {
      long from = range[0];
      while (from < range[1]) {
        while (segmentStart + segments.get(segment).rows() <= from) {
          segmentStart += segments.get(segment).rows();
          segment++;
        }
        ShareSegment s = segments.get(segment);
        long to = Math.min(range[1], segmentStart + s.rows());
        remainder.add(
            new ShareSegment(
                s.split(), s.fromRow() + from - segmentStart, s.fromRow() + to - segmentStart));
        from = to;
      }
    }
    return remainder;
  }

  private ConsumerShare validate(ConsumerPosition position) {
    if (position.seed() != seed() || position.epoch() != epoch()) {
      throw new IllegalArgumentException(
          "position is for seed "
              + position.seed()
              + " epoch "
              + position.epoch()
              + "; this assignment plans seed "
              + seed()
              + " epoch "
              + epoch());
    }
    if (position.consumerCount() != consumerCount()) {
      throw new IllegalArgumentException(
          "position was taken with "
              + position.consumerCount()
              + " consumers; this assignment has "
              + consumerCount()
              + " (the count may only change between epochs)");
    }
    ConsumerShare share = share(position.rank());
    List<ShareSegment> segments = share.segments();
    List<Integer> completed = position.completedSegments();
    if (!completed.isEmpty() && completed.get(completed.size() - 1) >= segments.size()) {
      throw new IllegalArgumentException(
          "position completes segment "
              + completed.get(completed.size() - 1)
              + " but rank "
              + position.rank()
              + " has "
              + segments.size()
              + " segments");
    }
    int current = position.currentSegment();
    long limit = current == segments.size() ? 0 : segments.get(current).rows();
    if (limit != -1 && position.offset() > limit) {
      throw new IllegalArgumentException(
          "offset "
              + position.offset()
              + " beyond the "
              + limit
              + " rows of segment "
              + current
              + " of rank "
              + position.rank());
    }
    return share;
  }

  private static long boundedRows(ConsumerShare share) {
    long rows = share.rows();
    if (rows < 0) {
      throw new IllegalStateException(
          "rank "
              + share.rank()
              + " has open-ended segments (balanced shares, whose row counts"
              + " may be estimates); row-exact positions need equal shares");
    }
    return rows;
  }

  @Override
  public String toString() {
    return "ShareAssignment[epoch="
        + epoch()
        + ", consumers="
        + consumerCount()
        + (equalShares ? ", equal " + policy : ", balanced")
        + "]";
  }
}
