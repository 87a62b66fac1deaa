package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;

/**
 * What a task's body hands back on its node, before its output goes into the node's store (the
 * scheduler then gets a {@link dev.sluice.loader.runtime.TaskOutcome}). The output (if any) is in
 * the task's allocator.
 *
 * @param output the produced batch, or null (nothing, or an empty result)
 * @param rowsIn rows consumed
 * @param bytesIn bytes consumed
 * @param peakBytes the task allocator's peak
 * @param wallNanos time the task ran
 * @param cpuNanos CPU time of the task's thread
 * @param exhausted for reads: the split has no more data
 */
record TaskResult(
    Batch output,
    long rowsIn,
    long bytesIn,
    long peakBytes,
    long wallNanos,
    long cpuNanos,
    boolean exhausted) {}
