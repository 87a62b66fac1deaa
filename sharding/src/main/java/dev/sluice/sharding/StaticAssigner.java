package dev.sluice.sharding;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;

/**
 * Assigns an epoch's plan to {@code n} consumers by rank, with no coordination at run time: every
 * consumer can compute every share from the plan alone. Two modes:
 *
 * <ul>
 *   <li>{@link #balanced(int)}: whole splits, balanced by rows. Splits are taken largest first
 *       (ties: earlier in the plan first) and each goes to the consumer with the fewest rows so far
 *       (ties: fewer splits, then lower rank), so loads differ by at most the largest split. Row
 *       counts are weights and may be estimates; a split with an unknown count weighs the mean of
 *       the known ones (1 if none is known). Each share lists its splits in plan order, as
 *       open-ended segments (the split's reader decides where it ends).
 *   <li>{@link #equal(int, RemainderPolicy)}: exactly equal shares. The plan's rows are laid end to
 *       end in plan order and cut into {@code n} consecutive runs of equal length, so a split may
 *       be cut between consumers (at most {@code n - 1} cuts in all). Needs every split's row count
 *       and takes it as exact. What happens to the {@code R mod n} rows left over is the {@link
 *       RemainderPolicy}; the decision is logged at INFO, logger {@code
 *       dev.sluice.sharding.StaticAssigner}, once per call of {@link #assign} with the numbers.
 * </ul>
 *
 * <p>Immutable and thread-safe; one assigner serves every epoch. For the consumer count to change
 * (elastic training), make an assigner with the new count for the next epoch.
 */
public final class StaticAssigner {
  private static final System.Logger LOG = System.getLogger(StaticAssigner.class.getName());

  private final int consumers;
  private final RemainderPolicy policy;

  private StaticAssigner(int consumers, RemainderPolicy policy) {
    if (consumers < 1) {
      throw new IllegalArgumentException("need at least one consumer: " + consumers);
    }
    this.consumers = consumers;
    this.policy = policy;
  }

  /** Whole splits to {@code consumers} consumers, balanced by rows (estimates allowed). */
  public static StaticAssigner balanced(int consumers) {
    return new StaticAssigner(consumers, null);
  }

  /**
   * Exactly equal shares of rows for {@code consumers} consumers, the remainder handled by {@code
   * policy}. Plans must have every split's row count ({@link EpochPlan#rowsKnown()}).
   */
  public static StaticAssigner equal(int consumers, RemainderPolicy policy) {
    return new StaticAssigner(consumers, Objects.requireNonNull(policy, "policy"));
  }

  /** The number of consumers. */
  public int consumers() {
    return consumers;
  }

  /**
   * Assigns {@code plan}. Pure: the same plan gives the same assignment.
   *
   * @throws IllegalArgumentException for equal shares, if a split's row count is unknown (naming
   *     it)
   */
  public ShareAssignment assign(EpochPlan plan) {
    Objects.requireNonNull(plan, "plan");
    return policy == null ? assignBalanced(plan) : assignEqual(plan);
  }

  private ShareAssignment assignBalanced(EpochPlan plan) {
    List<SourceSplit> splits = plan.splits();
    long knownSum = 0;
    int known = 0;
    for (SourceSplit split : splits) {
      if (split.rowsKnown()) {
        knownSum += split.estimatedRows();
        known++;
      }
    }
    long unknownWeight = known == 0 ? 1 : (knownSum + known - 1) / known;
    long[] weight = new long[splits.size()];
    var order = new ArrayList<Integer>();
    for (int i = 0; i < splits.size(); i++) {
      weight[i] = splits.get(i).rowsKnown() ? splits.get(i).estimatedRows() : unknownWeight;
      order.add(i);
    }
    order.sort(Comparator.<Integer>comparingLong(i -> -weight[i]).thenComparingInt(i -> i));

    long[] load = new long[consumers];
    int[] count = new int[consumers];
    var leastLoaded =
        new PriorityQueue<Integer>(
            Comparator.<Integer>comparingLong(c -> load[c])
                .thenComparingInt(c -> count[c])
                .thenComparingInt(c -> c));
    for (int c = 0; c < consumers; c++) {
      leastLoaded.add(c);
    }
    var positions = new ArrayList<List<Integer>>();
    for (int c = 0; c < consumers; c++) {
      positions.add(new ArrayList<>());
    }
    for (int position : order) {
      int c = leastLoaded.poll();
      positions.get(c).add(position);
      load[c] += weight[position];
      count[c]++;
      leastLoaded.add(c);
    }
    var shares = new ArrayList<ConsumerShare>();
    for (int c = 0; c < consumers; c++) {
      List<Integer> mine = positions.get(c);
      mine.sort(null);
      var segments = new ArrayList<ShareSegment>();
      for (int position : mine) {
        segments.add(ShareSegment.whole(splits.get(position)));
      }
      shares.add(new ConsumerShare(c, segments, segments.size()));
    }
    return new ShareAssignment(plan, false, null, shares, List.of());
  }

  private ShareAssignment assignEqual(EpochPlan plan) {
    for (SourceSplit split : plan.splits()) {
      if (!split.rowsKnown()) {
        throw new IllegalArgumentException(
            "equal shares need every split's row count; " + split.describe() + " has none");
      }
    }
    long total = plan.totalRows();
    long base = total / consumers;
    int leftOver = (int) (total % consumers);
    long padding = policy == RemainderPolicy.PAD && leftOver > 0 ? consumers - leftOver : 0;

    // The row stream: the plan's splits end to end, then (PAD) its first rows again.
    var stream = new ArrayList<ShareSegment>();
    for (SourceSplit split : plan.splits()) {
      if (split.estimatedRows() > 0) {
        stream.add(new ShareSegment(split, 0, split.estimatedRows()));
      }
    }
    int firstRepeated = stream.size();
    for (long left = padding; left > 0; ) {
      for (int i = 0; i < firstRepeated && left > 0; i++) {
        ShareSegment source = stream.get(i);
        long rows = Math.min(left, source.rows());
        stream.add(new ShareSegment(source.split(), 0, rows));
        left -= rows;
      }
    }

    var cursor = new StreamCursor(stream);
    var shares = new ArrayList<ConsumerShare>();
    for (int c = 0; c < consumers; c++) {
      long rows =
          switch (policy) {
            case DROP -> base;
            case PAD -> base + (leftOver > 0 ? 1 : 0);
            case UNEVEN -> base + (c < leftOver ? 1 : 0);
          };
      var segments = new ArrayList<ShareSegment>();
      int repeatedFrom = cursor.take(rows, segments, firstRepeated);
      shares.add(new ConsumerShare(c, segments, repeatedFrom));
    }
    var dropped = new ArrayList<ShareSegment>();
    cursor.take(Long.MAX_VALUE, dropped, firstRepeated);

    log(plan, total, base, leftOver, padding, dropped);
    return new ShareAssignment(plan, true, policy, shares, dropped);
  }

  private void log(
      EpochPlan plan,
      long total,
      long base,
      int leftOver,
      long padding,
      List<ShareSegment> dropped) {
    String head =
        "epoch "
            + plan.epoch()
            + " (seed "
            + plan.seed()
            + "): "
            + total
            + " rows over "
            + consumers
            + " consumers, "
            + leftOver
            + " left over";
    String decision =
        switch (policy) {
          case DROP ->
              "DROP: "
                  + base
                  + " rows each, "
                  + dropped.stream().mapToLong(ShareSegment::rows).sum()
                  + " rows at the end of the epoch's order not delivered this epoch";
          case PAD ->
              "PAD: "
                  + (base + (leftOver > 0 ? 1 : 0))
                  + " rows each, "
                  + padding
                  + " rows from the start of the epoch's order delivered twice";
          case UNEVEN ->
              "UNEVEN: "
                  + leftOver
                  + " consumers get "
                  + (base + 1)
                  + " rows, "
                  + (consumers - leftOver)
                  + " get "
                  + base
                  + "; every row delivered once";
        };
    LOG.log(Level.INFO, "equal shares for " + head + "; " + decision);
  }

  /** Walks the row stream, cutting segments where a share ends. */
  private static final class StreamCursor {
    private final List<ShareSegment> stream;
    private int index;
    private long offset;

    StreamCursor(List<ShareSegment> stream) {
      this.stream = stream;
    }

    /**
     * Appends the next {@code rows} rows (or what is left) to {@code out}; returns the index in
     * {@code out} of the first segment taken from at or after {@code firstRepeated} in the stream.
     */
    int take(long rows, List<ShareSegment> out, int firstRepeated) {
      int repeatedFrom = -1;
      while (rows > 0 && index < stream.size()) {
        ShareSegment segment = stream.get(index);
        long n = Math.min(rows, segment.rows() - offset);
        if (index >= firstRepeated && repeatedFrom < 0) {
          repeatedFrom = out.size();
        }
        out.add(
            new ShareSegment(
                segment.split(), segment.fromRow() + offset, segment.fromRow() + offset + n));
        rows -= n;
        offset += n;
        if (offset == segment.rows()) {
          index++;
          offset = 0;
        }
      }
      return repeatedFrom < 0 ? out.size() : repeatedFrom;
    }
  }
}
