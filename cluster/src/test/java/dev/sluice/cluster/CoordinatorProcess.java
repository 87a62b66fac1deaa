package dev.sluice.cluster;

import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SplitOptions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The coordinator trainer of {@link CoordinatorLossIT}, in a process of its own so that the test
 * can kill it: it joins the cluster ({@code args}: cluster name, bind address, a member to join),
 * opens its share (index 0 of 2) of a long epoch of {@link TestPipelines.Expanding}, takes one
 * batch, says so, and then holds its share without taking more until it is killed.
 */
public final class CoordinatorProcess {
  static final String TOOK = "coordinator took its first batch";

  private CoordinatorProcess() {}

  public static void main(String[] args) throws Exception {
    ClusterTrainer trainer =
        ClusterTrainer.start(TestMembers.trainerOf(args[0], args[1], List.of(args[2])).build());
    trainer.awaitWorkers(2, Duration.ofSeconds(30));
    System.out.println("coordinator joined as " + trainer.member().self().id());
    Sluice sluice =
        Sluice.builder()
            .runtime(trainer.runtime())
            .options(
                ExecutionOptions.defaults()
                    .withMemoryBudget(CoordinatorLossIT.BUDGET)
                    .withTargetBlockRows(64)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build();
    BatchIterator it =
        sluice
            .pipeline(TestPipelines.Expanding.class, CoordinatorLossIT.PARAMETERS)
            .streamingShare(2, 0, SplitOptions.unequal(), Duration.ofSeconds(60));
    try (Batch b = it.next()) {
      System.out.println(TOOK + " (" + b.rowCount() + " rows)");
    }
    new CountDownLatch(1).await(); // until killed
  }
}
