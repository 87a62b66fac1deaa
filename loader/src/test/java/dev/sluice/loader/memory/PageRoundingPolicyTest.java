package dev.sluice.loader.memory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.Sluice;
import org.apache.arrow.memory.ArrowBuf;
import org.junit.jupiter.api.Test;

class PageRoundingPolicyTest {
  private static final PageRoundingPolicy P = PageRoundingPolicy.INSTANCE;

  @Test
  void smallSizesRoundToPowersOfTwoLargerOnesToWholePages() {
    assertThat(P.getRoundedSize(1)).isEqualTo(1);
    assertThat(P.getRoundedSize(5)).isEqualTo(8);
    assertThat(P.getRoundedSize(4096)).isEqualTo(4096);
    assertThat(P.getRoundedSize(4097)).isEqualTo(8192);
    assertThat(P.getRoundedSize(5_000_000)).isEqualTo(5_001_216); // not 8 MiB
    assertThat(P.getRoundedSize((8L << 20) + 1)).isEqualTo((8L << 20) + 4096); // not 16 MiB
  }

  @Test
  void theBlockStoreAccountsWholePagesNotPowersOfTwo() {
    try (Sluice s = Sluice.builder().build();
        ArrowBuf b = s.allocator().buffer((8L << 20) + 8)) {
      assertThat(b.capacity()).isEqualTo((8L << 20) + 4096);
      assertThat(s.allocator().getAllocatedMemory()).isEqualTo((8L << 20) + 4096);
    }
  }
}
