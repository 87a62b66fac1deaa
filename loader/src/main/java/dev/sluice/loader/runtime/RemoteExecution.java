package dev.sluice.loader.runtime;

import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.PipelineRef;
import java.util.List;
import java.util.Objects;

/**
 * What a node in another process needs to build its half of an execution: the pipeline's definition
 * (it builds the plan itself), the epoch, the options, and the plan's fingerprint as the scheduler
 * built it, which the node's must equal before any task runs.
 *
 * @param id the execution's id, unique in the scheduler's process
 * @param definition the pipeline's definition and parameters
 * @param epoch the epoch
 * @param options the execution's options
 * @param fingerprint the plan's fingerprint lines (one per operator) as the scheduler built it
 * @param splits the epoch's split plan as the scheduler listed it ({@code "<count> splits,
 *     <digest>"} of every split's index, paths and rows; empty without a read), which the node's
 *     must equal: a worker that lists other files (a missing mount, a stale copy) would read other
 *     data under the same split numbers
 */
public record RemoteExecution(
    String id,
    PipelineRef definition,
    int epoch,
    ExecutionOptions options,
    List<String> fingerprint,
    String splits) {
  public RemoteExecution {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(definition, "definition");
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(splits, "splits");
    fingerprint = List.copyOf(fingerprint);
  }
}
