package dev.sluice.loader.source;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Locale;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;

/**
 * Writes samples into one tar shard in WebDataset layout: a sample with key {@code dir/000123} and
 * fields {@code jpg}, {@code cls} becomes the consecutive entries {@code dir/000123.jpg} and {@code
 * dir/000123.cls}. A file name ending in {@code .tar.gz} or {@code .tgz} is gzip-compressed. Used
 * to generate shards for tests, benchmarks and demos; {@link WebDatasetSource} reads them back.
 *
 * <p>Entries are written in the map's iteration order with a fixed modification time and mode
 * {@code 0444}, so the same samples always give the same bytes. Long names use POSIX (PAX) headers.
 * The file is created (an existing file is an error) by {@link #create} and completed by {@link
 * #close()}; a writer that is not closed leaves a truncated archive. Not thread-safe.
 */
public final class WebDatasetWriter implements AutoCloseable {
  private static final FileTime MODIFIED = FileTime.fromMillis(1_700_000_000_000L);

  private final Path file;
  private final TarArchiveOutputStream tar;
  private String lastKey;
  private long samples;
  private boolean closed;

  private WebDatasetWriter(Path file, TarArchiveOutputStream tar) {
    this.file = file;
    this.tar = tar;
  }

  /**
   * Creates a new shard file (gzip-compressed when its name ends in {@code .tar.gz} or {@code
   * .tgz}).
   *
   * @throws java.nio.file.FileAlreadyExistsException when the file exists
   */
  public static WebDatasetWriter create(Path file) throws IOException {
    OutputStream out =
        new BufferedOutputStream(
            Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
            1 << 16);
    try {
      if (isGzip(file)) {
        out = new GzipCompressorOutputStream(out);
      }
      TarArchiveOutputStream tar = new TarArchiveOutputStream(out);
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      tar.setAddPaxHeadersForNonAsciiNames(true);
      return new WebDatasetWriter(file, tar);
    } catch (IOException | RuntimeException e) {
      out.close();
      throw e;
    }
  }

  /**
   * Appends one sample.
   *
   * @param key the sample's key: a path without a dot in its last component (the reader cuts the
   *     entry name at the first dot of its base name), not ending in '/'
   * @param fields extension (such as {@code jpg} or {@code seg.png}, without the leading dot) to
   *     content; at least one
   * @throws IllegalArgumentException when the key or an extension would not read back as given, or
   *     the key equals the previous sample's (the two would merge into one sample)
   */
  public void write(String key, Map<String, byte[]> fields) throws IOException {
    if (closed) {
      throw new IllegalStateException("writer of " + file + " is closed");
    }
    checkKey(key);
    if (fields.isEmpty()) {
      throw new IllegalArgumentException("sample '" + key + "' has no fields");
    }
    if (key.equals(lastKey)) {
      throw new IllegalArgumentException(
          "sample '"
              + key
              + "' follows a sample with the same key; they would read back as one sample");
    }
    for (Map.Entry<String, byte[]> field : fields.entrySet()) {
      String ext = field.getKey();
      if (ext == null
          || ext.isEmpty()
          || ext.startsWith(".")
          || ext.endsWith(".")
          || ext.contains("/")
          || !ext.equals(ext.toLowerCase(Locale.ROOT))) {
        throw new IllegalArgumentException(
            "bad extension '"
                + ext
                + "' for sample '"
                + key
                + "': it must be non-empty, lower-case, without '/' or a leading or trailing dot");
      }
      byte[] data = field.getValue();
      TarArchiveEntry entry = new TarArchiveEntry(key + "." + ext);
      entry.setSize(data.length);
      entry.setMode(0100444);
      entry.setLastModifiedTime(MODIFIED);
      tar.putArchiveEntry(entry);
      tar.write(data);
      tar.closeArchiveEntry();
    }
    lastKey = key;
    samples++;
  }

  /** Samples written so far. */
  public long samplesWritten() {
    return samples;
  }

  /** The shard file. */
  public Path file() {
    return file;
  }

  /** Writes the end-of-archive marker (and the gzip trailer) and closes the file. Idempotent. */
  @Override
  public void close() throws IOException {
    if (!closed) {
      closed = true;
      tar.close();
    }
  }

  static boolean isGzip(Path file) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    return name.endsWith(".tar.gz") || name.endsWith(".tgz");
  }

  private static void checkKey(String key) {
    if (key == null || key.isEmpty() || key.endsWith("/") || key.startsWith("/")) {
      throw new IllegalArgumentException(
          "bad sample key '" + key + "': it must be a non-empty relative path");
    }
    String base = key.substring(key.lastIndexOf('/') + 1);
    if (base.contains(".")) {
      throw new IllegalArgumentException(
          "bad sample key '"
              + key
              + "': its last component must not contain a dot (the reader cuts names at the first dot)");
    }
  }
}
