package dev.sluice.cluster.exec;

import dev.sluice.cluster.ClusterException;
import dev.sluice.cluster.WorkerMain;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Worker processes on this machine, as {@code sluice-worker} runs on other machines: each a JVM of
 * its own with this JVM's class path and flags, bound to a loopback address of its own (127.0.0.2,
 * 127.0.0.3, ...) and labelled as a host of its own, so that a program (the main job's {@code
 * --workers N}, a benchmark, a test) can try the cluster without machines. The first worker starts
 * a cluster, the others join it; their output is echoed with a prefix. Closing sends SIGTERM (they
 * leave the cluster cleanly), waits, then kills what is left: every process started is stopped.
 */
public final class LocalWorkers implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LocalWorkers.class);
  private static final Pattern JOINED =
      Pattern.compile("sluice-worker joined cluster '.+' as worker \\S+ at (\\S+) \\(host ");

  private final List<Process> processes = new ArrayList<>();
  private final List<Thread> readers = new ArrayList<>();
  private final List<String> addresses = new ArrayList<>();
  private final Settings settings;

  /**
   * What every worker is started with.
   *
   * @param clusterName the cluster's name
   * @param cpus logical CPUs each offers
   * @param memoryBudget bytes each holds at most
   * @param heap each JVM's maximum heap ({@code -Xmx} syntax)
   * @param heartbeatInterval how often members send heartbeats
   * @param maxNoHeartbeat how long a member may stay silent before it is removed
   * @param mergeInterval how often the sides of a split cluster look for each other
   */
  public record Settings(
      String clusterName,
      double cpus,
      long memoryBudget,
      String heap,
      Duration heartbeatInterval,
      Duration maxNoHeartbeat,
      Duration mergeInterval) {
    /** With the default merge interval. */
    public Settings(
        String clusterName,
        double cpus,
        long memoryBudget,
        String heap,
        Duration heartbeatInterval,
        Duration maxNoHeartbeat) {
      this(
          clusterName,
          cpus,
          memoryBudget,
          heap,
          heartbeatInterval,
          maxNoHeartbeat,
          dev.sluice.cluster.ClusterConfig.DEFAULT_MERGE_INTERVAL);
    }

    public Settings {
      Objects.requireNonNull(clusterName, "clusterName");
      Objects.requireNonNull(heap, "heap");
      Objects.requireNonNull(mergeInterval, "mergeInterval");
      if (heartbeatInterval.toSeconds() < 1 || maxNoHeartbeat.compareTo(heartbeatInterval) <= 0) {
        throw new IllegalArgumentException(
            "heartbeats every whole second or more, silence longer than that: "
                + heartbeatInterval
                + ", "
                + maxNoHeartbeat);
      }
    }

    /** Heartbeats every second, a worker silent for 10 s removed: for a try on one machine. */
    public static Settings of(String clusterName, double cpus, long memoryBudget, String heap) {
      return new Settings(
          clusterName, cpus, memoryBudget, heap, Duration.ofSeconds(1), Duration.ofSeconds(10));
    }
  }

  private LocalWorkers(Settings settings) {
    this.settings = settings;
  }

  /**
   * Starts {@code n} workers of cluster {@code clusterName} and waits until each has joined.
   *
   * @param n how many
   * @param clusterName the cluster's name
   * @param cpus logical CPUs each offers
   * @param memoryBudget bytes each holds at most
   * @param heap each JVM's maximum heap ({@code -Xmx} syntax)
   * @param timeout how long each may take to join
   * @throws ClusterException when one does not join in time or exits (naming it and what it
   *     printed); those started are stopped
   */
  public static LocalWorkers start(
      int n, String clusterName, double cpus, long memoryBudget, String heap, Duration timeout) {
    return start(n, Settings.of(clusterName, cpus, memoryBudget, heap), timeout);
  }

  /**
   * Starts {@code n} workers with {@code settings} and waits until each has joined.
   *
   * @throws ClusterException when one does not join in time or exits (naming it and what it
   *     printed); those started are stopped
   */
  public static LocalWorkers start(int n, Settings settings, Duration timeout) {
    LocalWorkers w = new LocalWorkers(settings);
    try {
      for (int i = 0; i < n; i++) {
        w.add(timeout);
      }
      return w;
    } catch (RuntimeException e) {
      w.close();
      throw e;
    }
  }

  /**
   * Starts one more worker, on the next loopback address and host label (after those started
   * before, killed ones included), joining those alive, and waits until it has joined. Other
   * workers may be killed while it joins (from another thread).
   *
   * @return its member address ({@code host:port})
   * @throws ClusterException when it does not join in time or exits (it is stopped)
   */
  public String add(Duration timeout) {
    int i;
    Launched joined;
    synchronized (this) {
      i = processes.size();
      joined = launch(i);
    }
    String address;
    try {
      address = awaitJoined(i + 1, joined, timeout);
    } catch (RuntimeException e) {
      synchronized (this) {
        processes.get(i).destroyForcibly();
      }
      throw e;
    }
    synchronized (this) {
      addresses.set(i, address);
    }
    return address;
  }

  /** Starts worker {@code i} (from 0); the future completes with its address once it joined. */
  private Launched launch(int i) {
    String bind = "127.0.0." + (2 + i);
    List<String> command = command(settings.heap());
    command.addAll(
        List.of(
            "--cluster-name",
            settings.clusterName(),
            "--bind",
            bind,
            "--port",
            "0",
            "--host",
            "worker-" + (i + 1),
            "--cpus",
            String.format(Locale.ROOT, "%.2f", settings.cpus()),
            "--memory",
            Long.toString(settings.memoryBudget()),
            "--heartbeat-interval",
            Long.toString(settings.heartbeatInterval().toSeconds()),
            "--max-no-heartbeat",
            Long.toString(settings.maxNoHeartbeat().toSeconds()),
            "--join-timeout",
            "5",
            "--merge-interval",
            Long.toString(settings.mergeInterval().toSeconds()),
            // Within the 20 s close() waits after SIGTERM.
            "--hand-over-timeout",
            "15",
            // A worker goes with this process, also when it is killed: nothing is left behind.
            "--exit-with",
            Long.toString(ProcessHandle.current().pid())));
    List<String> live = liveAddresses();
    if (!live.isEmpty()) {
      command.add("--members");
      command.add(String.join(",", live));
    }
    return startOne(i + 1, command);
  }

  /**
   * Kills worker {@code index} (in start order, from 0) with SIGKILL, as a machine dies: no
   * shutdown hook runs, the cluster is not told. Returns once the process is gone.
   *
   * @return its process id
   */
  public synchronized long kill(int index) {
    Process p = processes.get(index);
    p.destroyForcibly();
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        throw new ClusterException("worker " + (index + 1) + " survived SIGKILL for 30 s", null);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ClusterException("interrupted while killing worker " + (index + 1), e);
    }
    return p.pid();
  }

  /**
   * Stops worker {@code index} (in start order, from 0) with SIGTERM, as a service manager stops
   * it: it hands its work over to the others, then leaves the cluster and exits. Returns at once.
   *
   * @return completes with the process once it has ended
   */
  public synchronized java.util.concurrent.CompletableFuture<Process> stop(int index) {
    Process p = processes.get(index);
    p.toHandle().destroy(); // not Process.destroy(): that closes our end of its output
    return p.onExit();
  }

  /** The addresses of the workers that joined and whose processes are alive. */
  private List<String> liveAddresses() {
    List<String> live = new ArrayList<>();
    for (int i = 0; i < addresses.size(); i++) {
      if (addresses.get(i) != null && processes.get(i).isAlive()) {
        live.add(addresses.get(i));
      }
    }
    return live;
  }

  /**
   * The member addresses ({@code host:port}) of the workers that joined, in start order (killed
   * ones included): a trainer joins them.
   */
  public synchronized List<String> addresses() {
    return addresses.stream().filter(java.util.Objects::nonNull).toList();
  }

  /** The indices (in start order, from 0) of the workers that joined and are alive. */
  public synchronized List<Integer> alive() {
    List<Integer> alive = new ArrayList<>();
    for (int i = 0; i < addresses.size(); i++) {
      if (addresses.get(i) != null && processes.get(i).isAlive()) {
        alive.add(i);
      }
    }
    return alive;
  }

  /** The workers' process ids, in start order. */
  public synchronized List<Long> pids() {
    return processes.stream().map(Process::pid).toList();
  }

  /**
   * Completes with the first line worker {@code index} (in start order, from 0) prints from now on
   * that matches {@code line} (its log included): for a test waiting for what a worker says.
   */
  public CompletableFuture<String> watch(int index, java.util.function.Predicate<String> line) {
    CompletableFuture<String> f = new CompletableFuture<>();
    watches.add(new Watch(index, line, f));
    return f;
  }

  private record Watch(
      int index, java.util.function.Predicate<String> line, CompletableFuture<String> seen) {}

  private final List<Watch> watches = new java.util.concurrent.CopyOnWriteArrayList<>();

  private void matched(int index, String line) {
    for (Watch w : watches) {
      if (w.index() == index && w.line().test(line) && w.seen().complete(line)) {
        watches.remove(w);
      }
    }
  }

  /** A worker process started: completes with its address once it joined; what it printed. */
  private record Launched(CompletableFuture<String> joined, List<String> printed) {}

  private Launched startOne(int number, List<String> command) {
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getOutputStream().close();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start worker " + number + ": " + command, e);
    }
    processes.add(p);
    addresses.add(null);
    CompletableFuture<String> joined = new CompletableFuture<>();
    List<String> printed = java.util.Collections.synchronizedList(new ArrayList<>());
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                  System.out.println("[worker-" + number + "] " + line);
                  matched(number - 1, line);
                  if (printed.size() < 200) {
                    printed.add(line);
                  }
                  Matcher m = JOINED.matcher(line);
                  if (m.find()) {
                    joined.complete(m.group(1));
                  }
                }
              } catch (IOException e) {
                // The process is gone and its output with it.
              }
              joined.completeExceptionally(
                  new ClusterException(
                      "worker "
                          + number
                          + " exited ("
                          + exitOf(p)
                          + ") before joining; it printed: "
                          + printed,
                      null));
            },
            "sluice-local-worker-" + number + "-output");
    reader.setDaemon(true);
    reader.start();
    readers.add(reader);
    return new Launched(joined, printed);
  }

  private static String awaitJoined(int number, Launched launched, Duration timeout) {
    List<String> printed = launched.printed();
    try {
      return launched.joined().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ClusterException("interrupted while worker " + number + " started", e);
    } catch (TimeoutException e) {
      throw new ClusterException(
          "worker " + number + " did not join within " + timeout + "; it printed: " + printed, e);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof ClusterException c
          ? c
          : new ClusterException("worker " + number + " failed: " + e.getCause(), e.getCause());
    }
  }

  private static String exitOf(Process p) {
    try {
      return p.waitFor(1, TimeUnit.SECONDS) ? "exit " + p.exitValue() : "still running";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "unknown";
    }
  }

  /** This JVM's java, flags (the add-opens Arrow and Hazelcast need) and class path. */
  private static List<String> command(String heap) {
    List<String> c = new ArrayList<>();
    c.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    c.add("-Xmx" + heap);
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-") || a.startsWith("-Djavacpp.") || a.startsWith("-Dorg.bytedeco")) {
        c.add(a);
      }
    }
    c.add("-cp");
    c.add(System.getProperty("java.class.path"));
    c.add(WorkerMain.class.getName());
    return c;
  }

  /**
   * SIGTERM to each worker in turn, the youngest first (each leaves cleanly, handing its partitions
   * to those still there: stopped all at once, they would wait for each other), a bounded wait,
   * then SIGKILL to what is left.
   */
  @Override
  public synchronized void close() {
    for (int i = processes.size() - 1; i >= 0; i--) {
      Process p = processes.get(i);
      // SIGTERM through the handle: Process.destroy() would also close our end of its output, and
      // its last lines (that it left the cluster) would be lost.
      p.toHandle().destroy();
      try {
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
          LOG.warn("worker process {} did not stop within 20 s of SIGTERM: killed", p.pid());
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        processes.forEach(Process::destroyForcibly);
        break;
      }
    }
    for (Thread t : readers) {
      try {
        t.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    processes.clear();
    readers.clear();
  }
}
