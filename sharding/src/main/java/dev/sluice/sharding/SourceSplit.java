package dev.sluice.sharding;

import java.util.List;
import java.util.Objects;

/**
 * One independently readable piece of a source: a tar shard, a file, a byte range or a row range of
 * a file, or a group of small files.
 *
 * <p>Splits are immutable values. {@code index} is the split's position in its source's planning
 * order (stable for a given source definition) and is what epoch plans permute. {@code start} and
 * {@code end} are a half-open range whose unit is the source's own (bytes, rows, record batches);
 * {@code end == -1} means "to the end". Estimates may be {@code -1} when unknown.
 *
 * @param sourceId identifies the source the split belongs to (stable across processes)
 * @param index position of the split in the source's planning order, from 0
 * @param paths the files the split reads, in reading order (at least one)
 * @param start start of the range in the source's unit, inclusive
 * @param end end of the range, exclusive, or -1 for the end of the last file
 * @param estimatedRows rows the split is expected to yield, or -1
 * @param estimatedBytes bytes the split occupies on storage, or -1
 * @param hosts hosts that hold the split locally (empty when any host is as good as another)
 */
public record SourceSplit(
    String sourceId,
    int index,
    List<String> paths,
    long start,
    long end,
    long estimatedRows,
    long estimatedBytes,
    List<String> hosts) {

  public SourceSplit {
    Objects.requireNonNull(sourceId, "sourceId");
    if (index < 0) {
      throw new IllegalArgumentException("split index must be >= 0: " + index);
    }
    paths = List.copyOf(paths);
    if (paths.isEmpty()) {
      throw new IllegalArgumentException("a split reads at least one path");
    }
    if (start < 0 || (end != -1 && end < start)) {
      throw new IllegalArgumentException("bad range [" + start + ", " + end + ")");
    }
    hosts = List.copyOf(hosts);
  }

  /** A split that reads one whole file. */
  public static SourceSplit wholeFile(
      String sourceId, int index, String path, long estimatedRows, long estimatedBytes) {
    return new SourceSplit(
        sourceId, index, List.of(path), 0, -1, estimatedRows, estimatedBytes, List.of());
  }

  /**
   * Whether the split has a row count ({@code estimatedRows >= 0}). Balanced assignment uses the
   * count as a weight; equal shares take it as the exact number of rows the split yields.
   */
  public boolean rowsKnown() {
    return estimatedRows >= 0;
  }

  /** A readable name for logs and error messages: the file, with the range when partial. */
  public String describe() {
    String files =
        paths.size() == 1 ? paths.get(0) : paths.get(0) + " (+" + (paths.size() - 1) + " files)";
    return (start == 0 && end == -1)
        ? files
        : files + "[" + start + ", " + (end == -1 ? "end" : end) + ")";
  }
}
