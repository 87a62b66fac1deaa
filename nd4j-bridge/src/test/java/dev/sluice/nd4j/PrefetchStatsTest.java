package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PrefetchStatsTest {
  @Test
  void sinceGivesOneEpochsFiguresAndItsOwnStallShare() {
    PrefetchStats afterFirst = new PrefetchStats(10, 900, 1_000, 4, 6, 0);
    PrefetchStats afterSecond = new PrefetchStats(20, 1_000, 3_000, 4, 16, 2);
    PrefetchStats second = afterSecond.since(afterFirst);
    assertThat(second).isEqualTo(new PrefetchStats(10, 100, 2_000, 0, 10, 2));
    // The cumulative share (1/3) hides that the second epoch stalled 5% and the first 90%.
    assertThat(second.stallShare()).isEqualTo(0.05);
    assertThat(afterFirst.stallShare()).isEqualTo(0.9);
    assertThat(afterSecond.stallShare()).isEqualTo(1_000 / 3_000.0);
    assertThatThrownBy(() -> afterFirst.since(afterSecond))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
