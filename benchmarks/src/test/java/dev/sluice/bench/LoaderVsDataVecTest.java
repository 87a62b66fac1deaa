package dev.sluice.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LoaderVsDataVecTest {

  private static LoaderVsDataVec.Run run(String c, int r, double imagesPerSecond, double cores) {
    return new LoaderVsDataVec.Run(
        c,
        r,
        LoaderVsDataVec.OK,
        100,
        100 / imagesPerSecond,
        imagesPerSecond,
        100 / imagesPerSecond * cores,
        cores,
        imagesPerSecond / cores,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        "");
  }

  @Test
  void ratiosWithinRunsPairEachRunWithTheSameRunOfTheOtherCase() {
    List<LoaderVsDataVec.Run> runs =
        List.of(
            run("sluice-native", 1, 2000, 2), run("datavec", 1, 500, 1),
            run("sluice-native", 2, 3000, 2), run("datavec", 2, 1000, 1),
            run("sluice-native", 3, 2400, 2), run("datavec", 3, 800, 1));
    List<String[]> pairs =
        List.of(
            new String[] {"sluice-native", "datavec"},
            new String[] {"sluice-native", "datavec-parallel"});
    Map<String, Object> total =
        LoaderVsDataVec.ratiosWithinRuns(
            runs, List.of("sluice-native", "datavec"), pairs, LoaderVsDataVec.Run::imagesPerSecond);
    Map<String, Object> perCore =
        LoaderVsDataVec.ratiosWithinRuns(
            runs,
            List.of("sluice-native", "datavec"),
            pairs,
            LoaderVsDataVec.Run::imagesPerCpuSecond);
    assertThat(total.get("sluice-native/datavec")).isEqualTo(new Summary(3, 3, 4, 3)); // 4, 3, 3
    assertThat(perCore.get("sluice-native/datavec"))
        .isEqualTo(new Summary(1.5, 1.5, 2, 3)); // halved: twice the cores
    assertThat(total.get("sluice-native/datavec-parallel"))
        .isEqualTo(LoaderVsDataVec.NOT_AVAILABLE);
  }

  @Test
  void everySluiceCaseIsComparedWithEveryDataVecCase() {
    List<String> keys = LoaderVsDataVec.ratioPairs().stream().map(p -> p[0] + "/" + p[1]).toList();
    for (String s : LoaderVsDataVec.SLUICE_CASES) {
      for (String d : LoaderVsDataVec.DATAVEC_CASES) {
        assertThat(keys).contains(s + "/" + d);
      }
    }
    assertThat(keys)
        .contains("datavec-parallel/datavec", "sluice-native-ordered/sluice-native")
        .doesNotHaveDuplicates();
  }
}
