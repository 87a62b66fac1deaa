package dev.sluice.sharding;

/**
 * The pseudo-random generator behind every plan and shuffle: SplitMix64 (Steele, Lea and Flood,
 * "Fast splittable pseudorandom number generators", OOPSLA 2014) with Stafford's mix13 finaliser.
 *
 * <p>Implemented here rather than taken from {@link java.util.SplittableRandom} because saved
 * positions refer to plans by their seed: the sequence must stay the same across JDK versions and
 * vendors, which the JDK does not promise. Changing anything in this class changes every plan and
 * is a new {@link ConsumerPosition#CURRENT_FORMAT}. Not thread-safe; each use owns its instance.
 */
final class SplitMix64 {
  private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

  /** Domain tags, so that a plan and a shuffle with the same numbers draw unrelated sequences. */
  static final long DOMAIN_PLAN = 0x736c7569_63652e70L;

  static final long DOMAIN_SHUFFLE = 0x736c7569_63652e73L;

  static final long DOMAIN_FILES = 0x736c7569_63652e66L;

  static final long DOMAIN_SEED = 0x736c7569_63652e64L;

  private long state;

  SplitMix64(long seed) {
    this.state = seed;
  }

  /**
   * A generator whose seed is a well-mixed hash of a domain tag and the given parts, so that
   * neighbouring inputs ((seed, epoch) and (seed, epoch + 1), or (seed + 1, epoch)) give unrelated
   * sequences, unlike {@code new Random(seed + epoch)}.
   */
  static SplitMix64 derive(long domain, long... parts) {
    long h = mix64(domain);
    for (long part : parts) {
      h = mix64(h ^ mix64(part + GOLDEN_GAMMA));
    }
    return new SplitMix64(h);
  }

  static long mix64(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  long nextLong() {
    state += GOLDEN_GAMMA;
    return mix64(state);
  }

  /** Uniform in [0, bound), without modulo bias (rejection as in {@code Random.nextInt(int)}). */
  int nextInt(int bound) {
    if (bound <= 0) {
      throw new IllegalArgumentException("bound must be positive: " + bound);
    }
    long r;
    long v;
    do {
      r = nextLong() >>> 1;
      v = r % bound;
    } while (r - v + (bound - 1) < 0);
    return (int) v;
  }
}
