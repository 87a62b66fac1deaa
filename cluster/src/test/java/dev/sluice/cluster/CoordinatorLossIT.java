package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.cluster.exec.SluiceWorker;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.SplitOptions;
import dev.sluice.loader.runtime.Resources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The coordinator trainer killed (SIGKILL) while another trainer takes its share of the epoch the
 * coordinator hosts: the other trainer's {@code next()} fails with an error naming the
 * coordinator's loss within a bounded time, and the workers drop the coordinator's execution and
 * return its memory. Two workers and the second trainer in this JVM; the coordinator a process.
 */
@Timeout(90)
class CoordinatorLossIT {
  static final long BUDGET = 16L << 20;
  static final Map<String, String> PARAMETERS =
      Map.of("rows", "1000000", "splits", "16", "bytes", String.valueOf(16 << 10));

  /** Failure detection (a killed process: its connections refused) and the call that fails. */
  private static final Duration BOUND = TestMembers.MAX_NO_HEARTBEAT.plusSeconds(10);

  private final TestMembers members = new TestMembers();
  private final List<AutoCloseable> started = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    members.close();
    for (int i = started.size() - 1; i >= 0; i--) {
      started.get(i).close();
    }
  }

  @Test
  void killingTheCoordinatorFailsTheOtherTrainerClearlyAndTheWorkersLetGo() throws Exception {
    List<SluiceWorker> workers = new ArrayList<>();
    workers.add(worker(members.worker("127.0.0.2", "h2", Resources.cpus(2), BUDGET)));
    String join = workers.get(0).member().self().address();
    workers.add(worker(members.worker("127.0.0.3", "h3", Resources.cpus(2), BUDGET, join)));
    List<String> command = TestChild.javaCommand("384m", CoordinatorProcess.class);
    command.addAll(List.of(members.clusterName(), "127.0.0.4", join));
    try (TestChild coordinator = new TestChild("coordinator", command)) {
      coordinator.awaitLine(l -> l.startsWith("coordinator joined"), Duration.ofSeconds(60));
      ClusterTrainer second = ClusterTrainer.start(members.trainer("127.0.0.5", join).build());
      started.add(second);
      assertThat(second.member().isCoordinator()).isFalse();
      try (Sluice sluice =
          Sluice.builder()
              .runtime(second.runtime())
              .options(
                  ExecutionOptions.defaults()
                      .withMemoryBudget(BUDGET)
                      .withTargetBlockRows(64)
                      .withProgress(ExecutionOptions.Progress.OFF))
              .build()) {
        BatchIterator it =
            sluice
                .pipeline(TestPipelines.Expanding.class, PARAMETERS)
                .streamingShare(2, 1, SplitOptions.unequal(), Duration.ofSeconds(60));
        try (it) {
          long rows = 0;
          for (int i = 0; i < 4; i++) {
            try (Batch b = it.next()) {
              rows += b.rowCount();
            }
          }
          coordinator.awaitLine(l -> l.startsWith(CoordinatorProcess.TOOK), Duration.ofSeconds(30));
          assertThat(workers.stream().mapToInt(w -> w.service().openExecutions()).sum())
              .isEqualTo(workers.size());
          long killNanos = System.nanoTime();
          coordinator.process.destroyForcibly(); // SIGKILL
          SluiceException failure = null;
          while (failure == null) {
            try (Batch b = it.next()) {
              rows += b.rowCount(); // what was already on its way
            } catch (SluiceException e) {
              failure = e;
            }
          }
          Duration took = Duration.ofNanos(System.nanoTime() - killNanos);
          System.out.printf(
              "the other trainer failed %d ms after the coordinator's SIGKILL, having taken %d"
                  + " rows: %s%n",
              took.toMillis(), rows, failure.getMessage());
          assertThat(took).isLessThan(BOUND);
          assertThat(failure).hasMessageContaining("coordinator").hasMessageContaining("left");
        }
        assertThat(sluice.allocator().getAllocatedMemory()).isZero();
      }
      TestMembers.assertWorkersLetGo(workers, BOUND, BUDGET);
    }
  }

  private SluiceWorker worker(ClusterConfig.Builder config) {
    SluiceWorker w = SluiceWorker.start(config.build(), getClass().getClassLoader());
    started.add(w);
    return w;
  }
}
