package dev.sluice.loader;

import dev.sluice.loader.runtime.Resources;

/**
 * How one {@code mapBatches} step runs: the resources each task (or actor) asks for, the batch size
 * its function sees, and a cap on concurrent tasks. Immutable; {@code withX} returns a copy.
 *
 * @param name the operator's name in plans and stats (null: derived from the function)
 * @param cpus logical CPUs per task or actor (default 1)
 * @param gpus logical GPUs per task or actor (default 0)
 * @param batchSize rows per call of the function; 0 passes blocks as they come. With a batch size,
 *     blocks are re-cut (copying) so that every call but the last gets exactly this many rows.
 * @param concurrency the most tasks in flight for a stateless step; 0 means as many as resources
 *     and memory allow. Ignored by actor pools (their size is the cap).
 */
public record MapOptions(String name, double cpus, double gpus, int batchSize, int concurrency) {

  /** One CPU, no GPU, blocks as they come, no concurrency cap. */
  public static final MapOptions DEFAULT = new MapOptions(null, 1, 0, 0, 0);

  public MapOptions {
    if (cpus < 0 || gpus < 0 || batchSize < 0 || concurrency < 0) {
      throw new IllegalArgumentException("map options must be >= 0");
    }
  }

  /** The default options. */
  public static MapOptions defaults() {
    return DEFAULT;
  }

  public MapOptions withName(String name) {
    return new MapOptions(name, cpus, gpus, batchSize, concurrency);
  }

  public MapOptions withCpus(double cpus) {
    return new MapOptions(name, cpus, gpus, batchSize, concurrency);
  }

  public MapOptions withGpus(double gpus) {
    return new MapOptions(name, cpus, gpus, batchSize, concurrency);
  }

  public MapOptions withBatchSize(int batchSize) {
    return new MapOptions(name, cpus, gpus, batchSize, concurrency);
  }

  public MapOptions withConcurrency(int concurrency) {
    return new MapOptions(name, cpus, gpus, batchSize, concurrency);
  }

  /** The resources one task or actor asks for. */
  public Resources resources() {
    return new Resources(cpus, gpus);
  }
}
