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
}
