package dev.sluice.loader.internal.plan;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.Source;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;

/** One operator of the physical plan: what the streaming executor runs. Immutable values. */
public sealed interface PhysicalOp {

  /** The name shown in the DAG, stats and errors. */
  String name();

  /**
   * Reads splits of a source as tasks, each task reading the next block of one split and applying
   * the fused functions to it.
   *
   * @param splitShuffleSeed when present, the splits are read in an order permuted by (seed, epoch)
   * @param fileShuffleSeed when present, a source that {@linkplain
   *     dev.sluice.loader.source.SupportsFileShuffle supports it} permutes its files by (seed,
   *     epoch) before grouping them into splits; the splits are then permuted too, by this seed
   *     unless {@code splitShuffleSeed} is present
   */
  record ReadOp(
      Source source,
      OptionalLong splitShuffleSeed,
      OptionalLong fileShuffleSeed,
      List<NamedFunction> fused,
      Resources resources,
      int concurrency)
      implements PhysicalOp {
    @Override
    public String name() {
      return chainName(source.name(), fused);
    }
  }

  /** Runs a chain of fused stateless functions as tasks, each over one input bundle. */
  record TaskMapOp(List<NamedFunction> chain, Resources resources, int batchSize, int concurrency)
      implements PhysicalOp {
    @Override
    public String name() {
      return chainName(null, chain);
    }
  }

  /** Runs a stateful function in a pool of actors. */
  record ActorMapOp(
      String name,
      Callable<? extends BatchFunction> factory,
      ActorPool pool,
      Resources resources,
      int batchSize)
      implements PhysicalOp {}

  /** Keeps the first rows that arrive; runs on the scheduling thread (it only slices). */
  record LimitOp(long rows) implements PhysicalOp {
    @Override
    public String name() {
      return "Limit[" + rows + "]";
    }
  }

  /** A function with the name it shows in plans. */
  record NamedFunction(String name, BatchFunction function) {}

  private static String chainName(String first, List<NamedFunction> chain) {
    StringBuilder sb = new StringBuilder();
    if (first != null) {
      sb.append(first);
    }
    for (NamedFunction f : chain) {
      if (sb.length() > 0) {
        sb.append("->");
      }
      sb.append(f.name());
    }
    return sb.toString();
  }
}
