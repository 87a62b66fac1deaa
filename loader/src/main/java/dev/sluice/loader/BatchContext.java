package dev.sluice.loader;

import org.apache.arrow.memory.BufferAllocator;

/**
 * What a {@link BatchFunction} may use while it runs: the allocator its output must come from, and
 * the execution's bad-record allowance. Valid only during the call.
 */
public interface BatchContext {
  /** The operator's allocator: output batches are allocated here and count against its budget. */
  BufferAllocator allocator();

  /** The execution's bad-record allowance, for functions that can skip one bad row. */
  BadRecords badRecords();

  /** The name of the operator running the function, for messages. */
  String operatorName();

  /**
   * The epoch the execution runs as ({@link Dataset#forEpoch}; 0 by default): a random augmentation
   * seeded by (seed, epoch, the sample's key) differs from epoch to epoch and repeats from run to
   * run, whichever thread or actor runs it.
   */
  default int epoch() {
    return 0;
  }

  /**
   * A context of the given parts, for calling a function outside an execution (its tests, a one-off
   * conversion).
   */
  static BatchContext of(BufferAllocator allocator, BadRecords badRecords, String operatorName) {
    return new BatchContext() {
      @Override
      public BufferAllocator allocator() {
        return allocator;
      }

      @Override
      public BadRecords badRecords() {
        return badRecords;
      }

      @Override
      public String operatorName() {
        return operatorName;
      }
    };
  }
}
