package dev.sluice.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.sharding.Fixtures.Mode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class StaticAssignerTest {

  @Property(tries = 200)
  void sharesAreDisjointAndCoverTheDataset(
      @ForAll @Size(max = 40) List<@LongRange(min = 0, max = 300) Long> rows,
      @ForAll @IntRange(min = 1, max = 16) int consumers,
      @ForAll Mode mode,
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 1000) int epoch,
      @ForAll boolean shuffle) {
    EpochPlan plan = EpochPlan.create(Fixtures.splits(rows), seed, epoch, shuffle);
    ShareAssignment assignment = mode.assigner(consumers).assign(plan);

    assertThat(assignment.consumerCount()).isEqualTo(consumers);
    assertCoversOnce(plan, assignment);
  }

  @Property(tries = 200)
  void equalSharesAreEqual(
      @ForAll @Size(max = 40) List<@LongRange(min = 0, max = 300) Long> rows,
      @ForAll @IntRange(min = 1, max = 16) int consumers,
      @ForAll Mode mode,
      @ForAll long seed) {
    net.jqwik.api.Assume.that(mode != Mode.BALANCED);
    EpochPlan plan = EpochPlan.create(Fixtures.splits(rows), seed, 0, true);
    ShareAssignment assignment = mode.assigner(consumers).assign(plan);
    long total = plan.totalRows();
    long leftOver = total % consumers;

    List<Long> sizes = assignment.shares().stream().map(ConsumerShare::rows).toList();
    switch (mode) {
      case DROP -> {
        assertThat(sizes).containsOnly(total / consumers);
        assertThat(assignment.droppedRows()).isEqualTo(leftOver);
        assertThat(assignment.repeatedRows()).isZero();
      }
      case PAD -> {
        assertThat(sizes).containsOnly((total + consumers - 1) / consumers);
        assertThat(assignment.repeatedRows()).isEqualTo(leftOver == 0 ? 0 : consumers - leftOver);
        assertThat(assignment.droppedRows()).isZero();
      }
      case UNEVEN -> {
        assertThat(
                sizes.stream().mapToLong(Long::longValue).max().orElse(0)
                    - sizes.stream().mapToLong(Long::longValue).min().orElse(0))
            .isLessThanOrEqualTo(1);
        assertThat(assignment.droppedRows() + assignment.repeatedRows()).isZero();
      }
      default -> throw new AssertionError(mode);
    }
    // A split is cut at most where a share ends: at most n - 1 cuts over the plan's own rows.
    long pieces =
        assignment.shares().stream()
            .flatMap(s -> s.segments().subList(0, s.repeatedFrom()).stream())
            .count();
    long nonEmptySplits = plan.splits().stream().filter(s -> s.estimatedRows() > 0).count();
    assertThat(pieces).isLessThanOrEqualTo(nonEmptySplits + consumers - 1);
  }

  @Property(tries = 200)
  void balancedSharesDifferByAtMostTheLargestSplit(
      @ForAll @Size(max = 40) List<@LongRange(min = 0, max = 300) Long> rows,
      @ForAll @IntRange(min = 1, max = 16) int consumers,
      @ForAll long seed) {
    EpochPlan plan = EpochPlan.create(Fixtures.splits(rows), seed, 0, true);
    ShareAssignment assignment = StaticAssigner.balanced(consumers).assign(plan);

    long[] loads =
        assignment.shares().stream()
            .mapToLong(s -> s.segments().stream().mapToLong(g -> g.split().estimatedRows()).sum())
            .toArray();
    long largest = rows.stream().mapToLong(Long::longValue).max().orElse(0);
    long max = java.util.Arrays.stream(loads).max().orElseThrow();
    long min = java.util.Arrays.stream(loads).min().orElseThrow();
    assertThat(max - min).isLessThanOrEqualTo(largest);
    for (ConsumerShare share : assignment.shares()) {
      // In plan order, so the plan's shuffle reaches every consumer.
      List<Integer> places =
          share.segments().stream().map(g -> plan.splits().indexOf(g.split())).toList();
      assertThat(places).isSorted();
      assertThat(share.segments()).allMatch(g -> g.fromRow() == 0 && g.toRow() == -1);
    }
  }

  @Property(tries = 200)
  void assignmentIsAPureFunctionOfThePlan(
      @ForAll @Size(max = 40) List<@LongRange(min = 0, max = 300) Long> rows,
      @ForAll @IntRange(min = 1, max = 16) int consumers,
      @ForAll Mode mode,
      @ForAll long seed) {
    List<SourceSplit> splits = Fixtures.splits(rows);
    ShareAssignment first =
        mode.assigner(consumers).assign(EpochPlan.create(splits, seed, 3, true));
    ShareAssignment again =
        mode.assigner(consumers).assign(EpochPlan.create(new ArrayList<>(splits), seed, 3, true));
    assertThat(again.shares()).isEqualTo(first.shares());
    assertThat(again.droppedSegments()).isEqualTo(first.droppedSegments());
  }

  @Property(tries = 200)
  void elasticNextEpochIsADisjointCoverForTheNewCount(
      @ForAll @Size(max = 40) List<@LongRange(min = 0, max = 300) Long> rows,
      @ForAll @IntRange(min = 1, max = 16) int before,
      @ForAll @IntRange(min = 1, max = 16) int after,
      @ForAll Mode mode,
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 1000) int epoch) {
    List<SourceSplit> splits = Fixtures.splits(rows);
    EpochPlan current = EpochPlan.create(splits, seed, epoch, true);
    EpochPlan next = EpochPlan.create(splits, seed, epoch + 1, true);

    assertCoversOnce(current, mode.assigner(before).assign(current));
    ShareAssignment grown = mode.assigner(after).assign(next);
    assertThat(grown.consumerCount()).isEqualTo(after);
    assertCoversOnce(next, grown);
  }

  @Test
  void paddingRepeatsTheFirstRowsOfTheEpochAtTheEndOfTheLastShares() {
    // 10 rows over 4 consumers: 3 each, 2 rows repeated.
    EpochPlan plan = EpochPlan.create(Fixtures.splits(List.of(4L, 6L)), 9, 0, false);
    ShareAssignment assignment = StaticAssigner.equal(4, RemainderPolicy.PAD).assign(plan);

    assertThat(assignment.shares()).allMatch(s -> s.rows() == 3);
    ConsumerShare last = assignment.share(3);
    assertThat(last.repeatedSegments()).containsExactly(new ShareSegment(plan.split(0), 0, 2));
    assertThat(last.segments())
        .containsExactly(
            new ShareSegment(plan.split(1), 5, 6), new ShareSegment(plan.split(0), 0, 2));
    assertThat(assignment.repeatedRows()).isEqualTo(2);
  }

  @Test
  void paddingWrapsAroundWhenThereAreFewerRowsThanConsumers() {
    EpochPlan plan = EpochPlan.create(Fixtures.splits(List.of(2L)), 9, 0, false);
    ShareAssignment assignment = StaticAssigner.equal(5, RemainderPolicy.PAD).assign(plan);
    assertThat(assignment.shares()).allMatch(s -> s.rows() == 1);
    assertThat(assignment.repeatedRows()).isEqualTo(3);
    assertThat(Fixtures.rows(assignment.share(4).segments()))
        .containsExactly(Fixtures.rowId(plan.split(0), 0));
  }

  @Test
  void dropLeavesOutTheTailOfTheEpochsOrder() {
    EpochPlan plan = EpochPlan.create(Fixtures.splits(List.of(4L, 7L)), 9, 0, false);
    ShareAssignment assignment = StaticAssigner.equal(3, RemainderPolicy.DROP).assign(plan);
    assertThat(assignment.shares()).allMatch(s -> s.rows() == 3);
    assertThat(assignment.droppedSegments()).containsExactly(new ShareSegment(plan.split(1), 5, 7));
    assertThat(assignment.share(1).segments())
        .containsExactly(
            new ShareSegment(plan.split(0), 3, 4), new ShareSegment(plan.split(1), 0, 2));
  }

  @Test
  void theRemainderDecisionIsLoggedOncePerPlanWithTheNumbers() {
    Logger logger = Logger.getLogger(StaticAssigner.class.getName());
    var records = new ArrayList<LogRecord>();
    Handler handler =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            records.add(record);
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    logger.addHandler(handler);
    try {
      EpochPlan plan = EpochPlan.create(Fixtures.splits(List.of(500L, 503L)), 7, 2, true);
      StaticAssigner.equal(4, RemainderPolicy.DROP).assign(plan);
      StaticAssigner.equal(4, RemainderPolicy.PAD).assign(plan);
      StaticAssigner.equal(4, RemainderPolicy.UNEVEN).assign(plan);
      StaticAssigner.balanced(4).assign(plan);
    } finally {
      logger.removeHandler(handler);
    }
    assertThat(records).hasSize(3);
    assertThat(records).allMatch(r -> r.getLevel() == java.util.logging.Level.INFO);
    assertThat(records.get(0).getMessage())
        .contains(
            "epoch 2",
            "1003 rows over 4 consumers",
            "3 left over",
            "DROP",
            "250 rows each",
            "3 rows");
    assertThat(records.get(1).getMessage()).contains("PAD", "251 rows each", "1 rows");
    assertThat(records.get(2).getMessage()).contains("UNEVEN", "3 consumers get 251", "1 get 250");
  }

  @Test
  void equalSharesNeedEveryRowCount() {
    var unknown = SourceSplit.wholeFile("src", 1, "b.tar", -1, -1);
    EpochPlan plan =
        EpochPlan.create(
            List.of(SourceSplit.wholeFile("src", 0, "a.tar", 5, -1), unknown), 1, 0, true);
    assertThatThrownBy(() -> StaticAssigner.equal(2, RemainderPolicy.DROP).assign(plan))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("b.tar");
  }

  @Test
  void balancedSharesAcceptUnknownCountsAndSpreadThem() {
    var splits = new ArrayList<SourceSplit>();
    for (int i = 0; i < 8; i++) {
      splits.add(SourceSplit.wholeFile("src", i, i + ".tar", -1, -1));
    }
    ShareAssignment assignment =
        StaticAssigner.balanced(4).assign(EpochPlan.create(splits, 1, 0, true));
    assertThat(assignment.shares()).allMatch(s -> s.segments().size() == 2);
    assertThat(assignment.share(0).rows()).isEqualTo(-1);
  }

  @Test
  void zeroRowSplitsAreSpreadToo() {
    ShareAssignment assignment =
        StaticAssigner.balanced(3)
            .assign(EpochPlan.create(Fixtures.splits(List.of(0L, 0L, 0L, 0L, 0L, 0L)), 1, 0, true));
    assertThat(assignment.shares()).allMatch(s -> s.segments().size() == 2);
  }

  @Test
  void rejectsNoConsumers() {
    assertThatThrownBy(() -> StaticAssigner.balanced(0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> StaticAssigner.equal(0, RemainderPolicy.PAD))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Every row of the plan is delivered exactly once, by exactly one consumer, except the rows DROP
   * leaves out (delivered by nobody) and PAD's repeated tails (a second time); balanced shares hand
   * out every split whole, once.
   */
  static void assertCoversOnce(EpochPlan plan, ShareAssignment assignment) {
    Set<Long> planRows = new HashSet<>(Fixtures.planRows(plan));
    Map<Long, Integer> owner = new HashMap<>();
    for (ConsumerShare share : assignment.shares()) {
      for (long row : Fixtures.rows(share.segments().subList(0, share.repeatedFrom()))) {
        Integer previous = owner.put(row, share.rank());
        if (previous != null) {
          throw new AssertionError(
              "row " + row + " delivered by " + previous + " and " + share.rank());
        }
      }
      for (long row : Fixtures.rows(share.repeatedSegments())) {
        assertThat(planRows.contains(row)).as("repeated row %s is in the plan", row).isTrue();
      }
    }
    for (long row : Fixtures.rows(assignment.droppedSegments())) {
      assertThat(owner.put(row, -1)).as("dropped row %s delivered", row).isNull();
    }
    assertThat(owner.keySet().equals(planRows))
        .as("delivered and dropped rows are the plan's rows")
        .isTrue();
    if (!assignment.equalShares()) {
      List<SourceSplit> handedOut = new ArrayList<>();
      assignment.shares().forEach(s -> s.segments().forEach(g -> handedOut.add(g.split())));
      assertThat(handedOut).containsExactlyInAnyOrderElementsOf(plan.splits());
    }
  }
}
