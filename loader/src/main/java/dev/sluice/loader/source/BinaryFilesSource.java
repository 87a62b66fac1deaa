package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import dev.sluice.loader.Columns;
import dev.sluice.sharding.EpochPlan;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Files read whole, one row per file: {@link Batch#KEY_COLUMN} (the path relative to the source's
 * {@linkplain #root() root}, with '/' separators), {@link Batch#URL_COLUMN} (the absolute path) and
 * {@link #BYTES_COLUMN} (binary, the file's content).
 *
 * <p>The files are those named by the patterns ({@link PathPatterns}; a literal directory stands
 * for every file under it, recursively, hidden ones excepted). The root is the patterns'
 * {@linkplain PathPatterns#baseDirectory base directory} unless given.
 *
 * <p><b>Splits.</b> Files in sorted order (or, with {@link SupportsFileShuffle}, in an order seeded
 * by (seed, epoch)) are grouped into splits of at most {@link Builder#targetSplitBytes} bytes and
 * {@link Builder#targetSplitFiles} files (a larger file is a split alone); a split's {@code paths}
 * are its files, its {@code estimatedRows} their number (exact unless a file becomes unreadable)
 * and its {@code estimatedBytes} their total size.
 *
 * <p><b>Batches</b> close at {@link ReadContext#targetRows()} files or once their content reaches
 * {@link ReadContext#targetBytes()}. A file that vanished or cannot be read since planning is a bad
 * record naming it ({@link ReadContext#badRecords()}): skipped within the allowance, else the
 * reader throws.
 *
 * <p>Immutable and thread-safe; each reader is used by one thread at a time.
 */
public final class BinaryFilesSource implements Source, SupportsFileShuffle {
  /** The operator name readers report bad records under. */
  public static final String NAME = "ReadBinaryFiles";

  /** The column holding a file's content. */
  public static final String BYTES_COLUMN = "bytes";

  /** Default split size: 64 MiB. */
  public static final long DEFAULT_SPLIT_BYTES = 64L << 20;

  /**
   * Default split length in files: small enough that a folder of small files still makes many
   * splits, read in parallel (one task reads a split at a time) and interleaved.
   */
  public static final int DEFAULT_SPLIT_FILES = 256;

  private static final int MAX_CELL_BYTES = Integer.MAX_VALUE - 16;
  private static final Schema SCHEMA =
      new Schema(
          List.of(
              Columns.utf8(Batch.KEY_COLUMN),
              Columns.utf8(Batch.URL_COLUMN),
              Columns.binary(BYTES_COLUMN)));

  private final List<String> patterns;
  private final Path root;
  private final long targetSplitBytes;
  private final int targetSplitFiles;
  private final String sourceId;

  private BinaryFilesSource(Builder b) {
    this.patterns = List.copyOf(b.patterns);
    this.root =
        b.root != null ? b.root.toAbsolutePath().normalize() : PathPatterns.baseDirectory(patterns);
    this.targetSplitBytes = b.targetSplitBytes;
    this.targetSplitFiles = b.targetSplitFiles;
    this.sourceId = b.sourceId != null ? b.sourceId : "binary-files:" + String.join(",", patterns);
  }

  /** The files named by the given directories or patterns, with default settings. */
  public static BinaryFilesSource of(String... patterns) {
    return builder(patterns).build();
  }

  /** A builder over the given directories or path patterns (see {@link PathPatterns}). */
  public static Builder builder(String... patterns) {
    return new Builder(List.of(patterns));
  }

  /** A builder over the given directories or path patterns (see {@link PathPatterns}). */
  public static Builder builder(List<String> patterns) {
    return new Builder(patterns);
  }

  /** Configures a {@link BinaryFilesSource}. Not thread-safe. */
  public static final class Builder {
    private final List<String> patterns;
    private Path root;
    private long targetSplitBytes = DEFAULT_SPLIT_BYTES;
    private int targetSplitFiles = DEFAULT_SPLIT_FILES;
    private String sourceId;

    private Builder(List<String> patterns) {
      if (patterns.isEmpty()) {
        throw new IllegalArgumentException("no file patterns given");
      }
      this.patterns = List.copyOf(patterns);
    }

    /** The directory keys are relative to; every file must lie under it. */
    public Builder root(Path root) {
      this.root = Objects.requireNonNull(root, "root");
      return this;
    }

    /** The size splits are grouped to (default {@link #DEFAULT_SPLIT_BYTES}). */
    public Builder targetSplitBytes(long targetSplitBytes) {
      if (targetSplitBytes <= 0) {
        throw new IllegalArgumentException(
            "targetSplitBytes must be positive: " + targetSplitBytes);
      }
      this.targetSplitBytes = targetSplitBytes;
      return this;
    }

    /** The most files a split groups (default {@link #DEFAULT_SPLIT_FILES}). */
    public Builder targetSplitFiles(int targetSplitFiles) {
      this.targetSplitFiles = checkSplitFiles(targetSplitFiles);
      return this;
    }

    /** The identifier of the source in splits (default: derived from the patterns). */
    public Builder sourceId(String sourceId) {
      this.sourceId = Objects.requireNonNull(sourceId, "sourceId");
      return this;
    }

    /**
     * The source. Touches storage only to tell whether a literal path is a directory (for the
     * default root).
     */
    public BinaryFilesSource build() {
      return new BinaryFilesSource(this);
    }
  }

  /** The directory keys are relative to (absolute). */
  public Path root() {
    return root;
  }

  /** The path patterns. */
  public List<String> patterns() {
    return patterns;
  }

  /** The split size files are grouped to. */
  public long targetSplitBytes() {
    return targetSplitBytes;
  }

  /** The identifier of the source in its splits. */
  public String sourceId() {
    return sourceId;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Schema schema() {
    return SCHEMA;
  }

  /** The most files a split groups. */
  public int targetSplitFiles() {
    return targetSplitFiles;
  }

  @Override
  public List<SourceSplit> planSplits() throws IOException {
    return groupFiles(sourceId, files(), targetSplitBytes, targetSplitFiles);
  }

  @Override
  public List<SourceSplit> planSplits(long seed, int epoch) throws IOException {
    return groupFiles(
        sourceId, EpochPlan.shuffleFiles(files(), seed, epoch), targetSplitBytes, targetSplitFiles);
  }

  private List<Path> files() throws IOException {
    List<Path> files = PathPatterns.expand(patterns, PathPatterns.Directories.walk(p -> true));
    for (Path file : files) {
      if (!file.startsWith(root)) {
        throw new IOException("file " + file + " is not under the source's root " + root);
      }
    }
    return files;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) {
    return new FilesReader(split, context);
  }

  @Override
  public String toString() {
    return NAME + patterns;
  }

  static int checkSplitFiles(int targetSplitFiles) {
    if (targetSplitFiles <= 0) {
      throw new IllegalArgumentException("targetSplitFiles must be positive: " + targetSplitFiles);
    }
    return targetSplitFiles;
  }

  /**
   * Groups files, in order, into splits of at most {@code targetBytes} and {@code targetFiles}
   * each, except that a file larger than {@code targetBytes} is a split alone.
   */
  static List<SourceSplit> groupFiles(
      String sourceId, List<Path> files, long targetBytes, int targetFiles) throws IOException {
    List<SourceSplit> splits = new ArrayList<>();
    List<String> group = new ArrayList<>();
    long groupBytes = 0;
    for (Path file : files) {
      long size = Files.size(file);
      if (!group.isEmpty() && (groupBytes + size > targetBytes || group.size() >= targetFiles)) {
        splits.add(
            new SourceSplit(
                sourceId, splits.size(), group, 0, -1, group.size(), groupBytes, List.of()));
        group = new ArrayList<>();
        groupBytes = 0;
      }
      group.add(file.toString());
      groupBytes += size;
    }
    if (!group.isEmpty()) {
      splits.add(
          new SourceSplit(
              sourceId, splits.size(), group, 0, -1, group.size(), groupBytes, List.of()));
    }
    return splits;
  }

  /**
   * Reads one file whole.
   *
   * @throws IOException naming the file when it is missing, unreadable or too large for one cell
   */
  static byte[] readWhole(Path file) throws IOException {
    long size = Files.size(file);
    if (size > MAX_CELL_BYTES) {
      throw new IOException(file + " holds " + size + " bytes, more than one cell can");
    }
    return Files.readAllBytes(file);
  }

  /** A file's key: its path relative to {@code root}, with '/' separators. */
  static String key(Path root, Path file) {
    Path rel = root.relativize(file);
    StringBuilder sb = new StringBuilder();
    for (Path part : rel) {
      if (sb.length() > 0) {
        sb.append('/');
      }
      sb.append(part);
    }
    return sb.toString();
  }

  private final class FilesReader implements SplitReader {
    private final SourceSplit split;
    private final ReadContext context;
    private final HeapBatch rows = new HeapBatch(SCHEMA);
    private int next;
    private boolean closed;

    FilesReader(SourceSplit split, ReadContext context) {
      this.split = split;
      this.context = context;
    }

    @Override
    public Batch next(BufferAllocator allocator) {
      if (closed) {
        throw new IllegalStateException("reader of " + split.describe() + " is closed");
      }
      List<String> paths = split.paths();
      while (next < paths.size()
          && rows.rows() < context.targetRows()
          && rows.bytes() < context.targetBytes()) {
        String url = paths.get(next++);
        Path file = Paths.get(url);
        String key = key(root, file);
        byte[] content;
        try {
          content = readWhole(file);
        } catch (IOException e) {
          context.badRecords().report(NAME, url, key, e);
          continue;
        }
        rows.add(url, key, url, content);
      }
      return rows.rows() == 0 ? null : rows.build(allocator);
    }

    @Override
    public void close() {
      closed = true;
      rows.clear();
    }
  }
}
