package dev.sluice.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.sharding.Fixtures.Mode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Assume;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** Stopping anywhere in an epoch and resuming from the saved position delivers exactly the rest. */
class ResumeTest {
  private static final ConsumerPosition.Serializer SERIALIZER = new ConsumerPosition.Serializer();

  @Property(tries = 200)
  void resumingInOrderFromAnyRowDeliversExactlyTheRest(
      @ForAll @Size(max = 30) List<@LongRange(min = 0, max = 200) Long> rows,
      @ForAll @IntRange(min = 1, max = 8) int consumers,
      @ForAll @IntRange(max = 7) int rankSeed,
      @ForAll Mode mode,
      @ForAll long seed,
      @ForAll @IntRange(max = 1000) int epoch,
      @ForAll @LongRange(max = 10_000) long cutSeed) {
    Assume.that(mode != Mode.BALANCED);
    int rank = rankSeed % consumers;
    ShareAssignment assignment = assign(rows, consumers, mode, seed, epoch);
    List<Long> share = Fixtures.rows(assignment.share(rank).segments());
    int cut = (int) (cutSeed % (share.size() + 1));

    ConsumerPosition saved = restart(assignment.positionAfter(rank, cut));
    List<Long> rest =
        Fixtures.rows(assign(rows, consumers, mode, seed, epoch).remainderFrom(saved));

    assertThat(rest).isEqualTo(share.subList(cut, share.size()));
  }

  @Property(tries = 200)
  void resumingOutOfOrderDeliversExactlyWhatWasNotDelivered(
      @ForAll @Size(max = 30) List<@LongRange(min = 0, max = 200) Long> rows,
      @ForAll @IntRange(min = 1, max = 8) int consumers,
      @ForAll @IntRange(max = 7) int rankSeed,
      @ForAll Mode mode,
      @ForAll long seed,
      @ForAll @Size(max = 40) Set<@IntRange(max = 40) Integer> completedSeed,
      @ForAll @LongRange(max = 10_000) long offsetSeed) {
    int rank = rankSeed % consumers;
    ShareAssignment assignment = assign(rows, consumers, mode, seed, 2);
    List<ShareSegment> segments = assignment.share(rank).segments();
    // Relaxed order: any set of completed segments, and a prefix of the first one not completed.
    var completed = new HashSet<Integer>();
    completedSeed.stream().filter(i -> i < segments.size()).forEach(completed::add);
    int current = 0;
    while (completed.contains(current)) {
      current++;
    }
    long offset = 0;
    if (current < segments.size()) {
      long size = Fixtures.rows(segments.get(current)).size();
      offset = offsetSeed % (size + 1);
    }
    // Delivered rows by their place in the share, as a share may hold equal values.
    List<Long> share = new ArrayList<>();
    var deliveredPlaces = new HashSet<Integer>();
    for (int i = 0; i < segments.size(); i++) {
      List<Long> segmentRows = Fixtures.rows(segments.get(i));
      for (int row = 0; row < segmentRows.size(); row++) {
        if (completed.contains(i) || (i == current && row < offset)) {
          deliveredPlaces.add(share.size());
        }
        share.add(segmentRows.get(row));
      }
    }

    ConsumerPosition saved = restart(assignment.position(rank, completed, offset));
    List<Long> rest = Fixtures.rows(assignment.remainderFrom(saved));

    var expected = new ArrayList<Long>();
    for (int place = 0; place < share.size(); place++) {
      if (!deliveredPlaces.contains(place)) {
        expected.add(share.get(place));
      }
    }
    assertThat(rest).isEqualTo(expected);
  }

  @Property(tries = 200)
  void resumingThroughAShuffleBufferContinuesTheSameOrder(
      @ForAll @Size(max = 30) List<@LongRange(min = 0, max = 200) Long> rows,
      @ForAll @IntRange(min = 1, max = 8) int consumers,
      @ForAll @IntRange(max = 7) int rankSeed,
      @ForAll Mode mode,
      @ForAll long seed,
      @ForAll @IntRange(max = 1000) int epoch,
      @ForAll @IntRange(min = 1, max = 300) int bufferSize,
      @ForAll @LongRange(max = 10_000) long cutSeed) {
    Assume.that(mode != Mode.BALANCED);
    int rank = rankSeed % consumers;
    ShareAssignment assignment = assign(rows, consumers, mode, seed, epoch);
    List<Long> share = Fixtures.rows(assignment.share(rank).segments());
    LocalShuffle shuffle = LocalShuffle.of(seed, epoch, rank, bufferSize);
    List<Long> uninterrupted = new ArrayList<>();
    shuffle.shuffle(share.iterator()).forEachRemaining(uninterrupted::add);
    int cut = (int) (cutSeed % (share.size() + 1));

    // The trainer took the first `cut` rows, then the process died; its checkpoint held this:
    ConsumerPosition saved = restart(assignment.positionAfter(rank, cut));
    List<ShareSegment> remainder = assignment.remainderFrom(saved, bufferSize);
    assertThat(remainder.size())
        .isLessThanOrEqualTo(assignment.share(rank).segments().size() + bufferSize);
    Iterator<Long> resumed =
        LocalShuffle.of(saved.seed(), saved.epoch(), saved.rank(), bufferSize)
            .resume(share.size(), cut, Fixtures.rows(remainder).iterator());
    List<Long> rest = new ArrayList<>();
    resumed.forEachRemaining(rest::add);

    assertThat(rest).isEqualTo(uninterrupted.subList(cut, uninterrupted.size()));
  }

  @Property(tries = 100)
  void laterEpochsDoNotDependOnTheRestart(
      @ForAll @Size(max = 30) List<@LongRange(min = 0, max = 200) Long> rows,
      @ForAll @IntRange(min = 1, max = 8) int consumers,
      @ForAll Mode mode,
      @ForAll long seed,
      @ForAll @IntRange(max = 1000) int epoch) {
    // Everything about epoch e + 1 is computed from (splits, seed, e + 1, n): a position of epoch e
    // has no way in. Re-planning after a restart gives the same next epoch.
    ShareAssignment next = assign(rows, consumers, mode, seed, epoch + 1);
    ShareAssignment nextAfterRestart =
        assign(new ArrayList<>(rows), consumers, mode, seed, epoch + 1);
    assertThat(nextAfterRestart.shares()).isEqualTo(next.shares());
    assertThat(next.shares()).isNotEqualTo(List.of());
  }

  @Test
  void theEndOfAShareLeavesNothing() {
    ShareAssignment assignment = assign(List.of(5L, 7L), 2, Mode.UNEVEN, 3, 0);
    ConsumerPosition end = assignment.positionAfter(1, 6);
    assertThat(end.completedSegments()).hasSize(assignment.share(1).segments().size());
    assertThat(assignment.remainderFrom(end)).isEmpty();
    assertThat(assignment.remainderFrom(end, 16)).isEmpty();
  }

  @Test
  void balancedSharesResumeFromPositionsTheLoaderBuilds() {
    ShareAssignment assignment = assign(List.of(5L, 7L, 3L), 1, Mode.BALANCED, 3, 0);
    List<ShareSegment> segments = assignment.share(0).segments();
    ConsumerPosition position = assignment.position(0, List.of(0), 2);
    assertThat(assignment.remainderFrom(position))
        .containsExactly(
            new ShareSegment(segments.get(1).split(), 2, -1),
            new ShareSegment(segments.get(2).split(), 0, -1));
    assertThatThrownBy(() -> assignment.positionAfter(0, 3))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("open-ended");
    assertThatThrownBy(() -> assignment.remainderFrom(position, 8))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void positionsOfAnotherPlanAreRejected() {
    ShareAssignment assignment = assign(List.of(5L, 7L, 3L), 2, Mode.DROP, 3, 4);
    assertThatThrownBy(() -> assignment.remainderFrom(ConsumerPosition.startOfEpoch(3, 5, 0, 2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("epoch 5");
    assertThatThrownBy(() -> assignment.remainderFrom(ConsumerPosition.startOfEpoch(4, 4, 0, 2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("seed 4");
    assertThatThrownBy(() -> assignment.remainderFrom(ConsumerPosition.startOfEpoch(3, 4, 0, 3)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("between epochs");
    assertThatThrownBy(
            () -> assignment.remainderFrom(new ConsumerPosition(1, 3, 4, 0, 2, List.of(9), 0)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("segment 9");
    int size = (int) assignment.share(0).segments().get(0).rows();
    assertThatThrownBy(
            () ->
                assignment.remainderFrom(new ConsumerPosition(1, 3, 4, 0, 2, List.of(), size + 1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("beyond");
    assertThatThrownBy(
            () -> assignment.remainderFrom(new ConsumerPosition(1, 3, 4, 0, 2, List.of(1), 0), 4))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("in order");
  }

  private static ShareAssignment assign(
      List<Long> rows, int consumers, Mode mode, long seed, int epoch) {
    return mode.assigner(consumers)
        .assign(EpochPlan.create(Fixtures.splits(rows), seed, epoch, true));
  }

  /** What a checkpoint does to a position: bytes and back. */
  private static ConsumerPosition restart(ConsumerPosition position) {
    return SERIALIZER.deserialize(SERIALIZER.serialize(position));
  }
}
