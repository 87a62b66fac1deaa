package dev.sluice.cluster;

import dev.sluice.cluster.exec.SluiceWorker;
import dev.sluice.loader.runtime.Resources;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code sluice-worker}: starts a Sluice worker on this machine and keeps it in the cluster until
 * the process is stopped. Started by hand (or by a service manager) on each machine with cores to
 * spare; it prints one line once it has joined, saying what it offers, and on SIGTERM (or Ctrl-C)
 * hands its work over (bounded by {@code --hand-over-timeout}) and leaves the cluster cleanly
 * before the JVM exits.
 *
 * <p>The jars of {@code --classpath} (the user's pipeline classes) are checked and opened in a
 * class loader of their own, a child of this one, which the cluster runtime will run user code in.
 *
 * <p>Exit codes: 2 for bad arguments, 1 when the member cannot start or join (another Sluice
 * version, a port taken) or stops by itself; a stop by signal ends as the JVM does (143 on
 * SIGTERM).
 */
@Command(
    name = "sluice-worker",
    mixinStandardHelpOptions = true,
    versionProvider = WorkerMain.Version.class,
    sortOptions = false,
    description = {
      "Starts a Sluice worker: a Hazelcast data member offering this machine's CPUs, GPUs and a"
          + " memory budget to the cluster, until stopped (SIGTERM hands its work over to the other"
          + " workers, then leaves the cluster cleanly).",
      ""
    })
public final class WorkerMain implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(
      names = "--cluster-name",
      paramLabel = "NAME",
      description =
          "The cluster to join; members of other names never join it. Default: ${DEFAULT-VALUE}")
  String clusterName = ClusterConfig.DEFAULT_CLUSTER_NAME;

  @Option(
      names = "--members",
      paramLabel = "HOST[:PORT]",
      split = ",",
      description =
          "Members to join, comma-separated (without a port: the port of --port and the two above"
              + " it). May name this worker too. None: start alone, as the first member.")
  List<String> members = new ArrayList<>();

  @Option(
      names = "--bind",
      paramLabel = "ADDRESS",
      description =
          "The one address to bind to and advertise (127.0.0.2, 127.0.0.3, ... give each worker on"
              + " one machine an address of its own). Default: ${DEFAULT-VALUE}")
  String bind = ClusterConfig.DEFAULT_BIND_ADDRESS;

  @Option(
      names = "--port",
      paramLabel = "PORT",
      description =
          "The port (0: any free port; when taken, the next ones up to --port-count are tried)."
              + " Default: ${DEFAULT-VALUE}")
  int port = ClusterConfig.DEFAULT_PORT;

  @Option(
      names = "--port-count",
      paramLabel = "N",
      description = "Ports tried from --port up. Default: ${DEFAULT-VALUE}")
  int portCount = ClusterConfig.DEFAULT_PORT_COUNT;

  @Option(
      names = "--cpus",
      paramLabel = "N",
      description = "Logical CPUs offered. Default: this machine's processors (${DEFAULT-VALUE})")
  double cpus = Runtime.getRuntime().availableProcessors();

  @Option(
      names = "--gpus",
      paramLabel = "N",
      description = "Logical GPUs offered. Default: ${DEFAULT-VALUE}")
  double gpus = 0;

  @Option(
      names = "--memory",
      paramLabel = "SIZE",
      converter = ByteSize.class,
      description =
          "Memory budget for blocks and task memory: bytes, or with a unit (512m, 2g, 1.5GiB)."
              + " Default: 1g")
  long memory = 1L << 30;

  @Option(
      names = "--host",
      paramLabel = "LABEL",
      description = "The host label locality is decided on. Default: the --bind address")
  String host;

  @Option(
      names = "--data-port",
      paramLabel = "PORT",
      description =
          "The port of the data plane (blocks between processes), on the --bind address; 0: one"
              + " the system picks. Advertised to the other members. Default: 0")
  int dataPort;

  @Option(
      names = "--classpath",
      paramLabel = "JARS",
      split = ",",
      description =
          "Jars (or class directories) of the pipeline's classes, separated by ',' or the path"
              + " separator; checked at start.")
  List<String> classpath = new ArrayList<>();

  @Option(
      names = "--heartbeat-interval",
      paramLabel = "SECONDS",
      description = "Seconds between heartbeats. Default: ${DEFAULT-VALUE}")
  long heartbeatSeconds = ClusterConfig.DEFAULT_HEARTBEAT_INTERVAL.toSeconds();

  @Option(
      names = "--max-no-heartbeat",
      paramLabel = "SECONDS",
      description =
          "Seconds without heartbeat before a member is removed. Default: ${DEFAULT-VALUE}")
  long maxNoHeartbeatSeconds = ClusterConfig.DEFAULT_MAX_NO_HEARTBEAT.toSeconds();

  @Option(
      names = "--join-timeout",
      paramLabel = "SECONDS",
      description =
          "Seconds each join attempt waits for a listed member that does not answer (one that"
              + " refuses is given up at once). Default: ${DEFAULT-VALUE}")
  long joinTimeoutSeconds = ClusterConfig.DEFAULT_JOIN_TIMEOUT.toSeconds();

  @Option(
      names = "--merge-interval",
      paramLabel = "SECONDS",
      description =
          "After a network partition, how often this side looks for the other to merge back into"
              + " one cluster (a worker cut off comes back as a new member). Default:"
              + " ${DEFAULT-VALUE}")
  long mergeSeconds = ClusterConfig.DEFAULT_MERGE_INTERVAL.toSeconds();

  @Option(
      names = "--hand-over-timeout",
      paramLabel = "SECONDS",
      description =
          "On SIGTERM, how long the worker waits for the trainers to take its work over (its splits"
              + " and actors moved to other workers, its blocks consumed) before it leaves; what it"
              + " still holds then is made again elsewhere. 0: leave at once. Default:"
              + " ${DEFAULT-VALUE}")
  long handOverSeconds = 30;

  @Option(
      names = "--exit-with",
      paramLabel = "PID",
      description =
          "Leave the cluster and exit when the process with this pid ends (a worker started by a"
              + " test, a benchmark or a job goes with it, even when it is killed)")
  Long exitWith;

  private final AtomicBoolean leaving = new AtomicBoolean();
  private URLClassLoader userClasses;

  /** Runs the worker; exits the JVM with the exit code unless a signal is already ending it. */
  public static void main(String[] args) {
    // The worker's own output is its one status line: Hazelcast's chatter only from WARN up,
    // unless the person starting it asks for more
    // (-Dorg.slf4j.simpleLogger.log.com.hazelcast=info).
    setDefault("org.slf4j.simpleLogger.log.com.hazelcast", "warn");
    setDefault("org.slf4j.simpleLogger.showDateTime", "true");
    setDefault("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd HH:mm:ss.SSS");
    WorkerMain worker = new WorkerMain();
    int code = new CommandLine(worker).execute(args);
    if (!worker.leaving.get()) {
      System.exit(code);
    }
  }

  private static void setDefault(String property, String value) {
    if (System.getProperty(property) == null) {
      System.setProperty(property, value);
    }
  }

  @Override
  public Integer call() throws InterruptedException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    ClusterConfig config = config();
    userClasses = openClasspath();
    long started = System.nanoTime();
    SluiceWorker worker;
    try {
      worker = SluiceWorker.start(config, userClasses);
    } catch (ClusterException e) {
      err.println("sluice-worker: " + e.getMessage());
      err.flush();
      closeUserClasses();
      return 1;
    }
    SluiceMember member = worker.member();
    Duration took = Duration.ofNanos(System.nanoTime() - started);
    Thread hook =
        new Thread(
            () -> {
              leaving.set(true);
              long t0 = System.nanoTime();
              List<String> open = List.of();
              try {
                if (handOverSeconds > 0 && member.isRunning()) {
                  open = worker.leave(Duration.ofSeconds(handOverSeconds));
                } else {
                  worker.close();
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                worker.close();
              }
              closeUserClasses();
              out.println(
                  "sluice-worker left cluster '"
                      + config.clusterName()
                      + "' ("
                      + member.self().role().attributeValue()
                      + " "
                      + member.self().id()
                      + ")"
                      + (handOverSeconds <= 0
                          ? ""
                          : open.isEmpty()
                              ? String.format(
                                  Locale.ROOT,
                                  ", its work handed over, in %.1f s",
                                  (System.nanoTime() - t0) / 1e9)
                              : " with executions still open after "
                                  + handOverSeconds
                                  + " s: "
                                  + open));
              out.flush();
            },
            "sluice-worker-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    if (exitWith != null) {
      java.util.Optional<ProcessHandle> parent = ProcessHandle.of(exitWith);
      if (parent.isEmpty()) {
        err.println("sluice-worker: process " + exitWith + " (--exit-with) is not running");
        err.flush();
        return 1; // the hook leaves the cluster
      }
      // Exiting runs the hook, which leaves the cluster cleanly.
      parent.get().onExit().thenRun(() -> System.exit(0));
    }
    int size = member.hazelcast().getCluster().getMembers().size();
    out.println(
        "sluice-worker joined cluster '"
            + config.clusterName()
            + "' as "
            + member.self().describe()
            + ", transport "
            + member.self().transport()
            + "; "
            + size
            + (size == 1 ? " member" : " members")
            + String.format(Locale.ROOT, " (started in %.1f s)", took.toMillis() / 1000.0));
    out.flush();
    member.awaitStopped();
    if (leaving.get()) {
      return 0; // the hook is leaving: the JVM is exiting already
    }
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException shuttingDown) {
      return 0;
    }
    worker.close();
    closeUserClasses();
    err.println("sluice-worker: the member stopped by itself (see the log above)");
    err.flush();
    return 1;
  }

  private ClusterConfig config() {
    try {
      ClusterConfig.Builder b =
          ClusterConfig.worker()
              .clusterName(clusterName)
              .members(members)
              .bindAddress(bind)
              .port(port)
              .portCount(portCount)
              .resources(new Resources(cpus, gpus))
              .memoryBudget(memory)
              .transport(dataPort == 0 ? null : bind + ":" + dataPort)
              .heartbeatInterval(Duration.ofSeconds(heartbeatSeconds))
              .maxNoHeartbeat(Duration.ofSeconds(maxNoHeartbeatSeconds))
              .joinTimeout(Duration.ofSeconds(joinTimeoutSeconds))
              .mergeInterval(Duration.ofSeconds(mergeSeconds));
      if (host != null) {
        b.hostLabel(host);
      }
      return b.build();
    } catch (IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), e.getMessage(), e);
    }
  }

  // The user's classes: every entry must exist, a jar must open as one. Kept open for the cluster
  // runtime to load pipeline classes from, closed when the worker leaves.
  private URLClassLoader openClasspath() {
    List<URL> urls = new ArrayList<>();
    for (String item : classpath) {
      for (String entry : item.split(Pattern.quote(File.pathSeparator))) {
        if (entry.isBlank()) {
          continue;
        }
        Path path = Path.of(entry);
        if (!Files.exists(path)) {
          throw new ParameterException(
              spec.commandLine(), "--classpath: no such jar or directory: " + path);
        }
        if (Files.isRegularFile(path)) {
          try (JarFile jar = new JarFile(path.toFile())) {
            jar.size();
          } catch (IOException e) {
            throw new ParameterException(
                spec.commandLine(), "--classpath: not a readable jar: " + path + " (" + e + ")");
          }
        }
        try {
          urls.add(path.toUri().toURL());
        } catch (MalformedURLException e) {
          throw new ParameterException(spec.commandLine(), "--classpath: bad path: " + path);
        }
      }
    }
    return new URLClassLoader(
        "sluice-user-classpath", urls.toArray(URL[]::new), WorkerMain.class.getClassLoader());
  }

  private void closeUserClasses() {
    try {
      if (userClasses != null) {
        userClasses.close();
      }
    } catch (IOException e) {
      // Nothing is loaded from it yet; a jar that fails to close leaks one file handle until exit.
    }
  }

  /**
   * Byte sizes: a number of bytes, or with a binary unit ({@code 512m}, {@code 2g}, {@code
   * 1.5GiB}).
   */
  static final class ByteSize implements CommandLine.ITypeConverter<Long> {
    private static final Pattern FORMAT =
        Pattern.compile(
            "(\\d+(?:\\.\\d+)?)\\s*(?:([kmgt])(?:ib?|b)?|b)?", Pattern.CASE_INSENSITIVE);

    @Override
    public Long convert(String value) {
      Matcher m = FORMAT.matcher(value.strip());
      if (!m.matches()) {
        throw new CommandLine.TypeConversionException(
            "'" + value + "' is not a size (examples: 536870912, 512m, 2g, 1.5GiB)");
      }
      String unit = m.group(2) == null ? "" : m.group(2).toLowerCase(Locale.ROOT);
      int shift = " kmgt".indexOf(unit.isEmpty() ? " " : unit) * 10;
      double bytes = Double.parseDouble(m.group(1)) * Math.pow(2, shift);
      if (bytes < 1 || bytes >= Long.MAX_VALUE) {
        throw new CommandLine.TypeConversionException("'" + value + "' is out of range");
      }
      return (long) bytes;
    }
  }

  /** {@code --version}: the Sluice version. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"sluice-worker " + SluiceVersion.current()};
    }
  }
}
