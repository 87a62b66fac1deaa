package dev.sluice.loader.internal.exec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.internal.exec.BackpressurePolicy.ExecutionView;
import dev.sluice.loader.internal.exec.BackpressurePolicy.OperatorView;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scheduling decisions, one at a time, over hand-made operator states. */
class PoliciesTest {
  private static final long MB = 1 << 20;

  /** A hand-made operator view. */
  record Op(
      int index,
      long memoryUsage,
      long taskMemoryEstimate,
      boolean estimateKnown,
      int tasksInFlight,
      int concurrencyCap)
      implements OperatorView {
    @Override
    public String name() {
      return "op" + index;
    }

    @Override
    public boolean upstreamDone() {
      return index == 0;
    }
  }

  record Exec(long memoryBudget, List<Op> operators, long consumerMemoryUsage, double reservedShare)
      implements ExecutionView {}

  private static boolean allows(Exec e, int op) {
    return Policies.reservationAllows(e.operators().get(op), e);
  }

  @Test
  void aFastUpstreamCannotTakeTheReservationOfADownstream() {
    // Budget 30 MiB, 3 operators, half reserved: 5 MiB each, 15 MiB shared.
    // The read holds its 5 plus all 15 shared: it may not grow, the others still may.
    Exec e =
        new Exec(
            30 * MB,
            List.of(
                new Op(0, 20 * MB, MB, true, 0, 0),
                new Op(1, 0, 4 * MB, true, 0, 0),
                new Op(2, 0, 4 * MB, true, 0, 0)),
            0,
            0.5);
    assertThat(allows(e, 0)).isFalse();
    assertThat(allows(e, 1)).isTrue();
    assertThat(allows(e, 2)).isTrue();
  }

  @Test
  void anOperatorWithinItsReservationMayRunEvenWhenTheSharedPartIsFull() {
    Exec e =
        new Exec(
            30 * MB,
            List.of(
                new Op(0, 20 * MB, MB, true, 0, 0),
                new Op(1, MB, 4 * MB, true, 1, 0),
                new Op(2, 0, 4 * MB, true, 0, 0)),
            0,
            0.5);
    assertThat(allows(e, 1)).isTrue();
    Exec fuller =
        new Exec(
            30 * MB,
            List.of(
                new Op(0, 20 * MB, MB, true, 0, 0),
                new Op(1, 2 * MB, 4 * MB, true, 1, 0),
                new Op(2, 0, 4 * MB, true, 0, 0)),
            0,
            0.5);
    assertThat(allows(fuller, 1)).as("2 + 4 > 5 and nothing shared is left").isFalse();
  }

  @Test
  void theWholeBudgetIsNeverExceeded() {
    Exec e =
        new Exec(
            30 * MB,
            List.of(
                new Op(0, 8 * MB, MB, true, 0, 0),
                new Op(1, 8 * MB, 4 * MB, true, 0, 0),
                new Op(2, 12 * MB, 4 * MB, true, 0, 0)),
            0,
            0.5);
    assertThat(allows(e, 1)).isFalse();
    assertThat(allows(e, 2)).isFalse();
    // 28 + 1 fits the budget, and 1 of the 2 MiB neither used nor reserved.
    assertThat(allows(e, 0)).isTrue();
  }

  @Test
  void unusedReservationsOfOthersAreNotFree() {
    // Budget 30: op1 and op2 use nothing but each keeps its 5 MiB: op0 may grow to 20, not beyond.
    Exec e =
        new Exec(
            30 * MB,
            List.of(
                new Op(0, 19 * MB, MB, true, 0, 0),
                new Op(1, 0, 4 * MB, true, 0, 0),
                new Op(2, 0, 4 * MB, true, 0, 0)),
            0,
            0.5);
    assertThat(allows(e, 0)).isTrue();
    Exec at20 =
        new Exec(
            30 * MB,
            List.of(
                new Op(0, 20 * MB, MB, true, 0, 0),
                new Op(1, 0, 4 * MB, true, 0, 0),
                new Op(2, 0, 4 * MB, true, 0, 0)),
            0,
            0.5);
    assertThat(allows(at20, 0)).isFalse();
    // An operator over its reservation cannot take another's unused reservation either.
    Exec over =
        new Exec(
            30 * MB,
            List.of(
                new Op(0, 18 * MB, MB, true, 0, 0),
                new Op(1, 6 * MB, 4 * MB, true, 0, 0),
                new Op(2, 0, 4 * MB, true, 0, 0)),
            0,
            0.5);
    assertThat(allows(over, 1))
        .as("6 + 4 - 5 beyond its reservation, 18 + 6 + 5 = 29 claimed")
        .isFalse();
    assertThat(allows(over, 2)).isTrue();
  }

  @Test
  void aReservationIsAtLeastOneTask() {
    // 3 MiB budget, even shares of 0.5 MiB, but a task needs 2 MiB: the downstream can still run
    // one.
    Exec e =
        new Exec(
            3 * MB,
            List.of(new Op(0, MB / 2, MB / 4, true, 0, 0), new Op(1, 0, 2 * MB, true, 0, 0)),
            0,
            0.5);
    assertThat(allows(e, 1)).isTrue();
  }

  @Test
  void oneTaskAtATimeUntilTheEstimateIsKnown() {
    Exec idle = new Exec(100 * MB, List.of(new Op(0, 0, MB, false, 0, 0)), 0, 0.5);
    Exec busy = new Exec(100 * MB, List.of(new Op(0, MB, MB, false, 1, 0)), 0, 0.5);
    assertThat(allows(idle, 0)).isTrue();
    assertThat(allows(busy, 0)).isFalse();
  }

  @Test
  void consumerMemoryCounts() {
    Exec e = new Exec(10 * MB, List.of(new Op(0, 0, 2 * MB, true, 0, 0)), 9 * MB, 0.5);
    assertThat(allows(e, 0)).isFalse();
  }

  @Test
  void concurrencyCapAndBulk() {
    Exec e =
        new Exec(
            100 * MB, List.of(new Op(0, 0, MB, true, 2, 2), new Op(1, 0, MB, true, 1, 0)), 0, 0.5);
    assertThat(Policies.concurrencyCap().canLaunch(e.operators().get(0), e)).isFalse();
    assertThat(Policies.concurrencyCap().canLaunch(e.operators().get(1), e)).isTrue();
    assertThat(Policies.bulk().get(1).canLaunch(e.operators().get(1), e))
        .as("upstream not done")
        .isFalse();
    assertThat(Policies.bulk().get(1).canLaunch(e.operators().get(0), e)).isTrue();
  }
}
