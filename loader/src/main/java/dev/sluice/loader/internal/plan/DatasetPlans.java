package dev.sluice.loader.internal.plan;

import dev.sluice.loader.Dataset;
import java.util.List;
import java.util.function.Function;

/**
 * The physical plan of a dataset, for Sluice's own packages (the cluster runtime builds a worker's
 * half of an execution from it): a door {@link Dataset} opens in its static initialiser (the JDK's
 * shared-secrets pattern), so that the public API shows no plan types.
 */
public final class DatasetPlans {
  private static volatile Function<Dataset, List<PhysicalOp>> planner;

  private DatasetPlans() {}

  /** Called once, by {@link Dataset}'s static initialiser. */
  public static void register(Function<Dataset, List<PhysicalOp>> datasetPlanner) {
    if (planner != null) {
      throw new IllegalStateException("already registered");
    }
    planner = datasetPlanner;
  }

  /** The dataset's physical plan, fusion applied. */
  public static List<PhysicalOp> plan(Dataset dataset) {
    // Any Dataset instance means its class is initialised, so the planner is registered.
    return planner.apply(dataset);
  }
}
