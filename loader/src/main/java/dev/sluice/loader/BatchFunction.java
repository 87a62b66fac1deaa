package dev.sluice.loader;

/**
 * A transformation of one batch into another, run by {@code Dataset.mapBatches}: as a stateless
 * task (a function object shared by all tasks, so it must be thread-safe) or inside a stateful
 * actor (one instance per actor, called by one thread at a time; if it implements {@link
 * AutoCloseable} it is closed when its actor stops).
 *
 * <p>The input batch belongs to Sluice: do not close it or keep it past the call. Allocate the
 * output through {@link BatchContext#allocator()} so that it counts against the operator's memory
 * budget; returning the input itself is allowed.
 */
@FunctionalInterface
public interface BatchFunction {
  /** Transforms a batch; an exception fails the pipeline (or, within the allowance, the batch). */
  Batch apply(Batch input, BatchContext context) throws Exception;
}
