package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The rows of one batch collected on the heap by a file reader, then written into Arrow vectors
 * each sized exactly (every variable-length column gets precisely its own bytes), so that no vector
 * grows by doubling and no column is over-allocated to the size of the widest one.
 *
 * <p>Cells are {@code byte[]} (binary and UTF-8 columns), {@link String} (UTF-8), {@link Integer}
 * (int32 columns) or null. Not thread-safe; one per reader.
 */
final class HeapBatch {
  private final Schema schema;
  private final List<List<Object>> columns = new ArrayList<>();
  private final LinkedHashSet<String> sources = new LinkedHashSet<>();
  private long bytes;
  private int rows;

  HeapBatch(Schema schema) {
    this.schema = schema;
    for (int i = 0; i < schema.getFields().size(); i++) {
      columns.add(new ArrayList<>());
    }
  }

  /** Appends one row; {@code cells} follow the schema's column order. */
  void add(String source, Object... cells) {
    if (cells.length != columns.size()) {
      throw new IllegalArgumentException(
          "expected " + columns.size() + " cells, got " + cells.length);
    }
    for (int c = 0; c < cells.length; c++) {
      Object cell = cells[c];
      if (cell instanceof String s) {
        cell = s.getBytes(StandardCharsets.UTF_8);
      }
      if (cell instanceof byte[] b) {
        bytes += b.length;
      } else if (cell != null) {
        bytes += 4;
      }
      columns.get(c).add(cell);
    }
    sources.add(source);
    rows++;
  }

  int rows() {
    return rows;
  }

  /** Payload bytes collected so far (what {@link ReadContext#targetBytes()} is compared with). */
  long bytes() {
    return bytes;
  }

  /** Builds the batch in {@code allocator} (owned by the caller) and empties this collector. */
  Batch build(BufferAllocator allocator) {
    VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
    try {
      for (int c = 0; c < columns.size(); c++) {
        fill(root.getVector(c), columns.get(c));
      }
      root.setRowCount(rows);
      Batch batch = new Batch(root, new ArrayList<>(sources));
      clear();
      return batch;
    } catch (RuntimeException | Error e) {
      root.close();
      throw e;
    }
  }

  void clear() {
    for (List<Object> column : columns) {
      column.clear();
    }
    sources.clear();
    bytes = 0;
    rows = 0;
  }

  private void fill(FieldVector vector, List<Object> cells) {
    int n = cells.size();
    if (vector instanceof BaseVariableWidthVector var) {
      long total = 0;
      for (Object cell : cells) {
        total += cell == null ? 0 : ((byte[]) cell).length;
      }
      var.allocateNew(Math.max(total, 1), Math.max(n, 1));
      for (int r = 0; r < n; r++) {
        Object cell = cells.get(r);
        if (cell == null) {
          var.setNull(r);
        } else {
          var.set(r, (byte[]) cell);
        }
      }
    } else if (vector instanceof IntVector ints) {
      ints.allocateNew(Math.max(n, 1));
      for (int r = 0; r < n; r++) {
        Object cell = cells.get(r);
        if (cell == null) {
          ints.setNull(r);
        } else {
          ints.set(r, (Integer) cell);
        }
      }
    } else {
      throw new IllegalStateException("unsupported column type " + vector.getField());
    }
    vector.setValueCount(n);
  }
}
