package dev.sluice.loader;

import java.util.Map;

/**
 * A pipeline that every member of a cluster can build for itself: the way a program's dataset
 * reaches the workers without its functions crossing the wire (see {@code
 * docs/function-distribution.md}). The trainer and each worker load the same class by name (from
 * the jar on their class path), call {@link #build} with the same parameters, and check that they
 * got the same plan (a fingerprint of its operators, functions and resources) before any task runs;
 * a task then names its function by operator index in that plan.
 *
 * <p>An implementation has a public no-argument constructor, and {@code build} depends only on its
 * arguments: the same parameters give the same plan on every member (read the state a function
 * needs, a model file or a vocabulary, from a path in the parameters, inside the function). Lambdas
 * are fine: they are made by {@code build} on each member, never serialized.
 *
 * <pre>{@code
 * public final class TrainPipeline implements PipelineDefinition {
 *   public Dataset build(Sluice sluice, Map<String, String> p) {
 *     return sluice.read(WebDatasetSource.of(p.get("shards")))
 *         .mapBatches(ImageDecoder.builder().column("jpg").size(64, 64).channels(3).build());
 *   }
 * }
 * Dataset ds = sluice.pipeline(TrainPipeline.class, Map.of("shards", "data/train-{0000..0099}.tar"));
 * }</pre>
 */
@FunctionalInterface
public interface PipelineDefinition {
  /**
   * Builds the pipeline.
   *
   * @param sluice the context to read through
   * @param parameters the pipeline's parameters (paths, sizes, seeds), the same on every member
   * @return the dataset, as it is consumed (any transformation added outside {@code build} is not
   *     known to the workers, so a cluster refuses such a dataset)
   */
  Dataset build(Sluice sluice, Map<String, String> parameters);
}
