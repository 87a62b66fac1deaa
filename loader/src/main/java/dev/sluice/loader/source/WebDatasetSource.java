package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import dev.sluice.loader.Columns;
import dev.sluice.sharding.SourceSplit;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/**
 * Tar shards in WebDataset layout ({@code .tar}, {@code .tar.gz}, {@code .tgz}), streamed entry by
 * entry with Apache Commons Compress: a reader holds at most one batch of samples in memory, never
 * a whole shard.
 *
 * <p><b>Samples.</b> An entry {@code dir/000123.seg.jpg} has the key {@code dir/000123} (its path
 * up to the first dot of the base name) and the extension {@code seg.jpg} (lower-cased);
 * consecutive entries with the same key form one sample. Entries that are not regular files, and
 * files whose base name has no extension (or starts with a dot), belong to no sample and are
 * ignored.
 *
 * <p><b>Columns.</b> {@link Batch#KEY_COLUMN} (utf8), {@link Batch#URL_COLUMN} (utf8, the shard's
 * path), then one binary column per extension, named by the extension:
 *
 * <ul>
 *   <li>when {@linkplain Builder#extensions extensions} are given, exactly those, in that order
 *       (entries with other extensions are skipped without being read), and {@link #schema()} is
 *       known up front;
 *   <li>otherwise the extensions of the first sample of each shard, sorted; a later sample with an
 *       extension outside that set is a bad record. Shards whose first samples differ then yield
 *       batches of different schemas, so give the extensions when the data is not uniform.
 * </ul>
 *
 * A sample lacking one of the columns' extensions has null there.
 *
 * <p><b>Splits.</b> One split per shard file, {@code index} its position in the sorted expansion of
 * the patterns ({@link PathPatterns}; a literal directory stands for the shards directly in it),
 * {@code estimatedBytes} the file size, {@code estimatedRows} unknown (-1) unless the source
 * {@linkplain Builder#countSamples counts samples}: then the exact number of samples of the shard,
 * found by a scan of its tar headers that skips the entries' data ({@link #countSamples(Path)}),
 * made when splits are planned and kept per shard (by path, size and modification time) for the
 * life of the source. Exact counts are what equal shares and resumable positions need.
 *
 * <p><b>Batches.</b> A batch is closed once it holds {@link ReadContext#targetRows()} samples or
 * its payload reaches {@link ReadContext#targetBytes()}. Its samples are collected on the heap
 * first and then copied into Arrow vectors sized exactly.
 *
 * <p><b>Bad input.</b> A sample that cannot be taken as it is (a duplicate extension, an extension
 * outside the first sample's, an entry too large for one cell) is reported to {@link
 * ReadContext#badRecords()}, which skips it or fails naming the shard and the entry. A tar stream
 * that breaks (a corrupt header, a truncated archive, a bad gzip stream, a missing end-of-archive
 * marker, non-zero data after it) cannot be continued: everything from the sample being assembled
 * on counts as one bad record, named by the shard and the failed (or last good) entry; within the
 * allowance the split ends there, keeping the samples read before, otherwise the reader throws a
 * {@link dev.sluice.loader.SluiceException}. A shard that cannot be opened is an {@link
 * IOException} naming it.
 *
 * <p>Immutable and thread-safe; each reader is used by one thread at a time.
 */
public final class WebDatasetSource implements Source {
  /** The operator name readers report bad records under. */
  public static final String NAME = "ReadWebDataset";

  private static final int MAX_CELL_BYTES = Integer.MAX_VALUE - 16;
  private static final int RECORD = 512;

  private final List<String> patterns;
  private final List<String> extensions;
  private final String sourceId;
  private final boolean countSamples;

  /** Sample counts by shard, with the size and modification time they were counted at. */
  private final Map<Path, CountedShard> counts = new java.util.concurrent.ConcurrentHashMap<>();

  /** A shard's sample count and the file state it was counted at. */
  private record CountedShard(long size, java.nio.file.attribute.FileTime modified, long samples) {}

  private WebDatasetSource(Builder b) {
    this.patterns = List.copyOf(b.patterns);
    this.extensions = List.copyOf(b.extensions);
    this.countSamples = b.countSamples;
    this.sourceId = b.sourceId != null ? b.sourceId : "webdataset:" + String.join(",", patterns);
  }

  /** Shards named by the given patterns, with extensions taken from each shard's first sample. */
  public static WebDatasetSource of(String... patterns) {
    return builder(patterns).build();
  }

  /** A builder over the given path patterns (see {@link PathPatterns}). */
  public static Builder builder(String... patterns) {
    return new Builder(List.of(patterns));
  }

  /** A builder over the given path patterns (see {@link PathPatterns}). */
  public static Builder builder(List<String> patterns) {
    return new Builder(patterns);
  }

  /** Configures a {@link WebDatasetSource}. Not thread-safe. */
  public static final class Builder {
    private final List<String> patterns;
    private final LinkedHashSet<String> extensions = new LinkedHashSet<>();
    private String sourceId;
    private boolean countSamples;

    private Builder(List<String> patterns) {
      if (patterns.isEmpty()) {
        throw new IllegalArgumentException("no shard patterns given");
      }
      this.patterns = List.copyOf(patterns);
    }

    /**
     * Reads exactly these extensions (compared with an entry's whole lower-cased extension, so
     * {@code jpg} does not match {@code seg.jpg}), one column each, in this order. A leading dot is
     * ignored.
     */
    public Builder extensions(String... extensions) {
      return extensions(List.of(extensions));
    }

    /** As {@link #extensions(String...)}. */
    public Builder extensions(List<String> extensions) {
      for (String e : extensions) {
        String ext = (e.startsWith(".") ? e.substring(1) : e).toLowerCase(Locale.ROOT);
        if (ext.isEmpty() || ext.contains("/")) {
          throw new IllegalArgumentException("bad extension '" + e + "'");
        }
        if (ext.equals(Batch.KEY_COLUMN) || ext.equals(Batch.URL_COLUMN)) {
          throw new IllegalArgumentException(
              "extension '" + e + "' collides with a reserved column");
        }
        if (!this.extensions.add(ext)) {
          throw new IllegalArgumentException("extension '" + e + "' given twice");
        }
      }
      return this;
    }

    /** The identifier of the source in splits (default: derived from the patterns). */
    public Builder sourceId(String sourceId) {
      this.sourceId = Objects.requireNonNull(sourceId, "sourceId");
      return this;
    }

    /**
     * Whether planning fills each split's {@code estimatedRows} with the shard's exact sample count
     * (default false: unknown, -1), from a scan of its tar headers that skips the data ({@link
     * WebDatasetSource#countSamples(Path)}); counts are kept per shard for the life of the source,
     * so planning again (each epoch) only checks the files' size and modification time. Needed for
     * equal shares and resumable positions.
     */
    public Builder countSamples(boolean count) {
      this.countSamples = count;
      return this;
    }

    /** The source. Touches no storage. */
    public WebDatasetSource build() {
      return new WebDatasetSource(this);
    }
  }

  /** The schema of batches with the given extension columns. */
  public static Schema schemaFor(List<String> extensions) {
    List<Field> fields = new ArrayList<>();
    fields.add(Columns.utf8(Batch.KEY_COLUMN));
    fields.add(Columns.utf8(Batch.URL_COLUMN));
    for (String ext : extensions) {
      fields.add(Columns.binary(ext));
    }
    return new Schema(fields);
  }

  /** The path patterns. */
  public List<String> patterns() {
    return patterns;
  }

  /** The extensions read, or an empty list when they are taken from each shard's first sample. */
  public List<String> extensions() {
    return extensions;
  }

  /** The identifier of the source in its splits. */
  public String sourceId() {
    return sourceId;
  }

  @Override
  public String name() {
    return NAME;
  }

  /** Known when extensions were given; null otherwise. */
  @Override
  public Schema schema() {
    return extensions.isEmpty() ? null : schemaFor(extensions);
  }

  @Override
  public List<SourceSplit> planSplits() throws IOException {
    List<Path> files =
        PathPatterns.expand(patterns, PathPatterns.Directories.list(WebDatasetSource::isShard));
    List<SourceSplit> splits = new ArrayList<>(files.size());
    for (Path file : files) {
      long rows = countSamples ? cachedCount(file) : -1;
      splits.add(
          SourceSplit.wholeFile(sourceId, splits.size(), file.toString(), rows, Files.size(file)));
    }
    return splits;
  }

  /** Whether planning counts each shard's samples. */
  public boolean countsSamples() {
    return countSamples;
  }

  private long cachedCount(Path file) throws IOException {
    var attributes = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
    CountedShard known = counts.get(file);
    if (known != null
        && known.size() == attributes.size()
        && known.modified().equals(attributes.lastModifiedTime())) {
      return known.samples();
    }
    long samples = countSamples(file);
    counts.put(file, new CountedShard(attributes.size(), attributes.lastModifiedTime(), samples));
    return samples;
  }

  /**
   * The number of samples in one shard ({@code .tar}, {@code .tar.gz} or {@code .tgz}), as this
   * source would read them (consecutive regular files with one key; files without an extension
   * ignored), from the tar headers alone: every entry's data is skipped without being read (a gzip
   * stream is decompressed, nothing is decoded). Samples the reader would report as bad records are
   * counted too.
   *
   * @throws IOException naming the shard if it cannot be read, is cut short (no end-of-archive
   *     marker, an entry's data or a header cut off) or has a corrupt header
   */
  public static long countSamples(Path shard) throws IOException {
    return ShardSampleCounter.count(shard);
  }

  /**
   * Where a tar entry's name splits into the sample key and the extension: the index of the first
   * dot of its last path part, or -1 when the name has no key or no extension (such files belong to
   * no sample). The key is the name before that dot, directories included.
   */
  static int keyEnd(String name) {
    int slash = name.lastIndexOf('/');
    int dot = name.indexOf('.', slash + 1);
    return dot <= slash + 1 || dot == name.length() - 1 ? -1 : dot;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) throws IOException {
    if (split.paths().size() != 1) {
      throw new IllegalArgumentException("a WebDataset split reads one shard: " + split.describe());
    }
    return new ShardReader(split.paths().get(0), extensions, context);
  }

  /** Whether a file name looks like a shard this source reads. */
  public static boolean isShard(Path file) {
    String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
    return name.endsWith(".tar") || name.endsWith(".tar.gz") || name.endsWith(".tgz");
  }

  @Override
  public String toString() {
    return NAME
        + patterns
        + (extensions.isEmpty() ? "" : " extensions " + extensions)
        + (countSamples ? " counting samples" : "");
  }

  /** One tar entry that belongs to a sample; {@code data} is null when the entry is skipped. */
  private record Entry(String name, String key, String ext, byte[] data, String problem) {}

  /** The entries of one key, and what is wrong with them if anything. */
  private static final class Sample {
    final String key;
    final Map<String, byte[]> fields = new LinkedHashMap<>();
    String problem;
    String problemEntry;

    Sample(String key) {
      this.key = key;
    }

    void add(Entry e) {
      if (problem != null) {
        return;
      }
      if (e.problem() != null) {
        problem = e.problem();
        problemEntry = e.name();
      } else if (e.data() != null && fields.putIfAbsent(e.ext(), e.data()) != null) {
        problem = "duplicate extension '" + e.ext() + "' in sample '" + key + "'";
        problemEntry = e.name();
      }
    }
  }

  /** The tar stream broke; the archive cannot be read further. */
  private static final class BrokenArchive extends IOException {
    private static final long serialVersionUID = 1L;
    final String entry;

    BrokenArchive(String message, String entry, Throwable cause) {
      super(message, cause);
      this.entry = entry;
    }
  }

  /**
   * Counts the bytes of the (decompressed) tar stream, to tell a complete archive from a cut one.
   */
  private static final class CountingStream extends FilterInputStream {
    long count;

    CountingStream(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        count++;
      }
      return b;
    }

    @Override
    public int read(byte[] buf, int off, int len) throws IOException {
      int n = super.read(buf, off, len);
      if (n > 0) {
        count += n;
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = super.skip(n);
      count += skipped;
      return skipped;
    }

    @Override
    public boolean markSupported() {
      return false;
    }
  }

  private static final class ShardReader implements SplitReader {
    private final String url;
    private final List<String> requested;
    private final ReadContext context;
    private final InputStream file;
    private final CountingStream counter;
    private final TarArchiveInputStream tar;

    private List<String> columns;
    private HeapBatch rows;
    private Entry pending;
    private String lastEntry;

    /** Where the next header must start in the tar stream; -1 when unknown (sparse entries). */
    private long nextHeaderAt;

    private boolean done;
    private boolean closed;

    ShardReader(String url, List<String> extensions, ReadContext context) throws IOException {
      this.url = url;
      this.requested = extensions;
      this.context = context;
      Path path = Paths.get(url);
      this.file = Files.newInputStream(path);
      try {
        InputStream in = new BufferedInputStream(file, 1 << 16);
        if (WebDatasetWriter.isGzip(path)) {
          try {
            in =
                GzipCompressorInputStream.builder()
                    .setInputStream(in)
                    .setDecompressConcatenated(true)
                    .get();
          } catch (IOException e) {
            throw new IOException("cannot read " + url + " as gzip: " + e.getMessage(), e);
          }
        }
        this.counter = new CountingStream(in);
        this.tar = new TarArchiveInputStream(counter);
      } catch (IOException | RuntimeException e) {
        file.close();
        throw e;
      }
      if (!extensions.isEmpty()) {
        this.columns = extensions;
        this.rows = new HeapBatch(schemaFor(columns));
      }
    }

    @Override
    public Batch next(BufferAllocator allocator) throws IOException {
      if (closed) {
        throw new IllegalStateException("reader of " + url + " is closed");
      }
      while (!done
          && (rows == null
              || (rows.rows() < context.targetRows() && rows.bytes() < context.targetBytes()))) {
        Sample sample;
        try {
          sample = readSample();
        } catch (BrokenArchive e) {
          done = true;
          // Within the allowance the split ends here; the samples collected so far are kept.
          context.badRecords().report(NAME, url, e.entry, e);
          break;
        }
        if (sample == null) {
          done = true;
        } else {
          add(sample);
        }
      }
      if (rows == null || rows.rows() == 0) {
        return null;
      }
      return rows.build(allocator);
    }

    private void add(Sample sample) {
      if (sample.problem != null) {
        context
            .badRecords()
            .report(NAME, url, sample.problemEntry, new IOException(sample.problem));
        return;
      }
      if (columns == null) {
        for (String ext : sample.fields.keySet()) {
          if (ext.equals(Batch.KEY_COLUMN) || ext.equals(Batch.URL_COLUMN)) {
            context
                .badRecords()
                .report(
                    NAME,
                    url,
                    sample.key + "." + ext,
                    new IOException("extension '" + ext + "' collides with a reserved column"));
            return;
          }
        }
        columns = List.copyOf(new TreeSet<>(sample.fields.keySet()));
        rows = new HeapBatch(schemaFor(columns));
      } else if (requested.isEmpty()) {
        for (String ext : sample.fields.keySet()) {
          if (!columns.contains(ext)) {
            context
                .badRecords()
                .report(
                    NAME,
                    url,
                    sample.key + "." + ext,
                    new IOException(
                        "sample '"
                            + sample.key
                            + "' has extension '"
                            + ext
                            + "' that the shard's first sample lacks "
                            + columns
                            + "; give the extensions to read explicitly"));
            return;
          }
        }
      }
      Object[] cells = new Object[2 + columns.size()];
      cells[0] = sample.key;
      cells[1] = url;
      for (int i = 0; i < columns.size(); i++) {
        cells[2 + i] = sample.fields.get(columns.get(i));
      }
      rows.add(url, cells);
    }

    /** The next sample, or null at the end of the archive. */
    private Sample readSample() throws IOException {
      Entry first = pending != null ? pending : nextEntry();
      pending = null;
      if (first == null) {
        return null;
      }
      Sample sample = new Sample(first.key());
      sample.add(first);
      for (Entry e = nextEntry(); e != null; e = nextEntry()) {
        if (!e.key().equals(sample.key)) {
          pending = e;
          break;
        }
        sample.add(e);
      }
      return sample;
    }

    /** The next entry that belongs to a sample, or null at a verified end of the archive. */
    private Entry nextEntry() throws IOException {
      while (true) {
        TarArchiveEntry entry;
        try {
          entry = tar.getNextEntry();
        } catch (IOException | RuntimeException e) {
          throw new BrokenArchive(
              "corrupt or truncated tar archive: cannot read the entry header "
                  + (lastEntry == null
                      ? "at the start of the archive"
                      : "after entry '" + lastEntry + "'")
                  + " (tar byte "
                  + counter.count
                  + "): "
                  + describe(e),
              lastEntry == null ? "(first entry)" : lastEntry,
              e);
        }
        if (entry == null) {
          checkEnd();
          return null;
        }
        String name = entry.getName();
        nextHeaderAt = entry.isSparse() ? -1 : counter.count + roundUp(entry.getSize());
        lastEntry = name;
        if (!entry.isFile()) {
          continue;
        }
        int dot = keyEnd(name);
        if (dot < 0) {
          continue;
        }
        String key = name.substring(0, dot);
        String ext = name.substring(dot + 1).toLowerCase(Locale.ROOT);
        if (!requested.isEmpty() && !requested.contains(ext)) {
          return new Entry(name, key, ext, null, null);
        }
        long size = entry.getSize();
        if (size > MAX_CELL_BYTES) {
          return new Entry(
              name,
              key,
              ext,
              null,
              "entry '" + name + "' holds " + size + " bytes, more than one cell can");
        }
        byte[] data = new byte[(int) size];
        int read;
        try {
          read = tar.readNBytes(data, 0, data.length);
        } catch (IOException | RuntimeException e) {
          throw new BrokenArchive(
              "corrupt or truncated tar archive: cannot read entry '" + name + "': " + describe(e),
              name,
              e);
        }
        if (read != data.length) {
          throw new BrokenArchive(
              "truncated tar archive: entry '"
                  + name
                  + "' holds "
                  + read
                  + " of its "
                  + size
                  + " bytes",
              name,
              null);
        }
        return new Entry(name, key, ext, data, null);
      }
    }

    /**
     * Commons Compress treats a cut at a header boundary, a cut inside a header, and a zeroed
     * header as a normal end; only a real end-of-archive record followed by nothing but zeros is
     * one.
     */
    private void checkEnd() throws IOException {
      String after =
          lastEntry == null ? "at the start of the archive" : "after entry '" + lastEntry + "'";
      String entry = lastEntry == null ? "(first entry)" : lastEntry;
      if (nextHeaderAt >= 0 && counter.count < nextHeaderAt + RECORD) {
        throw new BrokenArchive(
            "truncated tar archive: it ends "
                + after
                + " without an end-of-archive marker (tar byte "
                + counter.count
                + ")",
            entry,
            null);
      }
      long marker = nextHeaderAt;
      byte[] buf = new byte[8192];
      try {
        for (int n = counter.read(buf, 0, buf.length);
            n >= 0;
            n = counter.read(buf, 0, buf.length)) {
          for (int i = 0; i < n; i++) {
            if (buf[i] != 0) {
              throw new BrokenArchive(
                  "corrupt tar archive: the header "
                      + after
                      + (marker >= 0 ? " (tar byte " + marker + ")" : "")
                      + " reads as an end-of-archive marker, but data follows it",
                  entry,
                  null);
            }
          }
        }
      } catch (BrokenArchive e) {
        throw e;
      } catch (IOException | RuntimeException e) {
        throw new BrokenArchive(
            "corrupt or truncated archive " + after + ": " + describe(e), entry, e);
      }
    }

    private static String describe(Throwable e) {
      if (e instanceof EOFException) {
        return "unexpected end of file"
            + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")");
      }
      return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static long roundUp(long size) {
      return (size + RECORD - 1) / RECORD * RECORD;
    }

    @Override
    public void close() throws IOException {
      if (!closed) {
        closed = true;
        pending = null;
        if (rows != null) {
          rows.clear();
        }
        try {
          tar.close();
        } finally {
          file.close();
        }
      }
    }

    @Override
    public String toString() {
      return NAME + "[" + url + "]";
    }
  }
}
