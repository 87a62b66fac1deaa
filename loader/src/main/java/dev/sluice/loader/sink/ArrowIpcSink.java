package dev.sluice.loader.sink;

import dev.sluice.loader.Batch;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.dictionary.DictionaryProvider;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes batches into Arrow IPC files (the random-access format, readable by {@link
 * dev.sluice.loader.source.ArrowIpcSource} and {@code pyarrow.ipc.open_file}) named {@code
 * part-00000.arrow}, {@code part-00001.arrow}, ... in a directory.
 *
 * <p>Each batch is written as one record batch, straight from its buffers (no copy). A new file is
 * started when the current one holds rows and the next batch would take it past {@code
 * maxRowsPerFile}; batches are never split, so a file exceeds the limit only when a single batch
 * does. Empty batches are checked but not written. All batches must share the schema of the first
 * (including field metadata); a batch of another schema is an {@link IllegalArgumentException}
 * naming both. No batch is written at all leaves no file.
 *
 * <p><b>Ownership.</b> {@link #write} neither takes nor keeps the batch: its buffers are referenced
 * only during the call. The sink allocates no Arrow memory. Files are created new (an existing
 * {@code part-*.arrow} is an error) and each is complete, with its footer, once the sink moves to
 * the next file or is {@linkplain #close() closed}. Not thread-safe.
 */
public final class ArrowIpcSink implements BatchSink {
  private final Path directory;
  private final long maxRowsPerFile;
  private final List<Path> files = new ArrayList<>();

  private Schema schema;
  private BufferAllocator schemaAllocator;
  private VectorSchemaRoot schemaRoot;
  private PartWriter writer;
  private long fileRows;
  private long rows;
  private boolean closed;

  /**
   * A sink writing into {@code directory} (created if missing), rolling files after {@code
   * maxRowsPerFile} rows.
   */
  public ArrowIpcSink(Path directory, long maxRowsPerFile) throws IOException {
    if (maxRowsPerFile <= 0) {
      throw new IllegalArgumentException("maxRowsPerFile must be positive: " + maxRowsPerFile);
    }
    this.directory = directory;
    this.maxRowsPerFile = maxRowsPerFile;
    Files.createDirectories(directory);
  }

  /** A sink writing all rows into one file, {@code part-00000.arrow}. */
  public ArrowIpcSink(Path directory) throws IOException {
    this(directory, Long.MAX_VALUE);
  }

  @Override
  public void write(Batch batch) throws IOException {
    if (closed) {
      throw new IllegalStateException("sink of " + directory + " is closed");
    }
    Schema batchSchema = batch.schema();
    if (schema == null) {
      for (Field field : batchSchema.getFields()) {
        if (field.getDictionary() != null) {
          throw new IllegalArgumentException(
              "dictionary-encoded column '" + field.getName() + "' is not supported");
        }
      }
      schema = batchSchema;
    } else if (!schema.equals(batchSchema)) {
      throw new IllegalArgumentException(
          "batch schema "
              + batchSchema
              + " differs from the schema of the batches already written to "
              + directory
              + ": "
              + schema);
    }
    if (batch.rowCount() == 0) {
      return;
    }
    if (writer != null && fileRows > 0 && fileRows + batch.rowCount() > maxRowsPerFile) {
      finishFile();
    }
    if (writer == null) {
      startFile();
    }
    try (ArrowRecordBatch recordBatch = new VectorUnloader(batch.root()).getRecordBatch()) {
      writer.write(recordBatch);
    }
    fileRows += batch.rowCount();
    rows += batch.rowCount();
  }

  /** The files written so far (the last one is complete only once the sink is closed). */
  public List<Path> files() {
    return List.copyOf(files);
  }

  /** Rows written so far. */
  public long rowsWritten() {
    return rows;
  }

  /** Completes the current file and closes the sink. Idempotent. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      finishFile();
    } finally {
      if (schemaRoot != null) {
        schemaRoot.close();
      }
      if (schemaAllocator != null) {
        schemaAllocator.close();
      }
    }
  }

  private void startFile() throws IOException {
    if (schemaRoot == null) {
      // The writer wants a root for the schema; it stays empty, so a zero-limit allocator suffices.
      schemaAllocator = new RootAllocator(0);
      schemaRoot = VectorSchemaRoot.create(schema, schemaAllocator);
    }
    Path file = directory.resolve(String.format("part-%05d.arrow", files.size()));
    FileChannel channel =
        FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    try {
      writer = new PartWriter(schemaRoot, channel);
      writer.start();
    } catch (IOException | RuntimeException e) {
      channel.close();
      throw e;
    }
    files.add(file);
    fileRows = 0;
  }

  private void finishFile() throws IOException {
    if (writer != null) {
      PartWriter w = writer;
      writer = null;
      try {
        w.end();
      } finally {
        w.close();
      }
    }
  }

  /** An {@link ArrowFileWriter} that writes record batches unloaded from any root of the schema. */
  private static final class PartWriter extends ArrowFileWriter {
    PartWriter(VectorSchemaRoot schemaRoot, FileChannel channel) {
      super(schemaRoot, new DictionaryProvider.MapDictionaryProvider(), channel);
    }

    void write(ArrowRecordBatch recordBatch) throws IOException {
      writeRecordBatch(recordBatch);
    }
  }
}
