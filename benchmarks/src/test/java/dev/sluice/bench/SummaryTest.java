package dev.sluice.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class SummaryTest {
  @Test
  void minMedianMaxOfOddAndEvenCounts() {
    assertThat(Summary.of(List.of(3.0, 1.0, 2.0))).isEqualTo(new Summary(1, 2, 3, 3));
    assertThat(Summary.of(List.of(4.0, 1.0, 2.0, 3.0))).isEqualTo(new Summary(1, 2.5, 4, 4));
    assertThat(Summary.of(List.of(2.0, 4.0, 6.0)).medianRatio(Summary.of(List.of(8.0))))
        .isEqualTo(0.5);
  }

  @Test
  void nothingToSummarise() {
    assertThatThrownBy(() -> Summary.of(List.of())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void procFieldsParse() {
    assertThat(MachineInfo.parseKiB("1024 kB")).isEqualTo(1 << 20);
    assertThat(MachineInfo.parseKiB("")).isEqualTo(-1);
  }
}
