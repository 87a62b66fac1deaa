package dev.sluice.loader;

/**
 * How {@link Dataset#iterBatches} cuts the stream into batches. Immutable.
 *
 * @param batchSize rows per batch; 0 hands blocks on as they come (no copy)
 * @param prefetchBatches batches assembled ahead on a background thread (when re-batching or
 *     shuffling); 0 assembles on the caller's thread
 * @param localShuffleBufferSize rows held in a shuffle buffer from which each batch draws at
 *     random; 0 turns shuffling off
 * @param shuffleSeed the seed of the local shuffle (same seed, same input order: same output order)
 * @param dropLast whether to drop a final batch smaller than {@code batchSize}
 */
public record IterOptions(
    int batchSize,
    int prefetchBatches,
    int localShuffleBufferSize,
    long shuffleSeed,
    boolean dropLast) {

  public IterOptions {
    if (batchSize < 0 || prefetchBatches < 0 || localShuffleBufferSize < 0) {
      throw new IllegalArgumentException("iteration options must be >= 0");
    }
    if (localShuffleBufferSize > 0 && batchSize == 0) {
      throw new IllegalArgumentException("a local shuffle needs a batch size");
    }
  }

  /** Blocks as they come, no prefetch thread, no shuffle. */
  public static IterOptions blocks() {
    return new IterOptions(0, 0, 0, 0, false);
  }

  /** Batches of {@code batchSize} rows, one prefetched, no shuffle, last batch kept. */
  public static IterOptions batches(int batchSize) {
    return new IterOptions(batchSize, 1, 0, 0, false);
  }

  public IterOptions withPrefetchBatches(int n) {
    return new IterOptions(batchSize, n, localShuffleBufferSize, shuffleSeed, dropLast);
  }

  public IterOptions withLocalShuffle(int bufferRows, long seed) {
    return new IterOptions(batchSize, prefetchBatches, bufferRows, seed, dropLast);
  }

  public IterOptions withDropLast(boolean drop) {
    return new IterOptions(batchSize, prefetchBatches, localShuffleBufferSize, shuffleSeed, drop);
  }
}
