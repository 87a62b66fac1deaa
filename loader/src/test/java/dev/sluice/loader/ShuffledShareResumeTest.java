package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import dev.sluice.sharding.ConsumerPosition;
import dev.sluice.sharding.EpochPlan;
import dev.sluice.sharding.RemainderPolicy;
import dev.sluice.sharding.ShareAssignment;
import dev.sluice.sharding.StaticAssigner;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * A share read through its consumer's seeded local shuffle: the order depends only on the seed, and
 * a position saved after any number of rows resumes the epoch with exactly the rest, in the same
 * order as without the restart.
 */
class ShuffledShareResumeTest {
  private static final ConsumerPosition.Serializer SERIALIZER = new ConsumerPosition.Serializer();

  private static Sluice sluice(int blockRows) {
    return Sluice.builder()
        .resources(Resources.cpus(3))
        .options(
            ExecutionOptions.defaults()
                .withMemoryBudget(32L << 20)
                .withTargetBlockRows(blockRows)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  private static ShareAssignment assign(
      RangeSource source, int consumers, RemainderPolicy policy, long seed, int epoch) {
    return StaticAssigner.equal(consumers, policy)
        .assign(EpochPlan.create(source.planSplits(), seed, epoch, true));
  }

  /** A map that builds a fresh batch, as a decoder would: rows keep their order and count. */
  private static Dataset decoded(Dataset share) {
    return share.mapBatches(
        (in, ctx) ->
            in.select(
                ctx.allocator(), java.util.stream.IntStream.range(0, in.rowCount()).toArray()),
        MapOptions.DEFAULT.withCpus(0.5).withName("Decode"));
  }

  @Property(tries = 40)
  void resumingFromAnyCutDeliversExactlyTheRestInTheSameOrder(
      @ForAll @IntRange(min = 1, max = 2_000) int rows,
      @ForAll @IntRange(min = 1, max = 9) int splits,
      @ForAll @IntRange(min = 1, max = 3) int consumers,
      @ForAll @IntRange(max = 2) int rankSeed,
      @ForAll @IntRange(min = 1, max = 400) int bufferRows,
      @ForAll @IntRange(min = 1, max = 90) int batch,
      @ForAll @IntRange(min = 7, max = 200) int blockRows,
      @ForAll long seed,
      @ForAll @IntRange(max = 5) int epoch,
      @ForAll @IntRange(max = 1_000_000) int cutPerMillion,
      @ForAll RemainderPolicy policy) {
    RangeSource source = new RangeSource(rows, splits);
    int rank = rankSeed % consumers;
    try (Sluice s = sluice(blockRows)) {
      ShareAssignment plan = assign(source, consumers, policy, seed, epoch);
      List<Long> inShareOrder =
          DatasetBasicsTest.collect(s.readShare(source, plan, rank), IterOptions.blocks());
      List<Long> whole =
          DatasetBasicsTest.collect(
              decoded(s.readShare(source, plan, rank, bufferRows)), IterOptions.batches(batch));
      assertThat(whole)
          .hasSameSizeAs(inShareOrder)
          .containsExactlyInAnyOrderElementsOf(inShareOrder);
      if (bufferRows == 1) {
        assertThat(whole).as("a buffer of one row keeps the order").isEqualTo(inShareOrder);
      }
      // The order does not depend on timing or on how the rows are cut into batches.
      assertThat(
              DatasetBasicsTest.collect(
                  s.readShare(source, plan, rank, bufferRows),
                  IterOptions.batches(batch + 13).withPrefetchBatches(0)))
          .isEqualTo(whole);

      int cut = (int) ((long) whole.size() * cutPerMillion / 1_000_000);
      ConsumerPosition saved =
          SERIALIZER.deserialize(SERIALIZER.serialize(plan.positionAfter(rank, cut)));
      ShareAssignment replanned =
          assign(source, consumers, policy, seed, epoch); // a new process plans afresh
      List<Long> rest =
          DatasetBasicsTest.collect(
              decoded(s.resumeShare(source, replanned, saved, bufferRows)),
              IterOptions.batches(Math.max(1, batch / 2)));
      assertThat(rest)
          .as("cut at %d of %d", cut, whole.size())
          .isEqualTo(whole.subList(cut, whole.size()));

      // The next epoch is the same whether or not this one was interrupted: it depends on the plan
      // only.
      ShareAssignment next = assign(source, consumers, policy, seed, epoch + 1);
      assertThat(
              DatasetBasicsTest.collect(
                  s.readShare(source, next, rank, bufferRows), IterOptions.batches(batch)))
          .isEqualTo(
              DatasetBasicsTest.collect(
                  s.readShare(
                      source, assign(source, consumers, policy, seed, epoch + 1), rank, bufferRows),
                  IterOptions.batches(batch + 1)));
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void theShuffleMixesAndDiffersAcrossEpochs() {
    RangeSource source = new RangeSource(5_000, 8);
    try (Sluice s = sluice(100)) {
      List<Long> inOrder =
          DatasetBasicsTest.collect(
              s.readShare(source, assign(source, 2, RemainderPolicy.DROP, 1, 0), 0),
              IterOptions.blocks());
      List<Long> e0 =
          DatasetBasicsTest.collect(
              s.readShare(source, assign(source, 2, RemainderPolicy.DROP, 1, 0), 0, 500),
              IterOptions.batches(32));
      List<Long> e1 =
          DatasetBasicsTest.collect(
              s.readShare(source, assign(source, 2, RemainderPolicy.DROP, 1, 1), 0, 500),
              IterOptions.batches(32));
      assertThat(e0).isNotEqualTo(inOrder).containsExactlyInAnyOrderElementsOf(inOrder);
      assertThat(e1).isNotEqualTo(e0);
      // Blocks as they come are handed on through the shuffle too, in blocks of the target size.
      try (BatchIterator it =
          s.readShare(source, assign(source, 2, RemainderPolicy.DROP, 1, 0), 0, 500)
              .iterBatches()) {
        List<Long> ids = new ArrayList<>();
        while (it.hasNext()) {
          try (Batch b = it.next()) {
            assertThat(b.rowCount()).isLessThanOrEqualTo(100);
            for (int r = 0; r < b.rowCount(); r++) {
              ids.add(b.getLong(RangeSource.COLUMN, r));
            }
          }
        }
        assertThat(ids).isEqualTo(e0);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aSecondShuffleOrRowsLostAfterTheReadAreErrors() {
    RangeSource source = new RangeSource(3_000, 4);
    try (Sluice s = sluice(100)) {
      ShareAssignment plan = assign(source, 1, RemainderPolicy.DROP, 5, 2);
      Dataset shuffled = s.readShare(source, plan, 0, 64);
      assertThatThrownBy(
              () -> shuffled.iterBatches(IterOptions.batches(10).withLocalShuffle(100, 1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("already shuffled");
      assertThatThrownBy(() -> shuffled.streamingSplit(2, false))
          .isInstanceOf(IllegalStateException.class);
      // Resuming needs exactly the rows the position leaves: a filter after the read breaks that,
      // loudly.
      Dataset filtered =
          s.resumeShare(source, plan, plan.positionAfter(0, 1_000), 64)
              .filter((b, r) -> b.getLong(RangeSource.COLUMN, r) % 10 != 0);
      assertThatThrownBy(() -> DatasetBasicsTest.collect(filtered, IterOptions.batches(50)))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("does not hold the rows its assignment says");
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }
}
