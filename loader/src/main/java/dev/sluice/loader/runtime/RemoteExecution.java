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
 */
public record RemoteExecution(
    String id,
    PipelineRef definition,
    int epoch,
    ExecutionOptions options,
    List<String> fingerprint) {
  public RemoteExecution {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(definition, "definition");
    Objects.requireNonNull(options, "options");
    fingerprint = List.copyOf(fingerprint);
  }
}
