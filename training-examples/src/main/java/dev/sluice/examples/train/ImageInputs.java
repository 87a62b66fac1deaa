package dev.sluice.examples.train;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;

/** The per-batch steps of the training example between decoding and the model (also used by the benchmarks). */
public final class ImageInputs {
  private ImageInputs() {}

  /** Column of the decoded pixels (uint8, [H, W, C]). */
  public static final String PIXELS = "pixels";

  /** Column of the integer label. */
  public static final String LABEL = "label";

  /**
   * Parses WebDataset's {@code .cls} entry (the class index as text) into an int32 {@code label}
   * column; a label that is not a number in range is a bad record naming the sample.
   */
  public static BatchFunction parseLabel(String clsColumn, int classes) {
    return (in, ctx) -> {
      int n = in.rowCount();
      int[] keep = new int[n];
      int kept = 0;
      int[] labels = new int[n];
      for (int r = 0; r < n; r++) {
        String text = in.getString(clsColumn, r);
        try {
          int label = Integer.parseInt(text == null ? "" : text.trim());
          if (label < 0 || label >= classes) {
            throw new NumberFormatException("label " + label + " outside [0, " + classes + ")");
          }
          labels[kept] = label;
          keep[kept++] = r;
        } catch (NumberFormatException e) {
          String file = in.hasColumn(Batch.URL_COLUMN) ? in.getString(Batch.URL_COLUMN, r) : String.join(", ", in.sources());
          String key = in.hasColumn(Batch.KEY_COLUMN) ? in.getString(Batch.KEY_COLUMN, r) : "row " + r;
          ctx.badRecords().report(ctx.operatorName(), file, key, e);
        }
      }
      Batch labelColumn;
      try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), new Schema(List.of(Columns.int32(LABEL))), kept, 0,
          in.sources())) {
        for (int r = 0; r < kept; r++) {
          b.setLong(LABEL, r, labels[r]);
        }
        labelColumn = b.build(kept);
      }
      // The other columns (the encoded image above all) are shared with the input, not copied,
      // unless bad labels left rows out.
      try {
        if (kept == n) {
          return in.withColumnsOf(ctx.allocator(), List.of(clsColumn), labelColumn);
        }
        try (Batch keptRows = in.select(ctx.allocator(), java.util.Arrays.copyOf(keep, kept))) {
          return keptRows.withColumnsOf(ctx.allocator(), List.of(clsColumn), labelColumn);
        }
      } finally {
        labelColumn.close(); // (already consumed unless adding failed)
      }
    };
  }

  /**
   * Augmentation, run in an actor pool: a horizontal flip of half the images, chosen by a hash of
   * the sample's key and the epoch seed, so that the same seed gives the same images. Keeps the
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
      for (int r = 0; r < n; r++) {
        String key = in.hasColumn(Batch.KEY_COLUMN) ? in.getString(Batch.KEY_COLUMN, r) : Integer.toString(r);
        if (((key.hashCode() * 0x9E3779B97F4A7C15L + seed) >>> 63) == 0) {
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

    private static int[] identity(int n) {
      int[] rows = new int[n];
      for (int i = 0; i < n; i++) {
        rows[i] = i;
      }
      return rows;
    }
  }
}
