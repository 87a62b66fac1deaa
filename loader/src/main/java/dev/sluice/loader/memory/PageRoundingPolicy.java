package dev.sluice.loader.memory;

import org.apache.arrow.memory.rounding.RoundingPolicy;

/**
 * Rounds Arrow allocations up to whole pages (4 KiB) instead of Arrow's default, which rounds every
 * allocation below its 16 MiB chunk size up to the next power of two: a 4.8 MB block of decoded
 * images takes 8 MiB, and an 8 MiB tensor plus its validity bits takes 16 MiB. The store accounts
 * what is allocated, so that rounding halved the rows a budget could hold. Allocations up to a page
 * still round to a power of two (validity bitmaps and small columns stay cheap to recycle).
 */
public final class PageRoundingPolicy implements RoundingPolicy {
  /** The page size: 4 KiB. */
  public static final long PAGE = 4096;

  /** The policy. */
  public static final PageRoundingPolicy INSTANCE = new PageRoundingPolicy();

  private PageRoundingPolicy() {}

  @Override
  public long getRoundedSize(long requestSize) {
    if (requestSize <= 0) {
      return requestSize;
    }
    if (requestSize <= PAGE) {
      long power = Long.highestOneBit(requestSize);
      return power == requestSize ? requestSize : power << 1;
    }
    return (requestSize + PAGE - 1) / PAGE * PAGE;
  }
}
