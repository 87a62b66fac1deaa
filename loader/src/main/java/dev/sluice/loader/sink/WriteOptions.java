package dev.sluice.loader.sink;

/**
 * How a file sink lays out its output.
 *
 * @param maxRowsPerFile a new file is started when the current one holds rows and the next batch
 *     would take it past this many (batches are never split, so a single larger batch makes a
 *     larger file); formats that write one file per batch (Parquet) ignore it
 * @param overwrite whether output already in the directory (files named like this sink's parts,
 *     {@code part-NNNNN.*}) is deleted when the sink opens; without it such files make the sink
 *     refuse to open, naming one of them
 */
public record WriteOptions(long maxRowsPerFile, boolean overwrite) {
  public WriteOptions {
    if (maxRowsPerFile <= 0) {
      throw new IllegalArgumentException("maxRowsPerFile must be positive: " + maxRowsPerFile);
    }
  }

  /** One million rows per file, existing output refused. */
  public static WriteOptions defaults() {
    return new WriteOptions(1_000_000, false);
  }

  /** These options with another file size in rows. */
  public WriteOptions withMaxRowsPerFile(long rows) {
    return new WriteOptions(rows, overwrite);
  }

  /** These options replacing (true) or refusing (false) existing output. */
  public WriteOptions withOverwrite(boolean overwrite) {
    return new WriteOptions(maxRowsPerFile, overwrite);
  }
}
