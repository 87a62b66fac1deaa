package dev.sluice.loader;

/**
 * What one operator did during an execution.
 *
 * @param name the operator's name
 * @param tasks tasks completed
 * @param rowsIn rows consumed
 * @param rowsOut rows produced
 * @param bytesIn bytes consumed (Arrow memory of the input blocks)
 * @param bytesOut bytes produced
 * @param wallNanos time tasks ran, summed over tasks
 * @param cpuNanos CPU time of the task threads, summed over tasks
 * @param backpressureNanos time the operator had input but was held back by a backpressure policy
 * @param peakQueuedBytes the most bytes waiting in the operator's input queue at once
 * @param peakTaskBytes the most Arrow memory one task held at once (input copy, intermediates,
 *     output)
 * @param badRecords records skipped under the bad-record allowance (the whole execution's count is
 *     in {@link DatasetStats#badRecords()}; this is set on sources)
 * @param actorsStarted actors started (actor pools only)
 * @param peakActors the most actors alive at once (actor pools only)
 * @param tasksInFlight tasks running when the snapshot was taken
 * @param actorsAlive actors alive when the snapshot was taken (actor pools only)
 * @param bytesOutPerRowIn the most output bytes one task made per input row, as the operator
 *     learned it to size its tasks by output bytes (see {@link
 *     ExecutionOptions#targetOutputBytes()}); -1 before any task ended
 */
public record OperatorStats(
    String name,
    long tasks,
    long rowsIn,
    long rowsOut,
    long bytesIn,
    long bytesOut,
    long wallNanos,
    long cpuNanos,
    long backpressureNanos,
    long peakQueuedBytes,
    long peakTaskBytes,
    long badRecords,
    int actorsStarted,
    int peakActors,
    int tasksInFlight,
    int actorsAlive,
    double bytesOutPerRowIn) {}
