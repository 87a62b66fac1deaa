package dev.sluice.examples.train;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import dev.sluice.sharding.EpochPlan;
import org.apache.arrow.memory.ArrowBuf;

/**
 * The per-batch steps of the training example between decoding and the model (also used by the
 * benchmarks).
 */
public final class ImageInputs {
  private ImageInputs() {}

  /** Column of the decoded pixels (uint8, [H, W, C]). */
  public static final String PIXELS = "pixels";

  /** Column of the integer label. */
  public static final String LABEL = "label";

  /**
   * Augmentation, run in an actor pool: a horizontal flip of half the images, chosen by a hash of
   * the sample's key, the seed and the epoch ({@link BatchContext#epoch()}), so that the same seed
   * gives the same images whichever actor runs them, and each epoch flips another half. Keeps the
   * pixel column's shape; the other columns pass through.
   */
  static final class RandomFlip implements BatchFunction {
    private final long seed;

    RandomFlip(long seed) {
      this.seed = seed;
    }

    @Override
    public Batch apply(Batch in, BatchContext ctx) {
      TensorSpec spec = in.tensorSpec(PIXELS);
      int[] shape = spec.shape();
      if (spec.elementType() != ElementType.UINT8 || shape.length != 3) {
        throw new IllegalArgumentException("RandomFlip wants uint8 [H, W, C] pixels, got " + spec);
      }
      int h = shape[0];
      int w = shape[1];
      int c = shape[2];
      int n = in.rowCount();
      Batch out = in.select(ctx.allocator(), identity(n));
      ArrowBuf data = out.tensorData(PIXELS);
      byte[] row = new byte[w * c];
      long epochSeed = EpochPlan.epochSeed(seed, ctx.epoch());
      for (int r = 0; r < n; r++) {
        String key =
            in.hasColumn(Batch.KEY_COLUMN)
                ? in.getString(Batch.KEY_COLUMN, r)
                : Integer.toString(r);
        if (!flips(key, epochSeed)) {
          continue;
        }
        long base = (long) r * spec.rowBytes();
        for (int y = 0; y < h; y++) {
          long line = base + (long) y * w * c;
          data.getBytes(line, row, 0, row.length);
          for (int x = 0; x < w; x++) {
            for (int k = 0; k < c; k++) {
              data.setByte(line + (long) x * c + k, row[(w - 1 - x) * c + k]);
            }
          }
        }
      }
      return out;
    }

    /**
     * Whether the sample {@code key} is flipped: the top bit of a well-mixed hash of key and seed.
     */
    static boolean flips(String key, long epochSeed) {
      long z = key.hashCode() ^ epochSeed;
      z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
      z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
      return ((z ^ (z >>> 31)) >>> 63) != 0;
    }

    private static int[] identity(int n) {
      int[] rows = new int[n];
      for (int i = 0; i < n; i++) {
        rows[i] = i;
      }
      return rows;
    }
  }
}
