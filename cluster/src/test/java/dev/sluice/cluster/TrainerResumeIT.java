package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sluice.cluster.exec.SluiceWorker;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.sharding.ShareAssignment;
import dev.sluice.sharding.ShareSegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A trainer process killed (SIGKILL) in the middle of its share and started again from its saved
 * position (sharding's {@code ConsumerPosition}, saved with every batch as a checkpoint would): the
 * ids it took before the kill and after the restart are its share, each exactly once. Two workers
 * in this JVM; the trainer a process, twice.
 */
@Timeout(120)
class TrainerResumeIT {
  static final long BUDGET = 16L << 20;
  static final Map<String, String> PARAMETERS =
      Map.of(
          "rows", "12000",
          "splits", "10",
          "consumers", "2",
          "rank", "1",
          "seed", "7",
          "epoch", "3",
          "bytes", String.valueOf(16 << 10));

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
  void aTrainerKilledMidShareResumesFromItsPositionAndSeesItsShareExactlyOnce(@TempDir Path dir)
      throws Exception {
    List<SluiceWorker> workers = new ArrayList<>();
    workers.add(worker(members.worker("127.0.0.2", "h2", Resources.cpus(2), BUDGET)));
    String join = workers.get(0).member().self().address();
    workers.add(worker(members.worker("127.0.0.3", "h3", Resources.cpus(2), BUDGET, join)));
    ShareAssignment assignment = TestPipelines.Share.assignment(PARAMETERS);
    List<Long> share = idsOf(assignment, 1);
    Path before = dir.resolve("before.state");
    Path after = dir.resolve("after.state");

    List<String> first = TestChild.javaCommand("384m", ShareTrainerProcess.class);
    first.addAll(
        List.of(
            members.clusterName(),
            "127.0.0.4",
            join,
            before.toString(),
            Long.toString(share.size() / 3)));
    try (TestChild trainer = new TestChild("trainer-1", first)) {
      trainer.awaitLine(l -> l.startsWith(ShareTrainerProcess.PAUSED), Duration.ofSeconds(60));
      assertThat(workers.stream().mapToInt(w -> w.service().openExecutions()).sum()).isPositive();
      trainer.process.destroyForcibly(); // SIGKILL mid-share, blocks in flight on the workers
      assertThat(trainer.process.waitFor()).isNotZero();
    }
    // The workers drop the dead trainer's execution and its memory.
    for (SluiceWorker w : workers) {
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                assertThat(w.service().openExecutions()).isZero();
                assertThat(w.service().allocatedMemory()).isZero();
              });
    }
    ShareTrainerProcess.State saved = ShareTrainerProcess.State.read(before);
    assertThat(saved.delivered()).isBetween((long) share.size() / 3, (long) share.size() - 1);

    List<String> second = TestChild.javaCommand("384m", ShareTrainerProcess.class);
    second.addAll(
        List.of(
            members.clusterName(), "127.0.0.5", join, after.toString(), "0", before.toString()));
    try (TestChild trainer = new TestChild("trainer-2", second)) {
      trainer.awaitLine(l -> l.startsWith(ShareTrainerProcess.DONE), Duration.ofSeconds(60));
    }
    List<Long> seen = new ArrayList<>(saved.ids());
    seen.addAll(ShareTrainerProcess.State.read(after).ids());
    Set<Long> distinct = new HashSet<>(seen);
    assertThat(seen).as("no id twice").hasSize(distinct.size());
    assertThat(distinct).as("the share, exactly").isEqualTo(new HashSet<>(share));
    assertThat(seen).as("in the share's order").isEqualTo(share);
    for (SluiceWorker w : workers) {
      assertThat(w.service().peakMemory()).isLessThanOrEqualTo(BUDGET);
    }
  }

  /** The ids of consumer {@code rank}'s share, in its order (a range source's id is its row). */
  private static List<Long> idsOf(ShareAssignment a, int rank) {
    List<Long> ids = new ArrayList<>();
    for (ShareSegment s : a.share(rank).segments()) {
      long to = s.toRow() == -1 ? s.split().end() - s.split().start() : s.toRow(); // -1: the end
      for (long r = s.fromRow(); r < to; r++) {
        ids.add(s.split().start() + r);
      }
    }
    return ids;
  }

  private SluiceWorker worker(ClusterConfig.Builder config) {
    SluiceWorker w = SluiceWorker.start(config.build(), getClass().getClassLoader());
    started.add(w);
    return w;
  }
}
