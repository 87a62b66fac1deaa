package dev.sluice.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.stream.LongStream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class LocalShuffleTest {

  @Property(tries = 200)
  void outputIsAPermutationOfTheInput(
      @ForAll @IntRange(max = 3000) int rows,
      @ForAll @IntRange(min = 1, max = 600) int bufferSize,
      @ForAll long seed) {
    long[] ids = ids(rows);
    long[] shuffled = LocalShuffle.of(seed, 0, 0, bufferSize).permute(ids);
    assertThat(sorted(shuffled)).isEqualTo(ids);
  }

  @Property(tries = 200)
  void orderDependsOnlyOnTheSeedAndTheInputOrder(
      @ForAll @IntRange(max = 2000) int rows,
      @ForAll @IntRange(min = 1, max = 300) int bufferSize,
      @ForAll long seed,
      @ForAll @IntRange(max = 100) int epoch,
      @ForAll @IntRange(max = 64) int rank,
      @ForAll long salt) {
    LocalShuffle shuffle = LocalShuffle.of(seed, epoch, rank, bufferSize);
    long[] ids = ids(rows);
    long[] order = shuffle.permute(ids);
    // Other values in the same order are moved the same way: the values do not matter.
    long[] other = Arrays.stream(ids).map(id -> id * 31 + salt).toArray();
    long[] otherOrder = LocalShuffle.of(seed, epoch, rank, bufferSize).permute(other);
    assertThat(otherOrder).isEqualTo(Arrays.stream(order).map(id -> id * 31 + salt).toArray());
    // Streaming with any read pattern gives the same order as the pure function.
    Iterator<String> streamed =
        shuffle.shuffle(Arrays.stream(ids).mapToObj(id -> "row-" + id).iterator());
    for (long id : order) {
      assertThat(streamed.hasNext()).isTrue();
      assertThat(streamed.hasNext()).isTrue();
      assertThat(streamed.next()).isEqualTo("row-" + id);
    }
    assertThat(streamed.hasNext()).isFalse();
  }

  @Property(tries = 200)
  void noRowLeavesMoreThanBufferSizeMinusOnePlacesEarly(
      @ForAll @IntRange(max = 3000) int rows,
      @ForAll @IntRange(min = 1, max = 300) int bufferSize,
      @ForAll long seed) {
    long[] order = LocalShuffle.of(seed, 0, 0, bufferSize).permute(ids(rows));
    for (int place = 0; place < order.length; place++) {
      assertThat(order[place]).isLessThanOrEqualTo(place + bufferSize - 1L);
    }
  }

  // 40 rows through a buffer of 8: two independent orders agree with probability far below 1e-9.
  @Property(tries = 200)
  void orderDiffersAcrossEpochsAndRanks(
      @ForAll long seed,
      @ForAll @IntRange(max = 10_000) int epoch,
      @ForAll @IntRange(max = 64) int rank) {
    long[] ids = ids(40);
    long[] order = LocalShuffle.of(seed, epoch, rank, 8).permute(ids);
    assertThat(LocalShuffle.of(seed, epoch + 1, rank, 8).permute(ids)).isNotEqualTo(order);
    assertThat(LocalShuffle.of(seed, epoch, rank + 1, 8).permute(ids)).isNotEqualTo(order);
  }

  @Property(tries = 200)
  void resumingAfterAnyCountContinuesTheSameOrder(
      @ForAll @IntRange(max = 2000) int rows,
      @ForAll @IntRange(min = 1, max = 300) int bufferSize,
      @ForAll long seed,
      @ForAll @IntRange(max = 2000) int cut) {
    int delivered = Math.min(cut, rows);
    LocalShuffle shuffle = LocalShuffle.of(seed, 5, 1, bufferSize);
    long[] order = shuffle.permute(ids(rows));

    // What is left is exactly what the first `delivered` outputs did not hand on...
    Set<Long> handedOn = new HashSet<>();
    for (int i = 0; i < delivered; i++) {
      handedOn.add(order[i]);
    }
    List<Long> left = new ArrayList<>();
    for (long[] range : shuffle.undelivered(rows, delivered)) {
      for (long id = range[0]; id < range[1]; id++) {
        left.add(id);
      }
    }
    List<Long> expectedLeft =
        LongStream.range(0, rows).filter(id -> !handedOn.contains(id)).boxed().toList();
    assertThat(left).isEqualTo(expectedLeft);

    // ...and resuming over it hands it on in the uninterrupted order.
    Iterator<Long> resumed = shuffle.resume(rows, delivered, left.iterator());
    List<Long> rest = new ArrayList<>();
    resumed.forEachRemaining(rest::add);
    assertThat(rest).isEqualTo(Arrays.stream(order, delivered, rows).boxed().toList());
  }

  @Test
  void bufferOfOneKeepsTheOrder() {
    long[] ids = ids(100);
    assertThat(LocalShuffle.of(1, 2, 3, 1).permute(ids)).isEqualTo(ids);
  }

  @Test
  void largeBuffersOnSmallInputsDoNotPreallocate() {
    long[] ids = ids(10);
    assertThat(sorted(LocalShuffle.of(1, 2, 3, Integer.MAX_VALUE).permute(ids))).isEqualTo(ids);
  }

  @Test
  void resumeChecksTheRemainderLength() {
    LocalShuffle shuffle = LocalShuffle.of(1, 0, 0, 4);
    assertThatThrownBy(
            () -> shuffle.resume(10, 3, List.of(1L, 2L).iterator()).forEachRemaining(x -> {}))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("short");
    Iterator<Long> tooLong = shuffle.resume(10, 8, List.of(1L, 2L, 3L).iterator());
    assertThatThrownBy(() -> tooLong.forEachRemaining(x -> {}))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("more rows");
    assertThatThrownBy(() -> shuffle.resume(10, 11, List.<Long>of().iterator()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void rejectsBadArguments() {
    assertThatThrownBy(() -> LocalShuffle.of(1, 0, 0, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LocalShuffle.of(1, -1, 0, 4))
        .isInstanceOf(IllegalArgumentException.class);
    Iterator<String> withNull =
        LocalShuffle.of(1, 0, 0, 4).shuffle(Arrays.asList("a", null).iterator());
    assertThatThrownBy(() -> withNull.forEachRemaining(x -> {}))
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void orderIsPinnedAcrossReleases() {
    assertThat(LocalShuffle.of(1234, 7, 2, 4).permute(ids(12))).containsExactly(PINNED);
  }

  private static final long[] PINNED = {0, 2, 5, 6, 1, 7, 3, 4, 8, 10, 9, 11};

  private static long[] ids(int rows) {
    return LongStream.range(0, rows).toArray();
  }

  private static long[] sorted(long[] values) {
    long[] copy = values.clone();
    Arrays.sort(copy);
    return copy;
  }
}
