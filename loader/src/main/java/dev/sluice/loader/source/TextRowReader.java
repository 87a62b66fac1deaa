package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.sharding.SourceSplit;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Reads one text file of rows (JSON lines, CSV) as batches: what {@link JsonLinesSource} and {@link
 * CsvSource} share. The file is opened on the first {@code next} and read as a stream; each batch
 * is built in the allocator passed to that call, up to {@link ReadContext#targetRows()} rows or
 * about {@link ReadContext#targetBytes()} bytes of input. A bad row is reported to the bad-record
 * allowance with its position ({@code line N}); within the allowance it is skipped.
 */
final class TextRowReader implements SplitReader {
  /** The rows of one file. */
  interface Rows extends Closeable {
    /**
     * Parses the next row into row {@code row} of {@code builder}: the input bytes it took (at
     * least 1), or -1 at the end of the file. A bad row throws {@link BadRow}; cells of row {@code
     * row} it already set are overwritten by the next row.
     */
    long next(BatchBuilder builder, int row) throws IOException;
  }

  /** Opens the rows of a file. */
  @FunctionalInterface
  interface RowsOpener {
    Rows open(Path file) throws IOException;
  }

  /** A row that cannot be read. */
  static final class BadRow extends IOException {
    private static final long serialVersionUID = 1L;

    final String position;

    /** Whether reading can go on after it (false: the rest of the file is lost). */
    final boolean resumable;

    BadRow(String message, String position, boolean resumable, Throwable cause) {
      super(message, cause);
      this.position = position;
      this.resumable = resumable;
    }
  }

  private final String operator;
  private final Path file;
  private final SourceSplit split;
  private final Schema schema;
  private final ReadContext context;
  private final RowsOpener opener;
  private final long variableBytesPerRow;

  private Rows rows;
  private boolean done;
  private boolean closed;

  TextRowReader(
      String operator,
      SourceSplit split,
      Schema schema,
      ReadContext context,
      RowsOpener opener,
      long variableBytesPerRow)
      throws IOException {
    if (split.paths().size() != 1) {
      throw new IllegalArgumentException(
          operator + " reads one file per split: " + split.describe());
    }
    this.operator = operator;
    this.file = Paths.get(split.paths().get(0));
    if (!Files.isRegularFile(file)) {
      throw new NoSuchFileException(file.toString(), null, "no such file");
    }
    this.split = split;
    this.schema = schema;
    this.context = context;
    this.opener = opener;
    this.variableBytesPerRow = variableBytesPerRow;
  }

  @Override
  public Batch next(BufferAllocator allocator) throws IOException {
    if (closed) {
      throw new IllegalStateException("reader of " + split.describe() + " is closed");
    }
    if (done) {
      return null;
    }
    if (rows == null) {
      rows = opener.open(file);
    }
    int capacity = context.targetRows();
    BatchBuilder builder =
        BatchBuilder.create(
            allocator,
            schema,
            capacity,
            Math.min(variableBytesPerRow * capacity, context.targetBytes()),
            List.of(file.toString()));
    try {
      int row = 0;
      long bytes = 0;
      while (row < capacity && bytes < context.targetBytes()) {
        long taken;
        try {
          taken = rows.next(builder, row);
        } catch (BadRow bad) {
          context.badRecords().report(operator, file.toString(), bad.position, bad);
          if (!bad.resumable) {
            done = true;
            break;
          }
          continue;
        }
        if (taken < 0) {
          done = true;
          break;
        }
        bytes += taken;
        row++;
      }
      if (row == 0) {
        builder.close();
        return null;
      }
      return builder.build(row);
    } catch (IOException | RuntimeException e) {
      builder.close();
      throw e;
    }
  }

  @Override
  public void close() throws IOException {
    if (!closed) {
      closed = true;
      if (rows != null) {
        rows.close();
      }
    }
  }

  @Override
  public String toString() {
    return operator + "[" + split.describe() + "]";
  }
}
