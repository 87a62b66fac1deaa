package dev.sluice.loader.sink;

import dev.sluice.loader.Batch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A sink writing files {@code part-00000.<ext>}, {@code part-00001.<ext>}, ... into one directory:
 * what every file format of Sluice shares (Arrow IPC, JSON lines, CSV, Parquet).
 *
 * <p><b>Names.</b> Parts are numbered in the order they are started, from 0, so a write of the same
 * batches in the same order (an execution with {@code preserveOrder}) gives the same files. A part
 * holds whole batches: a new one is started when the current one holds rows and the next batch
 * would take it past {@link WriteOptions#maxRowsPerFile()}, or after every batch for formats that
 * write one file per batch. Empty batches are checked but write nothing; a write of no rows leaves
 * no file.
 *
 * <p><b>Atomic files.</b> A part is written to a hidden temporary file in the same directory
 * ({@code .part-00000.<ext>.<random>.tmp}), forced to disk and then renamed to its final name in
 * one atomic step, so a file named {@code part-*} is always complete. {@link #abort()} (what {@link
 * dev.sluice.loader.Dataset#write} calls when the pipeline fails) deletes the temporary file and
 * the parts this sink had already completed: a failed write leaves no output of its own. (A process
 * killed outright can leave a hidden temporary file and the parts completed so far.)
 *
 * <p><b>Existing output.</b> Opening a sink on a directory that already holds parts ({@code
 * part-NNNNN.*}, of any format) is refused with a {@link FileAlreadyExistsException} naming one,
 * unless {@link WriteOptions#overwrite()}: then those parts (and temporary files left by a killed
 * writer) are deleted as the sink opens. Other files in the directory are left alone.
 *
 * <p><b>Schema.</b> All batches must have the schema of the first (field metadata included); a
 * batch of another schema is an {@link IllegalArgumentException} naming both.
 *
 * <p>{@link #write} neither takes nor keeps the batch. Not thread-safe. Extended only in this
 * package.
 */
public abstract class FileSink implements BatchSink {
  private static final Pattern PART = Pattern.compile("part-\\d+\\..+");
  private static final Pattern TEMPORARY = Pattern.compile("\\.part-\\d+\\..+\\.tmp");

  private final Path directory;
  private final String extension;
  private final WriteOptions options;
  private final List<Path> files = new ArrayList<>();

  private Schema schema;
  private PartWriter part;
  private long fileRows;
  private long rows;
  private boolean closed;

  /** Writes one part into a temporary location until it is complete. */
  interface PartWriter {
    /** Writes all rows of a batch (not kept after the call). */
    void write(Batch batch) throws IOException;

    /** Completes the part and returns the complete file, to be renamed to its final name. */
    Path finish() throws IOException;

    /**
     * Releases what the writer holds and deletes whatever it left in the directory; also after
     * {@link #finish} (the renamed file is no longer there) and after a failure. Never throws.
     */
    void discard();
  }

  FileSink(Path directory, String extension, WriteOptions options) throws IOException {
    this.directory = Objects.requireNonNull(directory, "directory");
    this.extension = extension;
    this.options = Objects.requireNonNull(options, "options");
    Files.createDirectories(directory);
    prepareDirectory();
  }

  /** Opens the writer of a new part, writing into a new file or directory at {@code temporary}. */
  abstract PartWriter openPart(Path temporary, Schema schema) throws IOException;

  /** Whether a part takes more than one batch (otherwise every batch is a file of its own). */
  boolean appends() {
    return true;
  }

  /** Checks the schema of the first batch; throws {@link IllegalArgumentException} if refused. */
  void checkSchema(Schema schema) {}

  /** Called with the schema before the first part is started. */
  void beforeFirstPart(Schema schema) throws IOException {}

  @Override
  public final void write(Batch batch) throws IOException {
    if (closed) {
      throw new IllegalStateException("sink of " + directory + " is closed");
    }
    Schema batchSchema = batch.schema();
    if (schema == null) {
      checkSchema(batchSchema);
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
    if (part != null
        && fileRows > 0
        && (!appends() || fileRows + batch.rowCount() > options.maxRowsPerFile())) {
      finishPart();
    }
    if (part == null) {
      startPart();
    }
    part.write(batch);
    fileRows += batch.rowCount();
    rows += batch.rowCount();
  }

  /** The directory written into. */
  public Path directory() {
    return directory;
  }

  /** The options. */
  public WriteOptions options() {
    return options;
  }

  /** The parts completed so far (under their final names). */
  public List<Path> files() {
    return List.copyOf(files);
  }

  /** Rows written so far (including those of a part not yet complete). */
  public long rowsWritten() {
    return rows;
  }

  /** Completes the current part and closes the sink. Idempotent; does nothing after abort. */
  @Override
  public final void close() throws IOException {
    if (!closed) {
      closed = true;
      finishPart();
    }
  }

  /**
   * Discards the part being written and deletes the parts this sink completed; the sink is closed.
   * Idempotent; after {@link #close()} it deletes the parts too.
   */
  @Override
  public final void abort() throws IOException {
    closed = true;
    if (part != null) {
      PartWriter p = part;
      part = null;
      p.discard();
    }
    IOException failure = null;
    for (Path file : files) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    files.clear();
    try {
      afterAbort();
    } catch (IOException e) {
      if (failure == null) {
        failure = e;
      } else {
        failure.addSuppressed(e);
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Deletes what the format wrote beside the parts, once an abort has deleted them. */
  void afterAbort() throws IOException {}

  private String partName(int index) {
    return String.format("part-%05d.%s", index, extension);
  }

  private void startPart() throws IOException {
    if (files.isEmpty()) {
      beforeFirstPart(schema);
    }
    String name = partName(files.size());
    Path target = directory.resolve(name);
    if (Files.exists(target)) {
      throw new FileAlreadyExistsException(
          target.toString(), null, "another writer wrote into " + directory);
    }
    // A name of our own: createTempFile makes it unique; the writer replaces the empty file.
    Path temporary = Files.createTempFile(directory, "." + name + ".", ".tmp");
    Files.delete(temporary);
    part = openPart(temporary, schema);
    fileRows = 0;
  }

  private void finishPart() throws IOException {
    if (part == null) {
      return;
    }
    PartWriter p = part;
    part = null;
    try {
      Path complete = p.finish();
      try (FileChannel channel = FileChannel.open(complete, StandardOpenOption.WRITE)) {
        channel.force(true);
      }
      Path target = directory.resolve(partName(files.size()));
      if (Files.exists(target)) {
        throw new FileAlreadyExistsException(
            target.toString(), null, "another writer wrote into " + directory);
      }
      try {
        Files.move(complete, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException(
            "cannot rename "
                + complete
                + " to "
                + target
                + " atomically (the file system does not support it)",
            e);
      }
      files.add(target);
    } finally {
      p.discard();
    }
  }

  /** Refuses existing parts, or deletes them (and stale temporary files) with overwrite. */
  private void prepareDirectory() throws IOException {
    List<Path> existing = new ArrayList<>();
    List<Path> stale = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
      for (Path entry : entries) {
        String name = entry.getFileName().toString();
        if (PART.matcher(name).matches()) {
          existing.add(entry);
        } else if (TEMPORARY.matcher(name).matches()) {
          stale.add(entry);
        }
      }
    }
    existing.sort(null);
    if (!existing.isEmpty() && !options.overwrite()) {
      throw new FileAlreadyExistsException(
          existing.get(0).toString(),
          null,
          "the output directory "
              + directory
              + " already holds "
              + existing.size()
              + " part file(s); write with overwrite to replace them");
    }
    if (options.overwrite()) {
      existing.addAll(stale);
      for (Path p : existing) {
        deleteRecursively(p);
      }
    }
  }

  static void deleteRecursively(Path path) throws IOException {
    if (Files.isDirectory(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      try (DirectoryStream<Path> entries = Files.newDirectoryStream(path)) {
        for (Path entry : entries) {
          deleteRecursively(entry);
        }
      }
    }
    Files.deleteIfExists(path);
  }

  /** Deletes quietly (for {@link PartWriter#discard}). */
  static void deleteQuietly(Path path) {
    try {
      deleteRecursively(path);
    } catch (IOException | UncheckedIOException e) {
      // Nothing more to do: a hidden temporary file left behind is never taken for a part.
    }
  }
}
