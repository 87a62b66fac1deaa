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
   * A context of the given parts, for calling a function outside an execution (its tests, a
   * one-off conversion).
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
