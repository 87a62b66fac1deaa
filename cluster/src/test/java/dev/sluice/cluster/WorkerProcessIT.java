package dev.sluice.cluster;

import static dev.sluice.cluster.RecordingListener.next;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code sluice-worker} as it is used: a JVM of its own on 127.0.0.2, started from the test's class
 * path and from the runnable jar, joining a trainer in this JVM; stopped by SIGTERM, it leaves the
 * cluster cleanly.
 */
@Timeout(60)
class WorkerProcessIT {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Pattern JOINED =
      Pattern.compile(
          "sluice-worker joined cluster '(.+)' as worker ([0-9a-f-]{36}) at (\\S+) \\(host (\\S+)\\):"
              + " .*; (\\d+) members? \\(started in .*\\)");
  private static final long MIB = 1L << 20;

  private final TestMembers members = new TestMembers();

  @AfterEach
  void stop() {
    members.close();
  }

  @Test
  void aWorkerFromTheClassPathJoinsAndLeavesCleanlyOnSigterm() throws Exception {
    joinsAndLeavesOnSigterm(fromClassPath());
  }

  @Test
  void theRunnableJarJoinsAndLeavesCleanlyOnSigterm() throws Exception {
    Path jar = Path.of("target", "sluice-worker.jar");
    assumeThat(Files.exists(jar)).as("built by `package` (before failsafe runs)").isTrue();
    // No JVM flags: the jar's manifest opens what Arrow and Hazelcast need.
    List<String> command = new ArrayList<>(List.of(java(), "-Xmx256m", "-jar", jar.toString()));
    joinsAndLeavesOnSigterm(command);
  }

  @Test
  void aWorkerLeftAloneWarnsNamingTheAddresses() throws Exception {
    String nobody = "127.0.0.9:" + closedPort();
    List<String> command = fromClassPath();
    command.addAll(workerArgs(nobody));
    try (TestChild worker = new TestChild("worker", command)) {
      String line = worker.awaitLine(JOINED.asPredicate(), WAIT);
      assertThat(line).contains("; 1 member (");
      assertThat(worker.lines())
          .anySatisfy(
              l ->
                  assertThat(l)
                      .contains("is alone in cluster '" + members.clusterName() + "'")
                      .contains("no member of it answered at " + nobody));
    }
  }

  @Test
  void aKilledWorkerIsLostWithinTheFailureDetectionTime() throws Exception {
    SluiceMember trainer = members.start(members.trainer("127.0.0.1"));
    RecordingListener events = RecordingListener.on(trainer);
    List<String> command = fromClassPath();
    command.addAll(workerArgs(trainer.self().address()));
    try (TestChild worker = new TestChild("worker", command)) {
      worker.awaitLine(JOINED.asPredicate(), WAIT);
      Node node = trainer.awaitWorkers(1, WAIT).get(0);
      long killNanos = System.nanoTime();
      worker.process.toHandle().destroyForcibly(); // SIGKILL: no hook, no goodbye
      assertThat(next(events.lost, WAIT)).isEqualTo(node);
      Duration took = Duration.ofNanos(System.nanoTime() - killNanos);
      System.out.printf(
          "the trainer lost the killed worker %d ms after SIGKILL%n", took.toMillis());
      assertThat(took).isLessThan(TestMembers.MAX_NO_HEARTBEAT.plusSeconds(3));
      assertThat(worker.lines()).noneMatch(l -> l.startsWith("sluice-worker left"));
    }
  }

  @Test
  void aWorkerStartedToExitWithAProcessLeavesCleanlyWhenThatProcessIsKilled() throws Exception {
    SluiceMember trainer = members.start(members.trainer("127.0.0.1"));
    RecordingListener events = RecordingListener.on(trainer);
    // The process the worker goes with: one that waits for input that never comes.
    Process parent = new ProcessBuilder("cat").start();
    try {
      List<String> command = fromClassPath();
      command.addAll(workerArgs(trainer.self().address()));
      command.addAll(List.of("--exit-with", Long.toString(parent.pid())));
      try (TestChild worker = new TestChild("worker", command)) {
        worker.awaitLine(JOINED.asPredicate(), WAIT);
        Node node = trainer.awaitWorkers(1, WAIT).get(0);
        parent.destroyForcibly(); // SIGKILL: the worker must not outlive it
        assertThat(next(events.lost, WAIT)).isEqualTo(node);
        assertThat(worker.awaitLine(l -> l.startsWith("sluice-worker left cluster"), WAIT))
            .contains(node.id());
        assertThat(worker.process.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(worker.process.exitValue()).isZero();
      }
    } finally {
      parent.destroyForcibly();
    }
  }

  private void joinsAndLeavesOnSigterm(List<String> command) throws Exception {
    SluiceMember trainer = members.start(members.trainer("127.0.0.1"));
    RecordingListener events = RecordingListener.on(trainer);
    command.addAll(workerArgs(trainer.self().address()));
    long startNanos = System.nanoTime();
    try (TestChild worker = new TestChild("worker", command)) {
      Matcher joined = JOINED.matcher(worker.awaitLine(JOINED.asPredicate(), WAIT));
      assertThat(joined.find()).isTrue();
      System.out.printf(
          "the worker process printed its joined line %d ms after it was launched%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
      assertThat(joined.group(1)).isEqualTo(members.clusterName());
      String id = joined.group(2);
      assertThat(joined.group(3)).startsWith("127.0.0.2:");
      assertThat(joined.group(4)).isEqualTo("h2");
      assertThat(joined.group(5)).isEqualTo("2");

      Node expected = new Node(id, "h2", new Resources(2, 0), 512 * MIB);
      assertThat(trainer.awaitWorkers(1, WAIT)).containsExactly(expected);
      assertThat(trainer.members())
          .filteredOn(m -> m.role() == Role.WORKER)
          .singleElement()
          .extracting(MemberInfo::transport)
          .asString()
          .startsWith("127.0.0.2:")
          .isNotEqualTo("127.0.0.2:0");

      long stopNanos = System.nanoTime();
      // SIGTERM. (Process.destroy() would also close our end of the output, losing the last line.)
      worker.process.toHandle().destroy();
      assertThat(next(events.lost, WAIT)).isEqualTo(expected);
      System.out.printf(
          "the trainer heard the worker leave %d ms after SIGTERM%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopNanos));
      assertThat(worker.awaitLine(l -> l.startsWith("sluice-worker left cluster"), WAIT))
          .contains(id);
      assertThat(worker.process.waitFor(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
      assertThat(worker.process.exitValue()).as("ended by SIGTERM").isEqualTo(143);
      assertThat(trainer.workers()).isEmpty();
    }
  }

  private List<String> workerArgs(String join) {
    return List.of(
        "--cluster-name",
        members.clusterName(),
        "--members",
        join,
        "--bind",
        "127.0.0.2",
        "--port",
        "0",
        "--host",
        "h2",
        "--cpus",
        "2",
        "--gpus",
        "0",
        "--memory",
        "512m",
        "--heartbeat-interval",
        Long.toString(TestMembers.HEARTBEAT.toSeconds()),
        "--max-no-heartbeat",
        Long.toString(TestMembers.MAX_NO_HEARTBEAT.toSeconds()),
        "--join-timeout",
        Long.toString(TestMembers.JOIN_TIMEOUT.toSeconds()));
  }

  // sluice-worker run from the test's class path (WorkerMain as the main class).
  private static List<String> fromClassPath() {
    return TestChild.javaCommand("256m", WorkerMain.class);
  }

  private static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  private static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.9"))) {
      return s.getLocalPort();
    }
  }
}
