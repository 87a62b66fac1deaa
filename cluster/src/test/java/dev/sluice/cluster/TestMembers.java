package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sluice.cluster.exec.SluiceWorker;
import dev.sluice.loader.runtime.Resources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Starts in-JVM members of one test cluster (a cluster name of its own, ports the system picks,
 * test timings: heartbeats every second, failure detection after 5 s, joins given up after 1 s) and
 * closes every one it started, the youngest first, however the test ended.
 */
final class TestMembers implements AutoCloseable {
  static final Duration HEARTBEAT = Duration.ofSeconds(1);
  static final Duration MAX_NO_HEARTBEAT = Duration.ofSeconds(5);
  static final Duration JOIN_TIMEOUT = Duration.ofSeconds(1);

  private final String clusterName = "sluice-it-" + UUID.randomUUID().toString().substring(0, 8);
  private final List<SluiceMember> started = new ArrayList<>();

  String clusterName() {
    return clusterName;
  }

  /** A worker's configuration on {@code bind}, labelled {@code host}, joining {@code join}. */
  ClusterConfig.Builder worker(
      String bind, String host, Resources resources, long budget, String... join) {
    return timings(ClusterConfig.worker())
        .bindAddress(bind)
        .hostLabel(host)
        .resources(resources)
        .memoryBudget(budget)
        .members(join);
  }

  /** A trainer's configuration on {@code bind}, joining {@code join}. */
  ClusterConfig.Builder trainer(String bind, String... join) {
    return timings(ClusterConfig.trainer()).bindAddress(bind).members(join);
  }

  private ClusterConfig.Builder timings(ClusterConfig.Builder b) {
    return timings(b, clusterName);
  }

  /**
   * A trainer's configuration on {@code bind} in cluster {@code clusterName} with the test timings
   * and an ephemeral port: for a trainer in a process of a test's own, or beside worker processes.
   */
  static ClusterConfig.Builder trainerOf(String clusterName, String bind, List<String> join) {
    return timings(ClusterConfig.trainer(), clusterName).bindAddress(bind).members(join);
  }

  private static ClusterConfig.Builder timings(ClusterConfig.Builder b, String clusterName) {
    return b.clusterName(clusterName)
        .port(0)
        .heartbeatInterval(HEARTBEAT)
        .maxNoHeartbeat(MAX_NO_HEARTBEAT)
        .joinTimeout(JOIN_TIMEOUT);
  }

  /**
   * Asserts that every worker closes the executions it had and returns their memory within {@code
   * bound}, and that its memory never went over {@code budget}.
   */
  static void assertWorkersLetGo(List<SluiceWorker> workers, Duration bound, long budget) {
    for (SluiceWorker w : workers) {
      await()
          .atMost(bound)
          .untilAsserted(
              () -> {
                assertThat(w.service().openExecutions()).as("%s", w.service().node()).isZero();
                assertThat(w.service().allocatedMemory()).isZero();
              });
      assertThat(w.service().peakMemory())
          .as("peak on %s", w.service().node())
          .isLessThanOrEqualTo(budget);
    }
  }

  /** Starts a member, to be closed by {@link #close()}. */
  SluiceMember start(ClusterConfig.Builder config) {
    SluiceMember m = SluiceMember.start(config.build());
    started.add(m);
    return m;
  }

  @Override
  public void close() {
    RuntimeException first = null;
    for (int i = started.size() - 1; i >= 0; i--) {
      try {
        started.get(i).close();
      } catch (RuntimeException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    started.clear();
    if (first != null) {
      throw first;
    }
  }
}
