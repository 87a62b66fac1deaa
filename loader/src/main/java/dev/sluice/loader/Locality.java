package dev.sluice.loader;

/**
 * What a consumer of a {@linkplain Dataset#streamingSplit(int, SplitOptions) streaming split} got
 * from its own host: a block counts as local when the consumer's locality hint is among the
 * {@linkplain Batch#hosts() hosts} of the block, and as remote otherwise (also when the block names
 * no host or the consumer has no hint). Zero for iterators that are not part of a split.
 *
 * @param localBlocks blocks handed to the consumer that were local to it
 * @param remoteBlocks blocks handed to the consumer that were not
 * @param localRows rows of the local blocks
 * @param remoteRows rows of the remote blocks
 */
public record Locality(long localBlocks, long remoteBlocks, long localRows, long remoteRows) {
  /** No deliveries. */
  public static final Locality NONE = new Locality(0, 0, 0, 0);

  /** The share of rows that were local, in [0, 1]; 0 before anything was delivered. */
  public double localShare() {
    long all = localRows + remoteRows;
    return all == 0 ? 0 : (double) localRows / all;
  }
}
