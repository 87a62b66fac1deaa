package dev.sluice.loader.source;

import dev.sluice.loader.BadRecords;

/**
 * How readers cut their output into batches, and the execution's bad-record allowance.
 *
 * @param targetRows the most rows a reader puts in one batch
 * @param targetBytes roughly the most bytes a reader puts in one batch (a batch is closed once it
 *     reaches this size, so it may exceed it by one record)
 * @param badRecords the allowance for corrupt records
 */
public record ReadContext(int targetRows, long targetBytes, BadRecords badRecords) {
  public ReadContext {
    if (targetRows <= 0 || targetBytes <= 0) {
      throw new IllegalArgumentException("targets must be positive");
    }
  }

  /** Defaults for tests: 1024 rows, 16 MiB, no bad records allowed. */
  public static ReadContext defaults() {
    return new ReadContext(1024, 16L << 20, BadRecords.none());
  }
}
