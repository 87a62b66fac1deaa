/**
 * The streaming executor (internal: no compatibility promise). How it is cut:
 *
 * <ul>
 *   <li>{@link dev.sluice.loader.internal.exec.StreamingExecutor}: an execution's life (start, the
 *       scheduling thread or a test's {@code runOnce()}, failure, close) and its consumer end;
 *   <li>{@link dev.sluice.loader.internal.exec.ExecutionPlanning}: what is decided once (nodes, one
 *       operator state per operator, whether the resource requests can be met);
 *   <li>{@link dev.sluice.loader.internal.exec.Scheduling}: the decisions of a step, as functions
 *       of the state (which operator launches next, liveness);
 *   <li>{@link dev.sluice.loader.internal.exec.Policies}: the backpressure policies (concurrency
 *       caps and the memory reservation), over a {@link
 *       dev.sluice.loader.internal.exec.PolicyView};
 *   <li>{@link dev.sluice.loader.internal.exec.ResourceLedger}: CPUs and GPUs node by node, and
 *       where the next task or actor goes (locality first);
 *   <li>{@link dev.sluice.loader.internal.exec.ConsumerChannel}: the bounded hand-over to the
 *       consumer and the memory the consumer side claims;
 *   <li>operator states ({@code ReadOperatorState} leasing splits from sharding's {@code
 *       SplitEnumerator}, {@code MapOperatorState}, {@code ActorPoolOperatorState}, {@code
 *       LimitOperatorState}): queues, tasks in flight, bounded output buffers, statistics;
 *   <li>{@link dev.sluice.loader.runtime.NodeAgent}: all the scheduler asks of a node, as data
 *       (task specs in, block references and outcomes back), so that a node may be another process;
 *       {@link dev.sluice.loader.internal.exec.LocalNodeAgent} runs a node's tasks and actors on
 *       this process's threads with a {@link dev.sluice.loader.internal.exec.NodeWorker}, which
 *       carries out {@link dev.sluice.loader.runtime.TaskSpec task specs} (operator index, split
 *       and row, block references) against the plan, names each output by its lineage, and keeps
 *       the readers of the splits leased to its node;
 *   <li>{@link dev.sluice.loader.internal.exec.BlockDirectory}: every node's {@link
 *       dev.sluice.loader.runtime.BlockStore}, and the blocks made again in place of those lost
 *       with a node; a node's worker (with {@link dev.sluice.loader.internal.exec.ReadReplay})
 *       makes a block again from its {@link dev.sluice.loader.runtime.Lineage};
 *   <li>{@link dev.sluice.loader.internal.exec.ExecutionProgress}: statistics and the progress
 *       display.
 * </ul>
 *
 * <p>Blocks move as {@link dev.sluice.loader.runtime.BlockRef references}; a block's memory stays
 * in the allocator of the task that made it, held by its node's store, until the last reference is
 * released or a consumer takes it.
 *
 * <p>Every state above is touched by the scheduling thread only; tasks and actors run on the
 * runtime's threads and come back through the executor's inbox.
 */
package dev.sluice.loader.internal.exec;
