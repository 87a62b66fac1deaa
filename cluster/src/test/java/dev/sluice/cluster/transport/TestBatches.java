package dev.sluice.cluster.transport;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.pojo.Schema;

/** Batches whose every byte is a function of a seed, so a received copy can be checked. */
final class TestBatches {
  static final int[] SHAPE = {2, 3};

  private TestBatches() {}

  /**
   * {@code rows} rows of: {@code id} int32 ({@code seed * 1000 + row}, null at row 2), {@code name}
   * UTF-8 ({@code "s<seed>-r<row>"}, null at row 1), {@code t} a float32 tensor of shape [2, 3]
   * (element i of row r: {@code seed + r + i / 10f}).
   */
  static Batch mixed(BufferAllocator alloc, int seed, int rows) {
    Schema schema =
        new Schema(
            List.of(
                Columns.int32("id"),
                Columns.utf8("name"),
                Columns.tensor("t", ElementType.FLOAT32, SHAPE)));
    try (BatchBuilder b =
        BatchBuilder.create(alloc, schema, rows, 16L * rows, List.of("shard-" + seed + ".tar"))) {
      ArrowBuf t = b.tensorData("t");
      for (int r = 0; r < rows; r++) {
        if (r == 2) {
          b.setNull("id", r);
        } else {
          b.setLong("id", r, seed * 1000L + r);
        }
        if (r == 1) {
          b.setNull("name", r);
        } else {
          b.setString("name", r, "s" + seed + "-r" + r);
        }
        for (int i = 0; i < 6; i++) {
          t.setFloat((r * 6L + i) * 4, seed + r + i / 10f);
        }
      }
      return b.build(rows);
    }
  }

  /** A 4 MiB block: {@code rows} rows of a 4096-byte uint8 tensor, byte j of row r = seed+r+j. */
  static Batch tensor4k(BufferAllocator alloc, int seed, int rows) {
    Schema schema = new Schema(List.of(Columns.tensor("x", ElementType.UINT8, 4096)));
    try (BatchBuilder b = BatchBuilder.createUninitialized(alloc, schema, rows, 0, List.of())) {
      ArrowBuf x = b.tensorData("x");
      for (int r = 0; r < rows; r++) {
        for (int j = 0; j < 4096; j += 8) {
          long v = 0;
          for (int k = 0; k < 8; k++) {
            v |= ((long) ((seed + r + j + k) & 0xff)) << (8 * k);
          }
          x.setLong((long) r * 4096 + j, v);
        }
      }
      return b.build(rows);
    }
  }
}
