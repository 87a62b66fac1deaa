package dev.sluice.loader.sink;

import dev.sluice.loader.Batch;
import dev.sluice.loader.TensorSpec;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.arrow.dataset.file.DatasetFileWriter;
import org.apache.arrow.dataset.file.FileFormat;
import org.apache.arrow.memory.AllocationListener;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Writes batches into Parquet files {@code part-00000.parquet}, {@code part-00001.parquet}, ... in
 * a directory, with Arrow's own Parquet writer (C++, through {@code arrow-dataset}'s JNI {@link
 * DatasetFileWriter}).
 *
 * <p><b>One file per batch.</b> Each non-empty batch becomes one file holding one row group.
 * Arrow's JNI writer pulls all of a file's batches from an {@link ArrowReader} in one call, so a
 * file of several batches would have to hold them all until the file is complete (memory outside
 * the execution's budget) or feed the writer from another thread; one file per batch needs neither.
 * {@link WriteOptions#maxRowsPerFile()} is ignored. Files are written atomically and existing
 * output is refused unless overwriting, as every {@link FileSink}: the JNI writer writes into a
 * hidden temporary directory, and its one file is renamed into place.
 *
 * <p><b>Tensor columns.</b> The JNI writer keeps neither field nor schema metadata in the file, so
 * the Arrow schema of the batches (with the tensor columns' shape and element type, {@link
 * TensorSpec}) is written beside the parts as {@value #SCHEMA_FILE} (Arrow's JSON form of the
 * schema), before the first part (and deleted again when the write is aborted). {@link
 * dev.sluice.loader.source.ParquetSource} puts the metadata back on the columns of the files in
 * that directory. In the Parquet file a tensor column is a {@code FIXED_LEN_BYTE_ARRAY} of the
 * tensor's bytes (little-endian), readable by any Parquet reader.
 *
 * <p><b>Ownership and memory.</b> {@link #write} neither takes nor keeps the batch. Arrow's JNI
 * writer releases what it imported on its own threads some time after it returns, so it is given a
 * copy of the batch, in a child allocator of the batch's (accounted where the batch is), and {@code
 * write} returns once the native writer has released every byte of that copy (an {@link
 * IOException} if it still holds some 30 s later). Not thread-safe.
 */
public final class ParquetSink extends FileSink {
  /**
   * The file beside the parts holding the Arrow schema with its field metadata; names starting with
   * an underscore are skipped by Parquet readers that list directories (Arrow, Spark).
   */
  public static final String SCHEMA_FILE = "_sluice_schema.json";

  private boolean schemaWritten;

  /** A sink writing into {@code directory} (created if missing) with the given options. */
  public ParquetSink(Path directory, WriteOptions options) throws IOException {
    super(directory, "parquet", options);
  }

  /** A sink writing into {@code directory} (created if missing), refusing existing output. */
  public ParquetSink(Path directory) throws IOException {
    this(directory, WriteOptions.defaults());
  }

  @Override
  boolean appends() {
    return false;
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
  void beforeFirstPart(Schema schema) throws IOException {
    Path target = directory().resolve(SCHEMA_FILE);
    Path temporary = Files.createTempFile(directory(), "." + SCHEMA_FILE + ".", ".tmp");
    try {
      Files.writeString(temporary, schema.toJson(), StandardCharsets.UTF_8);
      Files.move(
          temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      schemaWritten = true;
    } finally {
      Files.deleteIfExists(temporary);
    }
  }

  @Override
  void afterAbort() throws IOException {
    if (schemaWritten) {
      Files.deleteIfExists(directory().resolve(SCHEMA_FILE));
    }
  }

  @Override
  PartWriter openPart(Path temporary, Schema schema) throws IOException {
    Files.createDirectory(temporary);
    return new ParquetPart(temporary, schema);
  }

  /** Writes one batch with the JNI writer into a temporary directory of its own. */
  private static final class ParquetPart implements PartWriter {
    private final Path temporaryDirectory;
    private final Schema schema;
    private Path written;

    ParquetPart(Path temporaryDirectory, Schema schema) {
      this.temporaryDirectory = temporaryDirectory;
      this.schema = schema;
    }

    @Override
    public void write(Batch batch) throws IOException {
      if (written != null) {
        throw new IllegalStateException("a Parquet part holds one batch");
      }
      // Arrow's JNI writer releases the batches it imported on its own threads, after write()
      // has returned. So it gets a copy in an allocator of its own (a child of the batch's, so the
      // copy is accounted where the batch is), and the part waits until the writer has released
      // every byte of it before going on: no buffer of the caller's is referenced past this call.
      var vectors = batch.root().getFieldVectors();
      ReleaseWatch watch = new ReleaseWatch();
      BufferAllocator parent = vectors.isEmpty() ? null : vectors.get(0).getAllocator();
      try (BufferAllocator allocator =
          parent == null
              ? new RootAllocator(watch, Long.MAX_VALUE)
              : parent.newChildAllocator(
                  "ParquetSink " + temporaryDirectory, watch, 0, Long.MAX_VALUE)) {
        watch.allocator = allocator;
        try {
          Batch copy = batch.slice(allocator, 0, batch.rowCount());
          try (OneBatchReader reader = new OneBatchReader(allocator, schema, copy)) {
            DatasetFileWriter.write(
                allocator,
                reader,
                FileFormat.PARQUET,
                temporaryDirectory.toUri().toString(),
                new String[0],
                1,
                "data-{i}.parquet");
          } finally {
            copy.close();
          }
        } catch (RuntimeException e) {
          throw new IOException(
              "Arrow's Parquet writer failed writing into " + temporaryDirectory + ": " + e, e);
        } finally {
          watch.awaitReleased(temporaryDirectory);
        }
      }
      List<Path> files = new ArrayList<>();
      try (DirectoryStream<Path> entries = Files.newDirectoryStream(temporaryDirectory)) {
        entries.forEach(files::add);
      }
      if (files.size() != 1) {
        throw new IOException(
            "Arrow's Parquet writer left "
                + files
                + " in "
                + temporaryDirectory
                + ", not one file");
      }
      written = files.get(0);
    }

    @Override
    public Path finish() {
      if (written == null) {
        throw new IllegalStateException("no batch written");
      }
      return written;
    }

    @Override
    public void discard() {
      FileSink.deleteQuietly(temporaryDirectory);
    }
  }

  /** Completes when the watched allocator holds no byte any more, once armed. */
  private static final class ReleaseWatch implements AllocationListener {
    /** How long the native writer may take to release what it imported once it has written. */
    private static final long RELEASE_TIMEOUT_SECONDS = 30;

    private final CompletableFuture<Void> released = new CompletableFuture<>();
    private volatile boolean armed;
    volatile BufferAllocator allocator;

    @Override
    public void onRelease(long size) {
      check();
    }

    private void check() {
      BufferAllocator a = allocator;
      if (armed && a != null && a.getAllocatedMemory() == 0) {
        released.complete(null);
      }
    }

    /** Waits until the writer's native threads have released the copy (bounded). */
    void awaitReleased(Path part) throws IOException {
      armed = true;
      check();
      try {
        released.get(RELEASE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        throw new IOException(
            "Arrow's Parquet writer still holds "
                + allocator.getAllocatedMemory()
                + " bytes of the batch it wrote into "
                + part
                + ", "
                + RELEASE_TIMEOUT_SECONDS
                + " s after writing",
            e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted waiting for Arrow's Parquet writer");
      } catch (ExecutionException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /** Hands one batch to the writer: its buffers are loaded into the reader's root, not copied. */
  private static final class OneBatchReader extends ArrowReader {
    private final Schema schema;
    private final Batch batch;
    private boolean loaded;

    OneBatchReader(BufferAllocator allocator, Schema schema, Batch batch) {
      super(allocator);
      this.schema = schema;
      this.batch = batch;
    }

    @Override
    public boolean loadNextBatch() throws IOException {
      if (loaded) {
        return false;
      }
      loaded = true;
      try (ArrowRecordBatch recordBatch = new VectorUnloader(batch.root()).getRecordBatch()) {
        new VectorLoader(getVectorSchemaRoot()).load(recordBatch);
      }
      return true;
    }

    @Override
    public long bytesRead() {
      return 0;
    }

    @Override
    protected void closeReadSource() {}

    @Override
    protected Schema readSchema() {
      return schema;
    }
  }
}
