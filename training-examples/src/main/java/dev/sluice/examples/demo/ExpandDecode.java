package dev.sluice.examples.demo;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A stand-in for an image decoder: expands each sample's payload {@code ratio}:1 into a {@code
 * uint8} tensor, doing real CPU work for every output byte (a cheap deterministic transform of the
 * input byte, its position and the output lane: not a copy), as JPEG decoding turns about 10x fewer
 * bytes into pixels.
 *
 * <p>Input: {@value SyntheticShards#PAYLOAD_EXT} (binary, {@code payloadBytes} per row), {@value
 * SyntheticShards#LABEL_EXT} (binary or UTF-8 decimal text) and {@link Batch#KEY_COLUMN}, as {@code
 * WebDatasetSource} reads {@link SyntheticShards}. Output ({@link #outputSchema()}): {@link
 * Batch#KEY_COLUMN} (UTF-8, copied), {@value #LABEL} (int32, parsed) and {@value #PIXELS}, a tensor
 * column of shape {@code [payloadBytes * ratio]}, written straight into the output batch's
 * contiguous tensor buffer.
 *
 * <p>A row whose payload has another length, or whose label is missing or not a number, is a bad
 * record: reported to the execution's allowance (which fails the pipeline naming the shard and the
 * key, or skips the row within the allowance).
 *
 * <p>Immutable and thread-safe: one instance serves every task of a stateless {@code mapBatches}.
 */
public final class ExpandDecode implements BatchFunction {
  /** The output tensor column. */
  public static final String PIXELS = "pixels";

  /** The output label column. */
  public static final String LABEL = "cls";

  private final int payloadBytes;
  private final int ratio;
  private final int rowBytes;
  private final Schema schema;

  /**
   * A decoder of {@code payloadBytes}-byte payloads into {@code payloadBytes * ratio} bytes each.
   *
   * @throws IllegalArgumentException when a size is not positive or one output row would exceed 2
   *     GiB
   */
  public ExpandDecode(int payloadBytes, int ratio) {
    if (payloadBytes < 1 || ratio < 1) {
      throw new IllegalArgumentException(
          "payloadBytes and ratio must be >= 1, got " + payloadBytes + " and " + ratio);
    }
    long out = (long) payloadBytes * ratio;
    if (out > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException(
          "one decoded row would be " + out + " bytes, more than 2 GiB");
    }
    this.payloadBytes = payloadBytes;
    this.ratio = ratio;
    this.rowBytes = (int) out;
    this.schema =
        new Schema(
            List.of(
                Columns.utf8(Batch.KEY_COLUMN),
                Columns.int32(LABEL),
                Columns.tensor(PIXELS, ElementType.UINT8, rowBytes)));
  }

  /** A 10:1 decoder of {@code payloadBytes}-byte payloads. */
  public static ExpandDecode tenToOne(int payloadBytes) {
    return new ExpandDecode(payloadBytes, 10);
  }

  /** The schema of every output batch. */
  public Schema outputSchema() {
    return schema;
  }

  /** Bytes of one output row's tensor ({@code payloadBytes * ratio}). */
  public int decodedRowBytes() {
    return rowBytes;
  }

  /** The expansion ratio. */
  public int ratio() {
    return ratio;
  }

  @Override
  public Batch apply(Batch input, BatchContext context) {
    int n = input.rowCount();
    FieldVector payloadVector = input.vector(SyntheticShards.PAYLOAD_EXT);
    if (!(payloadVector instanceof BaseVariableWidthVector payloads)) {
      throw new IllegalArgumentException(
          "column '"
              + SyntheticShards.PAYLOAD_EXT
              + "' must be binary, is "
              + payloadVector.getField().getType());
    }
    // First pass: validate, so that the builder is sized for the rows that survive.
    int[] rows = new int[n];
    int[] labels = new int[n];
    int good = 0;
    long keyBytes = 0;
    for (int r = 0; r < n; r++) {
      String problem = null;
      int label = 0;
      if (payloads.isNull(r) || payloads.getValueLength(r) != payloadBytes) {
        problem =
            "payload '"
                + SyntheticShards.PAYLOAD_EXT
                + "' has "
                + (payloads.isNull(r) ? "no value" : payloads.getValueLength(r) + " bytes")
                + ", expected "
                + payloadBytes;
      } else {
        try {
          label = parseLabel(input.getBytes(SyntheticShards.LABEL_EXT, r));
        } catch (IllegalArgumentException e) {
          problem = e.getMessage();
        }
      }
      if (problem != null) {
        context
            .badRecords()
            .report(
                context.operatorName(),
                sourceOf(input, r),
                keyOf(input, r),
                new IllegalArgumentException(problem));
        continue;
      }
      rows[good] = r;
      labels[good] = label;
      good++;
      keyBytes += input.isNull(Batch.KEY_COLUMN, r) ? 0 : keyLength(input, r);
    }

    try (BatchBuilder out =
        BatchBuilder.create(context.allocator(), schema, good, keyBytes, input.sources())) {
      ArrowBuf pixels = out.tensorData(PIXELS);
      ArrowBuf inData = payloads.getDataBuffer();
      byte[] src = new byte[payloadBytes];
      byte[] dst = new byte[rowBytes];
      for (int o = 0; o < good; o++) {
        int r = rows[o];
        inData.getBytes(payloads.getStartOffset(r), src, 0, payloadBytes);
        expand(src, dst, ratio);
        pixels.setBytes((long) o * rowBytes, dst, 0, rowBytes);
        out.setBytes(Batch.KEY_COLUMN, o, input.getBytes(Batch.KEY_COLUMN, r));
        out.setLong(LABEL, o, labels[o]);
      }
      return out.build(good);
    }
  }

  /**
   * The decode transform: input byte {@code b} at position {@code j} becomes {@code ratio} output
   * bytes, lane {@code k} being {@code (b * (2k + 1) + 7j + 13k) xor (b >>> (k mod 8))}. A few
   * integer operations per output byte, deterministic, and different for every lane.
   */
  static void expand(byte[] src, byte[] dst, int ratio) {
    int o = 0;
    for (int j = 0; j < src.length; j++) {
      int b = src[j] & 0xFF;
      int base = 7 * j;
      for (int k = 0; k < ratio; k++) {
        dst[o++] = (byte) ((b * (2 * k + 1) + base + 13 * k) ^ (b >>> (k & 7)));
      }
    }
  }

  private static int parseLabel(byte[] text) {
    if (text == null) {
      throw new IllegalArgumentException("label '" + SyntheticShards.LABEL_EXT + "' is missing");
    }
    String s = new String(text, StandardCharsets.UTF_8).trim();
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "label '" + SyntheticShards.LABEL_EXT + "' is not an integer: '" + s + "'");
    }
  }

  private static int keyLength(Batch input, int row) {
    return ((BaseVariableWidthVector) input.vector(Batch.KEY_COLUMN)).getValueLength(row);
  }

  private static String keyOf(Batch input, int row) {
    return hasColumn(input, Batch.KEY_COLUMN)
        ? input.getString(Batch.KEY_COLUMN, row)
        : "row " + row;
  }

  private static String sourceOf(Batch input, int row) {
    if (hasColumn(input, Batch.URL_COLUMN) && !input.isNull(Batch.URL_COLUMN, row)) {
      return input.getString(Batch.URL_COLUMN, row);
    }
    return String.join(", ", input.sources());
  }

  /**
   * Whether {@code batch} has the column (Batch.hasColumn throws for a missing column in Arrow 18).
   */
  static boolean hasColumn(Batch batch, String column) {
    for (var f : batch.schema().getFields()) {
      if (f.getName().equals(column)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return "ExpandDecode[" + payloadBytes + " B x " + ratio + "]";
  }
}
