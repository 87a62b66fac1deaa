package dev.sluice.loader.sink;

import dev.sluice.loader.Batch;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * <p>Each batch is written as one record batch, straight from its buffers (no copy). Files roll
 * after {@link WriteOptions#maxRowsPerFile()} rows, are written atomically and refuse existing
 * output unless overwriting, as every {@link FileSink}. Dictionary-encoded columns are refused
 * ({@link IllegalArgumentException}).
 *
 * <p><b>Ownership.</b> {@link #write} neither takes nor keeps the batch: its buffers are referenced
 * only during the call. The sink allocates no Arrow memory. Not thread-safe.
 */
public final class ArrowIpcSink extends FileSink {
  /** A sink writing into {@code directory} (created if missing) with the given options. */
  public ArrowIpcSink(Path directory, WriteOptions options) throws IOException {
    super(directory, "arrow", options);
  }

  /**
   * A sink writing into {@code directory} (created if missing), rolling files after {@code
   * maxRowsPerFile} rows, refusing existing output.
   */
  public ArrowIpcSink(Path directory, long maxRowsPerFile) throws IOException {
    this(directory, WriteOptions.defaults().withMaxRowsPerFile(maxRowsPerFile));
  }

  /** A sink writing all rows into one file, {@code part-00000.arrow}. */
  public ArrowIpcSink(Path directory) throws IOException {
    this(directory, Long.MAX_VALUE);
  }

  @Override
  void checkSchema(Schema schema) {
    for (Field field : schema.getFields()) {
      if (field.getDictionary() != null) {
        throw new IllegalArgumentException(
            "dictionary-encoded column '" + field.getName() + "' is not supported");
      }
    }
  }

  @Override
  PartWriter openPart(Path temporary, Schema schema) throws IOException {
    return new IpcPart(temporary, schema);
  }

  private static final class IpcPart implements PartWriter {
    private final Path file;
    // The writer wants a root for the schema; it stays empty, so a zero-limit allocator suffices.
    private final BufferAllocator schemaAllocator = new RootAllocator(0);
    private final VectorSchemaRoot schemaRoot;
    private final FileChannel channel;
    private final IpcWriter writer;
    private boolean released;

    IpcPart(Path file, Schema schema) throws IOException {
      this.file = file;
      VectorSchemaRoot root = null;
      FileChannel ch = null;
      try {
        root = VectorSchemaRoot.create(schema, schemaAllocator);
        ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        IpcWriter w = new IpcWriter(root, ch);
        w.start();
        this.schemaRoot = root;
        this.channel = ch;
        this.writer = w;
      } catch (IOException | RuntimeException e) {
        if (ch != null) {
          ch.close();
        }
        if (root != null) {
          root.close();
        }
        schemaAllocator.close();
        FileSink.deleteQuietly(file);
        throw e;
      }
    }

    @Override
    public void write(Batch batch) throws IOException {
      try (ArrowRecordBatch recordBatch = new VectorUnloader(batch.root()).getRecordBatch()) {
        writer.write(recordBatch);
      }
    }

    @Override
    public Path finish() throws IOException {
      writer.end();
      release();
      return file;
    }

    @Override
    public void discard() {
      release();
      FileSink.deleteQuietly(file);
    }

    private void release() {
      if (released) {
        return;
      }
      released = true;
      try {
        writer.close();
      } catch (RuntimeException e) {
        // The channel is closed below either way.
      }
      try {
        channel.close();
      } catch (IOException e) {
        // Discarded or already complete: nothing more to release.
      }
      schemaRoot.close();
      schemaAllocator.close();
    }
  }

  /** An {@link ArrowFileWriter} that writes record batches unloaded from any root of the schema. */
  private static final class IpcWriter extends ArrowFileWriter {
    IpcWriter(VectorSchemaRoot schemaRoot, FileChannel channel) {
      super(schemaRoot, new DictionaryProvider.MapDictionaryProvider(), channel);
    }

    void write(ArrowRecordBatch recordBatch) throws IOException {
      writeRecordBatch(recordBatch);
    }
  }
}
