package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import dev.sluice.sharding.ConsumerPosition;
import dev.sluice.sharding.EpochPlan;
import dev.sluice.sharding.RemainderPolicy;
import dev.sluice.sharding.ShareAssignment;
import dev.sluice.sharding.StaticAssigner;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Shares read through the loader: disjoint, equal, seeded by epoch, and resumable mid-epoch. */
class ShareResumeTest {
  private static final long ROWS = 10_007;

  private static Sluice sluice() {
    return Sluice.builder()
        .resources(Resources.cpus(4))
        .options(
            ExecutionOptions.defaults()
                .withMemoryBudget(32L << 20)
                .withTargetBlockRows(128)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  private static ShareAssignment assign(RangeSource source, int consumers, long seed, int epoch) {
    return StaticAssigner.equal(consumers, RemainderPolicy.DROP)
        .assign(EpochPlan.create(source.planSplits(), seed, epoch, true));
  }

  @Test
  void equalDisjointSharesPerRankAndANewOrderEachEpoch() {
    RangeSource source = new RangeSource(ROWS, 13);
    try (Sluice s = sluice()) {
      ShareAssignment a = assign(source, 3, 7, 0);
      Set<Long> all = new HashSet<>();
      List<List<Long>> shares = new ArrayList<>();
      for (int rank = 0; rank < 3; rank++) {
        List<Long> ids =
            DatasetBasicsTest.collect(s.readShare(source, a, rank), IterOptions.blocks());
        shares.add(ids);
        for (long id : ids) {
          assertThat(all.add(id)).as("row %d in two shares", id).isTrue();
        }
      }
      assertThat(shares.get(0)).hasSameSizeAs(shares.get(1)).hasSameSizeAs(shares.get(2));
      assertThat((long) all.size()).isEqualTo(ROWS - a.droppedRows());
      assertThat(
              DatasetBasicsTest.collect(
                  s.readShare(source, assign(source, 3, 7, 0), 1), IterOptions.blocks()))
          .as("same seed and epoch, same order")
          .isEqualTo(shares.get(1));
      assertThat(
              DatasetBasicsTest.collect(
                  s.readShare(source, assign(source, 3, 7, 1), 1), IterOptions.blocks()))
          .as("the next epoch is reshuffled")
          .isNotEqualTo(shares.get(1));
    }
  }

  @Test
  void resumingFromASavedPositionDeliversExactlyTheRest() {
    RangeSource source = new RangeSource(ROWS, 13);
    ConsumerPosition.Serializer serializer = new ConsumerPosition.Serializer();
    try (Sluice s = sluice()) {
      ShareAssignment a = assign(source, 2, 42, 3);
      List<Long> whole = DatasetBasicsTest.collect(s.readShare(source, a, 1), IterOptions.blocks());
      for (int cut : new int[] {0, 1, 127, 128, 1_234, whole.size() - 1, whole.size()}) {
        // A trainer saw `cut` rows, saved its position with its checkpoint, and restarted.
        byte[] saved = serializer.serialize(a.positionAfter(1, cut));
        ConsumerPosition restored = serializer.deserialize(saved);
        List<Long> rest =
            DatasetBasicsTest.collect(
                s.resumeShare(source, assign(source, 2, 42, 3), restored), IterOptions.blocks());
        assertThat(rest).as("cut at %d", cut).isEqualTo(whole.subList(cut, whole.size()));
      }
    }
  }
}
