package dev.sluice.loader;

import dev.sluice.loader.source.ReadContext;
import dev.sluice.loader.source.Source;
import dev.sluice.loader.source.SplitReader;
import dev.sluice.sharding.SourceSplit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A test source of {@code rows} rows in {@code splits} splits: column {@code id} (int64) and a
 * {@code payload} of {@code payloadBytes} bytes derived from the id. Optionally gated: each block
 * read takes a permit from a semaphore the test controls.
 */
final class BlobSource implements Source {
  static final Schema SCHEMA = new Schema(List.of(Columns.int64("id"), Columns.binary("payload")));

  private final long rows;
  private final int splits;
  private final int payloadBytes;
  private final Semaphore gate;

  BlobSource(long rows, int splits, int payloadBytes, Semaphore gate) {
    this.rows = rows;
    this.splits = splits;
    this.payloadBytes = payloadBytes;
    this.gate = gate;
  }

  @Override
  public String name() {
    return "ReadBlobs";
  }

  @Override
  public List<SourceSplit> planSplits() {
    List<SourceSplit> out = new ArrayList<>();
    for (int i = 0; i < splits; i++) {
      long from = rows * i / splits;
      long to = rows * (i + 1) / splits;
      out.add(
          new SourceSplit(
              "blobs",
              i,
              List.of("blobs-" + i + ".bin"),
              from,
              to,
              to - from,
              (to - from) * payloadBytes,
              List.of()));
    }
    return out;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext ctx) {
    return new SplitReader() {
      long next = split.start();

      @Override
      public Batch next(BufferAllocator allocator) throws java.io.IOException {
        if (next >= split.end()) {
          return null;
        }
        if (gate != null) {
          try {
            gate.acquire();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException();
          }
        }
        int n =
            (int)
                Math.min(
                    Math.min(ctx.targetRows(), Math.max(1, ctx.targetBytes() / payloadBytes)),
                    split.end() - next);
        try (BatchBuilder b =
            BatchBuilder.create(allocator, SCHEMA, n, (long) n * payloadBytes, split.paths())) {
          byte[] payload = new byte[payloadBytes];
          for (int i = 0; i < n; i++) {
            long id = next + i;
            java.util.Arrays.fill(payload, (byte) id);
            b.setLong("id", i, id);
            b.setBytes("payload", i, payload);
          }
          next += n;
          return b.build(n);
        }
      }

      @Override
      public void close() {}
    };
  }

  /** A stateless "decode": each payload byte becomes {@code ratio} bytes of a uint8 tensor. */
  static BatchFunction expand(int payloadBytes, int ratio) {
    return (in, ctx) -> {
      int n = in.rowCount();
      Schema schema =
          new Schema(
              List.of(
                  Columns.int64("id"),
                  Columns.tensor("pixels", ElementType.UINT8, payloadBytes * ratio)));
      try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), schema, n, 0, in.sources())) {
        org.apache.arrow.memory.ArrowBuf data = b.tensorData("pixels");
        long rowBytes = (long) payloadBytes * ratio;
        for (int i = 0; i < n; i++) {
          b.setLong("id", i, in.getLong("id", i));
          byte[] p = in.getBytes("payload", i);
          for (int j = 0; j < p.length; j++) {
            for (int k = 0; k < ratio; k++) {
              data.setByte(i * rowBytes + (long) j * ratio + k, p[j] + k);
            }
          }
        }
        return b.build(n);
      }
    };
  }
}
