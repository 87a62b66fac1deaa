package dev.sluice.examples.train;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.sharding.EpochPlan;
import org.junit.jupiter.api.Test;

class ImageInputsTest {
  /** How many of 10,000 sample keys are flipped with the given epoch seed. */
  private static int flipped(long epochSeed, int fromKey) {
    int n = 0;
    for (int i = fromKey; i < fromKey + 10_000; i++) {
      n += ImageInputs.RandomFlip.flips(String.format("%06d", i), epochSeed) ? 1 : 0;
    }
    return n;
  }

  @Test
  void aboutHalfTheSamplesAreFlippedAndAnotherHalfEachEpoch() {
    long e0 = EpochPlan.epochSeed(42, 0);
    long e1 = EpochPlan.epochSeed(42, 1);
    // Binomial(10,000, 1/2): sd 50, so 4,700..5,300 is six sd wide.
    assertThat(flipped(e0, 0)).isBetween(4_700, 5_300);
    int same = 0;
    for (int i = 0; i < 10_000; i++) {
      String key = String.format("%06d", i);
      same +=
          ImageInputs.RandomFlip.flips(key, e0) == ImageInputs.RandomFlip.flips(key, e1) ? 1 : 0;
    }
    // Independent halves agree on about half the keys; the old hash (seed added to a product)
    // agreed on nearly all of them from one epoch to the next.
    assertThat(same).isBetween(4_700, 5_300);
  }
}
