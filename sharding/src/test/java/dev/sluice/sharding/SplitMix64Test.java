package dev.sluice.sharding;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class SplitMix64Test {

  @Test
  void matchesTheReferenceSequence() {
    // splitmix64.c (Vigna) from state 0.
    var random = new SplitMix64(0);
    assertThat(random.nextLong()).isEqualTo(0xe220a8397b1dcdafL);
    assertThat(random.nextLong()).isEqualTo(0x6e789e6aa1b965f4L);
  }

  @Property(tries = 200)
  void agreesWithTheJdksSplittableRandom(@ForAll long seed) {
    var ours = new SplitMix64(seed);
    var jdk = new SplittableRandom(seed);
    for (int i = 0; i < 16; i++) {
      assertThat(ours.nextLong()).isEqualTo(jdk.nextLong());
    }
  }

  @Property(tries = 200)
  void boundedValuesStayInBounds(@ForAll long seed, @ForAll @IntRange(min = 1) int bound) {
    var random = new SplitMix64(seed);
    for (int i = 0; i < 16; i++) {
      assertThat(random.nextInt(bound)).isBetween(0, bound - 1);
    }
  }

  @Test
  void derivedSeedsOfNeighboursAreUnrelated() {
    long a = SplitMix64.derive(SplitMix64.DOMAIN_PLAN, 1, 0).nextLong();
    long b = SplitMix64.derive(SplitMix64.DOMAIN_PLAN, 0, 1).nextLong();
    long c = SplitMix64.derive(SplitMix64.DOMAIN_SHUFFLE, 1, 0).nextLong();
    assertThat(a).isNotEqualTo(b).isNotEqualTo(c);
    assertThat(Long.bitCount(a ^ b)).isBetween(16, 48);
  }
}
