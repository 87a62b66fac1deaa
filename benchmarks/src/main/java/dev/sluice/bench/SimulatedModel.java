package dev.sluice.bench;

import dev.sluice.examples.demo.ExpandDecode;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The stand-in for a GPU model in the benchmarks: an actor that takes a fixed time per row and
 * returns one small prediction per row, like an inference stage whose device runs at a fixed rate.
 * The waiting is the simulated work (the device computing while the host thread waits), not
 * synchronisation.
 *
 * <p>Input: {@link ExpandDecode}'s output. Output: {@link Batch#KEY_COLUMN}, {@value
 * ExpandDecode#LABEL} and {@value #PREDICTION} (int32 in [0, 10), derived from a few pixels so that
 * the input is really read). One instance per actor; not thread-safe.
 */
public final class SimulatedModel implements BatchFunction {
  /** The output column. */
  public static final String PREDICTION = "prediction";

  private static final Schema SCHEMA =
      new Schema(
          List.of(
              Columns.utf8(Batch.KEY_COLUMN),
              Columns.int32(ExpandDecode.LABEL),
              Columns.int32(PREDICTION)));

  private final long nanosPerRow;

  /** A model taking {@code microsPerRow} microseconds per row. */
  public SimulatedModel(long microsPerRow) {
    if (microsPerRow < 0) {
      throw new IllegalArgumentException("microsPerRow must be >= 0");
    }
    this.nanosPerRow = TimeUnit.MICROSECONDS.toNanos(microsPerRow);
  }

  /** A "class" in [0, 10) from three words of the row: start, middle and end. */
  private static int predict(ArrowBuf pixels, long offset, int rowBytes) {
    if (rowBytes < 8) {
      return (pixels.getByte(offset) & 0xFF) % 10;
    }
    long h =
        pixels.getLong(offset)
            ^ pixels.getLong(offset + (rowBytes / 2 & ~7))
            ^ pixels.getLong(offset + rowBytes - 8);
    return (int) Long.remainderUnsigned(h * 0x9E3779B97F4A7C15L, 10);
  }

  @Override
  public Batch apply(Batch input, BatchContext context) throws InterruptedException {
    int n = input.rowCount();
    // Simulated work: the stand-in device needs nanosPerRow for every row of the batch.
    TimeUnit.NANOSECONDS.sleep(nanosPerRow * n);
    ArrowBuf pixels = input.tensorData(ExpandDecode.PIXELS);
    int rowBytes = input.tensorSpec(ExpandDecode.PIXELS).rowBytes();
    long keyBytes = 0;
    for (int r = 0; r < n; r++) {
      keyBytes += input.getBytes(Batch.KEY_COLUMN, r).length;
    }
    try (BatchBuilder out =
        BatchBuilder.create(context.allocator(), SCHEMA, n, keyBytes, input.sources())) {
      for (int r = 0; r < n; r++) {
        out.setBytes(Batch.KEY_COLUMN, r, input.getBytes(Batch.KEY_COLUMN, r));
        out.setLong(ExpandDecode.LABEL, r, input.getLong(ExpandDecode.LABEL, r));
        out.setLong(PREDICTION, r, predict(pixels, (long) r * rowBytes, rowBytes));
      }
      return out.build(n);
    }
  }
}
