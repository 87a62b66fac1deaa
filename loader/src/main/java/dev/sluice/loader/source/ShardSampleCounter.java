package dev.sluice.loader.source;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarUtils;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * Counts the samples of a WebDataset shard from its tar headers alone: it reads each 512-byte
 * header, and skips every entry's data without reading it (a seek, for a plain {@code .tar}; a gzip
 * stream has to be decompressed, but nothing is decoded or kept). A sample is what {@link
 * WebDatasetSource} reads as one: consecutive regular files with the same key, files without an
 * extension ignored; GNU long names and PAX {@code path}/{@code size} records are honoured as the
 * reader honours them.
 *
 * <p>The count is of the samples in the archive: a sample the reader reports as a bad record (and
 * skips, within the allowance) is counted all the same. A shard that is cut short, or whose header
 * is corrupt, is an {@link IOException} naming the file and the last good entry. Stateless.
 */
final class ShardSampleCounter {
  private static final int RECORD = 512;

  private ShardSampleCounter() {}

  /** The number of samples in {@code shard}. */
  static long count(Path shard) throws IOException {
    try (Blocks blocks =
        WebDatasetWriter.isGzip(shard) ? new GzipBlocks(shard) : new FileBlocks(shard)) {
      return count(shard, blocks);
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().startsWith("cannot count the samples of ")) {
        throw e;
      }
      throw new IOException(
          "cannot count the samples of " + shard + ": corrupt or truncated archive: " + e, e);
    }
  }

  private static long count(Path shard, Blocks blocks) throws IOException {
    byte[] header = new byte[RECORD];
    Map<String, String> globalPax = new HashMap<>();
    Map<String, String> pax = new HashMap<>();
    String longName = null;
    String lastEntry = null;
    String currentKey = null;
    long samples = 0;
    while (true) {
      long at = blocks.position();
      String after =
          lastEntry == null ? "at the start of the archive" : "after entry '" + lastEntry + "'";
      if (!blocks.read(header)) {
        throw broken(
            shard,
            "truncated tar archive: it ends "
                + after
                + " without an end-of-archive marker (tar byte "
                + at
                + ")");
      }
      if (allZero(header)) {
        return samples; // the end-of-archive marker
      }
      TarArchiveEntry entry;
      try {
        if (!TarUtils.verifyCheckSum(header)) {
          throw new IOException("bad header checksum");
        }
        entry = new TarArchiveEntry(header);
      } catch (IOException | RuntimeException e) {
        throw broken(
            shard,
            "corrupt tar archive: cannot read the entry header "
                + after
                + " (tar byte "
                + at
                + "): "
                + e.getMessage());
      }
      long size = entry.getSize();
      if (entry.isGNULongNameEntry()) {
        longName = trimNuls(new String(data(shard, blocks, entry, size), StandardCharsets.UTF_8));
        continue;
      }
      if (entry.isPaxHeader() || entry.isGlobalPaxHeader()) {
        parsePax(
            shard, data(shard, blocks, entry, size), entry.isGlobalPaxHeader() ? globalPax : pax);
        continue;
      }
      if (entry.isGNULongLinkEntry()) {
        skip(shard, blocks, entry.getName(), size);
        continue;
      }
      if (entry.isSparse()) {
        throw broken(
            shard,
            "sparse tar entry '"
                + entry.getName()
                + "': the sample count does not read sparse entries");
      }
      Map<String, String> headers = new HashMap<>(globalPax);
      headers.putAll(pax);
      pax.clear();
      String name = headers.getOrDefault("path", longName != null ? longName : entry.getName());
      longName = null;
      if (headers.containsKey("size")) {
        try {
          size = Long.parseLong(headers.get("size"));
        } catch (NumberFormatException e) {
          throw broken(
              shard, "corrupt PAX header before '" + name + "': size " + headers.get("size"));
        }
      }
      entry.setName(name);
      lastEntry = entry.getName();
      skip(shard, blocks, lastEntry, size);
      if (!entry.isFile()) {
        continue;
      }
      name = entry.getName();
      int dot = WebDatasetSource.keyEnd(name);
      if (dot < 0) {
        continue;
      }
      String key = name.substring(0, dot);
      if (!key.equals(currentKey)) {
        samples++;
        currentKey = key;
      }
    }
  }

  /** The data of a small entry (a long name, PAX records), with its padding skipped. */
  private static byte[] data(Path shard, Blocks blocks, TarArchiveEntry entry, long size)
      throws IOException {
    if (size < 0 || size > (1 << 20)) {
      throw broken(
          shard, "corrupt tar archive: a " + entry.getName() + " header of " + size + " bytes");
    }
    byte[] data = new byte[(int) size];
    int read = blocks.readFully(data);
    if (read < data.length) {
      throw broken(
          shard,
          "truncated tar archive: header entry '"
              + entry.getName()
              + "' holds "
              + read
              + " of its "
              + size
              + " bytes");
    }
    long pad = roundUp(size) - size;
    if (blocks.skip(pad) < pad) {
      throw broken(
          shard, "truncated tar archive: it ends inside the padding of '" + entry.getName() + "'");
    }
    return data;
  }

  private static void skip(Path shard, Blocks blocks, String name, long size) throws IOException {
    long want = roundUp(size);
    long skipped = blocks.skip(want);
    if (skipped < want && skipped < size) {
      throw broken(
          shard,
          "truncated tar archive: entry '"
              + name
              + "' holds "
              + skipped
              + " of its "
              + size
              + " bytes");
    }
    if (skipped < want) {
      throw broken(
          shard, "truncated tar archive: it ends inside the padding of entry '" + name + "'");
    }
  }

  /**
   * PAX extended header records: {@code "<length> <key>=<value>\n"}, the length counting the whole
   * record.
   */
  private static void parsePax(Path shard, byte[] data, Map<String, String> into)
      throws IOException {
    int i = 0;
    while (i < data.length && data[i] != 0) {
      int space = i;
      while (space < data.length && data[space] != ' ') {
        space++;
      }
      int length;
      try {
        length = Integer.parseInt(new String(data, i, space - i, StandardCharsets.US_ASCII));
      } catch (NumberFormatException e) {
        throw broken(shard, "corrupt PAX header: bad record length at byte " + i);
      }
      if (length <= space - i || i + length > data.length) {
        throw broken(shard, "corrupt PAX header: record length " + length + " at byte " + i);
      }
      String record = new String(data, space + 1, i + length - space - 2, StandardCharsets.UTF_8);
      int eq = record.indexOf('=');
      if (eq > 0) {
        String key = record.substring(0, eq);
        String value = record.substring(eq + 1);
        if (value.isEmpty()) {
          into.remove(key);
        } else {
          into.put(key, value);
        }
      }
      i += length;
    }
  }

  private static IOException broken(Path shard, String message) {
    return new IOException("cannot count the samples of " + shard + ": " + message);
  }

  private static boolean allZero(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }

  private static String trimNuls(String s) {
    int end = s.length();
    while (end > 0 && s.charAt(end - 1) == 0) {
      end--;
    }
    return s.substring(0, end);
  }

  private static long roundUp(long size) {
    return (size + RECORD - 1) / RECORD * RECORD;
  }

  /** The tar stream as blocks and skips. */
  private interface Blocks extends AutoCloseable {
    /**
     * Reads one whole record; false at the end of the stream before any byte; throws on a partial
     * one.
     */
    default boolean read(byte[] record) throws IOException {
      int n = readFully(record);
      if (n == 0) {
        return false;
      }
      if (n < record.length) {
        throw new IOException(
            String.format(
                Locale.ROOT,
                "cannot count the samples of %s: truncated tar archive: it ends inside a header (tar byte %d)",
                path(),
                position() - n));
      }
      return true;
    }

    /** The shard, for messages. */
    Path path();

    /** Reads up to {@code buf.length} bytes, fewer only at the end of the stream. */
    int readFully(byte[] buf) throws IOException;

    /** Skips {@code n} bytes; fewer only at the end of the stream. */
    long skip(long n) throws IOException;

    /** Bytes of the tar stream consumed so far. */
    long position();

    @Override
    void close() throws IOException;
  }

  /** A plain tar file: positional reads of the headers, data skipped by moving the position. */
  private static final class FileBlocks implements Blocks {
    private final Path path;
    private final FileChannel channel;
    private final long size;
    private long position;

    FileBlocks(Path path) throws IOException {
      this.path = path;
      this.channel = FileChannel.open(path, StandardOpenOption.READ);
      this.size = channel.size();
    }

    @Override
    public Path path() {
      return path;
    }

    @Override
    public int readFully(byte[] buf) throws IOException {
      ByteBuffer bb = ByteBuffer.wrap(buf);
      while (bb.hasRemaining()) {
        int n = channel.read(bb, position + bb.position());
        if (n < 0) {
          break;
        }
      }
      position += bb.position();
      return bb.position();
    }

    @Override
    public long skip(long n) {
      long skipped = Math.min(n, Math.max(0, size - position));
      position += skipped;
      return skipped;
    }

    @Override
    public long position() {
      return position;
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }

  /** A gzipped tar: decompressed as a stream, data skipped (decompressed, never kept). */
  private static final class GzipBlocks implements Blocks {
    private final Path path;
    private final InputStream file;
    private final InputStream in;
    private long position;

    GzipBlocks(Path path) throws IOException {
      this.path = path;
      this.file = Files.newInputStream(path);
      try {
        this.in =
            GzipCompressorInputStream.builder()
                .setInputStream(new BufferedInputStream(file, 1 << 16))
                .setDecompressConcatenated(true)
                .get();
      } catch (IOException | RuntimeException e) {
        file.close();
        throw new IOException(
            "cannot count the samples of " + path + ": not a gzip stream: " + e.getMessage(), e);
      }
    }

    @Override
    public Path path() {
      return path;
    }

    @Override
    public int readFully(byte[] buf) throws IOException {
      int n = in.readNBytes(buf, 0, buf.length);
      position += n;
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long done = 0;
      while (done < n) {
        long s = in.skip(n - done);
        if (s <= 0) {
          if (in.read() < 0) {
            break;
          }
          s = 1;
        }
        done += s;
      }
      position += done;
      return done;
    }

    @Override
    public long position() {
      return position;
    }

    @Override
    public void close() throws IOException {
      try {
        in.close();
      } finally {
        file.close();
      }
    }
  }
}
