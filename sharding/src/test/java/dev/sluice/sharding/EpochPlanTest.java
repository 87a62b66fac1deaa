package dev.sluice.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class EpochPlanTest {

  @Property(tries = 200)
  void planIsAPermutationOfTheSplits(
      @ForAll @Size(max = 60) List<@LongRange(min = 0, max = 1000) Long> rows,
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 10_000) int epoch,
      @ForAll boolean shuffle) {
    List<SourceSplit> splits = Fixtures.splits(rows);
    EpochPlan plan = EpochPlan.create(splits, seed, epoch, shuffle);

    assertThat(plan.splits()).containsExactlyInAnyOrderElementsOf(splits);
    assertThat(plan.totalRows()).isEqualTo(rows.stream().mapToLong(Long::longValue).sum());
    if (!shuffle) {
      assertThat(plan.splits()).isEqualTo(splits);
    }
  }

  @Property(tries = 200)
  void sameSeedAndEpochGiveTheSamePlan(
      @ForAll @Size(max = 60) List<@LongRange(min = 0, max = 1000) Long> rows,
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 10_000) int epoch) {
    List<SourceSplit> splits = Fixtures.splits(rows);
    assertThat(EpochPlan.create(new ArrayList<>(splits), seed, epoch, true))
        .isEqualTo(EpochPlan.create(splits, seed, epoch, true));
  }

  // With at least 12 splits two independent orders coincide with probability < 1 / 12! (2e-9).
  @Property(tries = 200)
  void orderDiffersAcrossEpochsAndSeeds(
      @ForAll @IntRange(min = 12, max = 60) int splitCount,
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 10_000) int epoch) {
    List<SourceSplit> splits =
        Fixtures.splits(IntStream.range(0, splitCount).mapToObj(i -> 10L).toList());
    List<SourceSplit> order = EpochPlan.create(splits, seed, epoch, true).splits();

    assertThat(EpochPlan.create(splits, seed, epoch + 1, true).splits()).isNotEqualTo(order);
    assertThat(EpochPlan.create(splits, seed + 1, epoch, true).splits()).isNotEqualTo(order);
    // The correlation new Random(seed + epoch) would have: (seed + 1, epoch) vs (seed, epoch + 1).
    assertThat(EpochPlan.create(splits, seed + 1, epoch, true).splits())
        .isNotEqualTo(EpochPlan.create(splits, seed, epoch + 1, true).splits());
  }

  @Property(tries = 200)
  void fileOrderIsAPermutationThatChangesWithEpochAndSeedAndDiffersFromThePlans(
      @ForAll @IntRange(min = 12, max = 200) int fileCount,
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 10_000) int epoch) {
    List<Integer> files = IntStream.range(0, fileCount).boxed().toList();
    List<Integer> order = EpochPlan.shuffleFiles(files, seed, epoch);

    assertThat(order).containsExactlyInAnyOrderElementsOf(files);
    assertThat(EpochPlan.shuffleFiles(new ArrayList<>(files), seed, epoch)).isEqualTo(order);
    assertThat(EpochPlan.shuffleFiles(files, seed, epoch + 1)).isNotEqualTo(order);
    assertThat(EpochPlan.shuffleFiles(files, seed + 1, epoch)).isNotEqualTo(order);
    // Its own domain: not the split permutation of the same (seed, epoch).
    List<SourceSplit> splits =
        Fixtures.splits(IntStream.range(0, fileCount).mapToObj(i -> 1L).toList());
    List<Integer> planOrder =
        EpochPlan.create(splits, seed, epoch, true).splits().stream()
            .map(SourceSplit::index)
            .toList();
    assertThat(order).isNotEqualTo(planOrder);
  }

  @Test
  void epochSeedsArePinnedAndUnrelatedForNeighbours() {
    // Pinned: saved positions and reproducible runs rely on these never changing within a format.
    assertThat(EpochPlan.epochSeed(42, 0)).isEqualTo(4447927390138963315L);
    assertThat(EpochPlan.shuffleFiles(List.of(0, 1, 2, 3, 4, 5, 6, 7), 42, 0))
        .containsExactly(4, 0, 1, 3, 7, 2, 6, 5);
    Set<Long> seen = new java.util.HashSet<>();
    for (long seed = 0; seed < 20; seed++) {
      for (int epoch = 0; epoch < 20; epoch++) {
        assertThat(seen.add(EpochPlan.epochSeed(seed, epoch)))
            .as("seed %d epoch %d", seed, epoch)
            .isTrue();
      }
    }
    assertThatThrownBy(() -> EpochPlan.shuffleFiles(List.of(1, 2), 1, -1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void everySplitVisitsEveryPlaceEvenly() {
    // 4 splits, 24,000 epochs: each (split, place) pair should come up about 6,000 times.
    List<SourceSplit> splits = Fixtures.splits(List.of(1L, 1L, 1L, 1L));
    int[][] counts = new int[4][4];
    for (int epoch = 0; epoch < 24_000; epoch++) {
      List<SourceSplit> order = EpochPlan.create(splits, 42, epoch, true).splits();
      for (int place = 0; place < 4; place++) {
        counts[order.get(place).index()][place]++;
      }
    }
    for (int[] split : counts) {
      for (int count : split) {
        assertThat(count).isBetween(5_600, 6_400);
      }
    }
  }

  @Test
  void planIsPinnedAcrossReleases() {
    // Saved positions refer to plans by seed: this order must never change within a format.
    List<SourceSplit> splits = Fixtures.splits(IntStream.range(0, 10).mapToObj(i -> 1L).toList());
    List<Integer> order =
        EpochPlan.create(splits, 1234, 7, true).splits().stream().map(SourceSplit::index).toList();
    assertThat(order).containsExactly(PINNED);
  }

  private static final Integer[] PINNED = {1, 8, 6, 0, 4, 3, 2, 7, 9, 5};

  @Test
  void rejectsDuplicateSplitsAndNegativeEpochs() {
    List<SourceSplit> splits = Fixtures.splits(List.of(1L, 2L));
    assertThatThrownBy(() -> EpochPlan.create(List.of(splits.get(0), splits.get(0)), 1, 0, true))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("index 0");
    assertThatThrownBy(() -> EpochPlan.create(splits, 1, -1, true))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void totalRowsNeedsEveryCount() {
    var unknown = SourceSplit.wholeFile("src", 1, "b.tar", -1, -1);
    EpochPlan plan =
        EpochPlan.create(
            List.of(SourceSplit.wholeFile("src", 0, "a.tar", 5, -1), unknown), 1, 0, false);
    assertThat(plan.rowsKnown()).isFalse();
    assertThatThrownBy(plan::totalRows)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("b.tar");
  }

  @Test
  void splitsFromSeveralSourcesMayShareIndices() {
    var a = SourceSplit.wholeFile("a", 0, "a.tar", 1, -1);
    var b = SourceSplit.wholeFile("b", 0, "b.tar", 1, -1);
    Set<String> sources =
        EpochPlan.create(List.of(a, b), 3, 0, true).splits().stream()
            .map(SourceSplit::sourceId)
            .collect(Collectors.toSet());
    assertThat(sources).containsExactlyInAnyOrder("a", "b");
  }
}
