package dev.sluice.cluster;

import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SplitOptions;
import dev.sluice.sharding.RemainderPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;

/**
 * The second trainer of {@link TrainerLossIT}, in a process of its own so that the test can kill
 * it: it joins the cluster ({@code args}: cluster name, bind address, a member to join, the batches
 * to take, {@code FAIL} or {@code CONTINUE}), attaches to its share (index 1 of 2, equal) of the
 * epoch the coordinator hosts, takes that many batches, prints the ids it took, and holds its share
 * without taking more until it is killed.
 */
public final class ShareConsumerProcess {
  static final String TOOK = "share consumer took ids ";

  private ShareConsumerProcess() {}

  public static void main(String[] args) throws Exception {
    int batches = Integer.parseInt(args[3]);
    SplitOptions.TrainerLoss loss = SplitOptions.TrainerLoss.valueOf(args[4]);
    ClusterTrainer trainer =
        ClusterTrainer.start(TestMembers.trainerOf(args[0], args[1], List.of(args[2])).build());
    trainer.awaitWorkers(2, Duration.ofSeconds(30));
    Sluice sluice =
        Sluice.builder().runtime(trainer.runtime()).options(TrainerLossIT.OPTIONS).build();
    BatchIterator it =
        sluice
            .pipeline(TestPipelines.Expanding.class, TrainerLossIT.PARAMETERS)
            .streamingShare(
                2,
                1,
                SplitOptions.equal(RemainderPolicy.DROP).whenTrainerLost(loss),
                Duration.ofSeconds(60));
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < batches; i++) {
      try (Batch b = it.next()) {
        for (int r = 0; r < b.rowCount(); r++) {
          ids.add(b.getLong("id", r));
        }
      }
    }
    System.out.println(TOOK + ids.stream().map(String::valueOf).collect(Collectors.joining(",")));
    new CountDownLatch(1).await(); // until killed
  }
}
