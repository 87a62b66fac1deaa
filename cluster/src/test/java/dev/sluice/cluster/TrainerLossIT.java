package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.cluster.exec.SluiceWorker;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.ExecutionEvent;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.SplitOptions;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.sharding.RemainderPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A trainer killed (SIGKILL) in the middle of an epoch it shares with the coordinator trainer
 * ({@code streamingShare}, equal shares): by default the coordinator's {@code next()} fails within
 * a bounded time with an error naming the lost trainer, instead of waiting for it without end (the
 * equal shares would hold it back); with {@code whenTrainerLost(CONTINUE)} the coordinator goes on
 * to the end of the epoch with the rows the lost trainer did not take. Either way the workers drop
 * the execution and return its memory. Two workers and the coordinator in this JVM; the other
 * trainer a process.
 */
@Timeout(90)
class TrainerLossIT {
  static final long BUDGET = 16L << 20;
  static final int ROWS = 3000;
  static final Map<String, String> PARAMETERS =
      Map.of("rows", String.valueOf(ROWS), "splits", "8", "bytes", "1024");
  static final ExecutionOptions OPTIONS =
      ExecutionOptions.defaults()
          .withMemoryBudget(BUDGET)
          .withTargetBlockRows(64)
          .withProgress(ExecutionOptions.Progress.OFF);

  /** Failure detection (a killed process: its connections refused) and the error's way back. */
  private static final Duration BOUND = TestMembers.MAX_NO_HEARTBEAT.plusSeconds(10);

  private final TestMembers members = new TestMembers();
  private final List<AutoCloseable> started = new ArrayList<>();
  private final List<SluiceWorker> workers = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    members.close();
    for (int i = started.size() - 1; i >= 0; i--) {
      started.get(i).close();
    }
  }

  @Test
  void byDefaultTheOtherTrainersFailNamingTheLostOne() throws Exception {
    SplitOptions split = SplitOptions.equal(RemainderPolicy.DROP);
    assertThat(split.whenTrainerLost()).isEqualTo(SplitOptions.TrainerLoss.FAIL);
    run(
        split,
        (it, killNanos) -> {
          SluiceException failure = null;
          while (failure == null) {
            try (Batch b = it.next()) {
              // what the equal shares let through before the loss was heard
            } catch (SluiceException e) {
              failure = e;
            }
          }
          Duration took = Duration.ofNanos(System.nanoTime() - killNanos);
          System.out.printf(
              "the coordinator failed %d ms after the other trainer's SIGKILL: %s%n",
              took.toMillis(), failure.getMessage());
          assertThat(took).isLessThan(BOUND);
          assertThat(failure)
              .hasMessageContaining("(consumer 1 of the 2 of a shared split)")
              .hasMessageContaining("127.0.0.5")
              .hasMessageContaining("was lost mid-epoch")
              .hasMessageContaining("whenTrainerLost(CONTINUE)");
          return List.of();
        });
  }

  @Test
  void withContinueTheCoordinatorFinishesTheEpochWithTheRowsTheLostTrainerDidNotTake()
      throws Exception {
    run(
        SplitOptions.equal(RemainderPolicy.DROP).whenTrainerLost(SplitOptions.TrainerLoss.CONTINUE),
        (it, killNanos) -> {
          List<Long> ids = new ArrayList<>();
          while (it.hasNext()) {
            try (Batch b = it.next()) {
              for (int r = 0; r < b.rowCount(); r++) {
                ids.add(b.getLong("id", r));
              }
            }
          }
          assertThat(it.stats().events(ExecutionEvent.Kind.CONSUMER_LOST))
              .singleElement()
              .satisfies(e -> assertThat(e.detail()).contains("the others go on"));
          return ids;
        });
  }

  /** What the coordinator does once the other trainer is killed: the ids it took then. */
  @FunctionalInterface
  private interface AfterKill {
    List<Long> go(BatchIterator it, long killNanos) throws Exception;
  }

  private void run(SplitOptions split, AfterKill afterKill) throws Exception {
    workers.add(worker(members.worker("127.0.0.2", "h2", Resources.cpus(2), BUDGET)));
    String join = workers.get(0).member().self().address();
    workers.add(worker(members.worker("127.0.0.3", "h3", Resources.cpus(2), BUDGET, join)));
    ClusterTrainer coordinator = ClusterTrainer.start(members.trainer("127.0.0.4", join).build());
    started.add(coordinator);
    coordinator.awaitWorkers(2, Duration.ofSeconds(30));
    assertThat(coordinator.member().isCoordinator()).isTrue();
    List<String> command = TestChild.javaCommand("384m", ShareConsumerProcess.class);
    command.addAll(
        List.of(members.clusterName(), "127.0.0.5", join, "1", split.whenTrainerLost().name()));
    try (Sluice sluice = Sluice.builder().runtime(coordinator.runtime()).options(OPTIONS).build();
        TestChild other = new TestChild("trainer-1", command)) {
      List<Long> before = new ArrayList<>();
      List<Long> after;
      try (BatchIterator it =
          sluice
              .pipeline(TestPipelines.Expanding.class, PARAMETERS)
              .streamingShare(2, 0, split, Duration.ofSeconds(60))) {
        try (Batch b = it.next()) {
          for (int r = 0; r < b.rowCount(); r++) {
            before.add(b.getLong("id", r));
          }
        }
        String took =
            other.awaitLine(l -> l.startsWith(ShareConsumerProcess.TOOK), Duration.ofSeconds(60));
        List<Long> theirs =
            Arrays.stream(took.substring(ShareConsumerProcess.TOOK.length()).split(","))
                .map(Long::valueOf)
                .toList();
        assertThat(theirs).isNotEmpty();
        long killNanos = System.nanoTime();
        other.process.destroyForcibly(); // SIGKILL, blocks given to it and not taken
        assertThat(other.process.waitFor()).isNotZero();
        after = afterKill.go(it, killNanos);

        List<Long> ours = new ArrayList<>(before);
        ours.addAll(after);
        if (!after.isEmpty()) {
          Set<Long> distinct = new HashSet<>(ours);
          assertThat(distinct).as("no id twice").hasSize(ours.size());
          assertThat(distinct)
              .as("disjoint from the lost trainer's")
              .doesNotContainAnyElementsOf(theirs);
          // The lost trainer's queue and the blocks it had asked for (two each at most) are
          // dropped with it; every other row comes to the coordinator.
          assertThat(ours.size() + theirs.size())
              .isLessThanOrEqualTo(ROWS)
              .isGreaterThanOrEqualTo(ROWS - 4 * 64);
        }
      }
      assertThat(sluice.allocator().getAllocatedMemory()).isZero();
    }
    TestMembers.assertWorkersLetGo(workers, BOUND, BUDGET);
  }

  private SluiceWorker worker(ClusterConfig.Builder config) {
    SluiceWorker w = SluiceWorker.start(config.build(), getClass().getClassLoader());
    started.add(w);
    return w;
  }
}
