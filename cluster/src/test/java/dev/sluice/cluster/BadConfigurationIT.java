package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import dev.sluice.loader.runtime.Resources;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Misconfigured members get a clear error within a bounded time, never a hang: a wrong cluster name
 * or an unreachable address (Hazelcast then quietly forms a cluster of its own, so the trainer's
 * wait for workers is where it fails), and a member of another Sluice version (which leaves again,
 * the members already there unharmed).
 */
@Timeout(60)
class BadConfigurationIT {
  private static final long MIB = 1L << 20;
  private static final Duration AWAIT = Duration.ofSeconds(2);
  // Scheduling slack on a loaded two-core machine; the wait itself is exact.
  private static final Duration SLACK = Duration.ofMillis(1500);
  // A member whose addresses refuse or belong to another cluster starts alone in about a second.
  private static final Duration START_BOUND = TestMembers.JOIN_TIMEOUT.plusSeconds(4);

  private final TestMembers members = new TestMembers();

  @AfterEach
  void stop() {
    members.close();
  }

  @Test
  void aWrongClusterNameFailsTheWaitForWorkersWithinItsBound() throws InterruptedException {
    SluiceMember worker =
        members.start(members.worker("127.0.0.2", "h2", Resources.cpus(1), 64 * MIB));
    long startNanos = System.nanoTime();
    SluiceMember trainer =
        members.start(
            members.trainer("127.0.0.1", worker.self().address()).clusterName("not-the-name"));
    assertThat(report("a trainer of a wrong cluster name started (alone) in", startNanos))
        .isLessThan(START_BOUND);

    ClusterException e = awaitFails(trainer);

    assertThat(e.getMessage())
        .contains("cluster 'not-the-name'")
        .contains("0 of 1 workers")
        .contains("Addresses tried: " + worker.self().address())
        .contains("Members seen: " + trainer.self())
        .contains("another cluster name")
        .contains("unreachable")
        .contains("another Sluice version");
    assertThat(worker.hazelcast().getCluster().getMembers()).hasSize(1);
  }

  @Test
  void anUnreachableAddressFailsTheWaitForWorkersWithinItsBound()
      throws IOException, InterruptedException {
    String nobody = "127.0.0.9:" + closedPort();
    long startNanos = System.nanoTime();
    SluiceMember trainer = members.start(members.trainer("127.0.0.1", nobody));
    assertThat(report("a trainer given an unreachable address started (alone) in", startNanos))
        .isLessThan(START_BOUND);
    assertThat(trainer.hazelcast().getCluster().getMembers()).hasSize(1);

    ClusterException e = awaitFails(trainer);

    assertThat(e.getMessage())
        .contains("cluster '" + members.clusterName() + "'")
        .contains("Addresses tried: " + nobody)
        .contains("Members seen: " + trainer.self())
        .contains("unreachable from 127.0.0.1");
  }

  @Test
  void aMemberOfAnotherSluiceVersionFailsToStartAndTheOthersAreUnharmed()
      throws InterruptedException {
    SluiceMember worker =
        members.start(members.worker("127.0.0.2", "h2", Resources.cpus(1), 64 * MIB));
    SluiceMember trainer = members.start(members.trainer("127.0.0.1", worker.self().address()));
    RecordingListener events = RecordingListener.on(trainer);

    long startNanos = System.nanoTime();
    ClusterException e =
        catchThrowableOfType(
            ClusterException.class,
            () ->
                members.start(
                    members
                        .worker(
                            "127.0.0.3", "h3", Resources.cpus(1), 64 * MIB, worker.self().address())
                        .sluiceVersion("0.0.0-other")));
    Duration took = report("a member of another version was refused in", startNanos);

    assertThat(took).isLessThan(Duration.ofSeconds(10));
    assertThat(e).as("start must fail").isNotNull();
    assertThat(e.getMessage())
        .contains("runs Sluice 0.0.0-other")
        .contains(worker.self().id().toString())
        .contains(trainer.self().id().toString())
        .contains("runs Sluice " + SluiceVersion.current())
        .contains("left the cluster again");
    // The refused member is gone, and was never counted as a worker.
    await()
        .atMost(Duration.ofSeconds(15))
        .until(() -> trainer.hazelcast().getCluster().getMembers().size() == 2);
    assertThat(events.joined).isEmpty();
    assertThat(trainer.awaitWorkers(1, AWAIT)).containsExactly(worker.self().toNode());
    assertThat(worker.members()).extracting(MemberInfo::id).contains(trainer.self().id());
    assertThat(worker.isRunning()).isTrue();
    assertThat(trainer.isRunning()).isTrue();
  }

  // awaitWorkers(1, AWAIT) fails, neither early nor much late.
  private static ClusterException awaitFails(SluiceMember trainer) {
    long start = System.nanoTime();
    ClusterException e =
        catchThrowableOfType(ClusterException.class, () -> trainer.awaitWorkers(1, AWAIT));
    Duration took = report("awaitWorkers(1, " + AWAIT.toSeconds() + " s) failed in", start);
    assertThat(e).as("awaitWorkers must fail").isNotNull();
    assertThat(took).isGreaterThanOrEqualTo(AWAIT).isLessThan(AWAIT.plus(SLACK));
    System.out.println("  with: " + e.getMessage());
    return e;
  }

  private static Duration report(String what, long startNanos) {
    Duration took = Duration.ofNanos(System.nanoTime() - startNanos);
    System.out.printf("%s %d ms%n", what, took.toMillis());
    return took;
  }

  // A port nothing listens on (it was free a moment ago; nothing in this test binds it again).
  private static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.9"))) {
      return s.getLocalPort();
    }
  }
}
