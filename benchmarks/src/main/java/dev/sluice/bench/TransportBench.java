package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.bench.TransportEngines.Engine;
import dev.sluice.bench.TransportEngines.Options;
import dev.sluice.loader.memory.PageRoundingPolicy;
import dev.sluice.loader.memory.RecyclingMemory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Scenario {@code transport} (benchmark 1 of the cluster): which engine carries blocks between
 * processes. 4 MiB Arrow blocks (FixedSizeBinary(4096) x 1024 rows) stream from a server JVM to a
 * client JVM on loopback, both started by this benchmark for each engine and run; the client loads
 * each block into Arrow vectors, reads a long of every row, and frees it.
 *
 * <p>Engines ({@link Engine}): a plain NIO socket streaming Arrow IPC (the ceiling), our {@code
 * NettyBlockTransport} (16 fetches outstanding, takes), Arrow Flight {@code DoGet} tuned, and
 * Hazelcast {@code IMap.getAsync} from a lite member (the baseline). Runs interleave the engines
 * (engine A run 1, engine B run 1, ..., engine A run 2, ...), so that a machine that slows down
 * slows every engine alike, and each engine is reported as a ratio to the socket of the same run.
 *
 * <p>Each run warms up first and measures after: the JIT dominates short runs (256 MiB of warm-up
 * halved every figure in the design's measurements). The client prints a line when the measured
 * phase begins, which this process relays to the server, so that both sides' CPU time covers the
 * measured phase only ({@code com.sun.management.OperatingSystemMXBean#getProcessCpuTime}: every
 * thread of the process, GC and JIT included).
 */
@Command(
    name = "transport",
    mixinStandardHelpOptions = true,
    description =
        "GB/s and CPU per GB of 4 MiB Arrow blocks between two JVMs on loopback, per engine.")
final class TransportBench implements Callable<Integer> {
  static final String NAME = "transport";

  /** The target for the chosen engine, per trainer. */
  static final double TARGET_GB_PER_SECOND = 1.5;

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--engines",
      split = ",",
      description = "Engines, in run order. Default: socket,netty,flight,hazelcast")
  List<String> engines = List.of("socket", "netty", "flight", "hazelcast");

  @Option(
      names = "--warmup-mib",
      description = "Warm-up per run. Default: 128 (quick), 4096 (full)")
  Integer warmupMib;

  @Option(
      names = "--measure-mib",
      description = "Measured per run. Default: 128 (quick), 2048 (full)")
  Integer measureMib;

  @Option(names = "--rows", description = "Rows per block. Default: ${DEFAULT-VALUE}")
  int rows = 1024;

  @Option(names = "--row-bytes", description = "Bytes per row. Default: ${DEFAULT-VALUE}")
  int rowBytes = 4096;

  @Option(
      names = "--credits",
      description = "Fetches outstanding (netty, hazelcast). Default: ${DEFAULT-VALUE}")
  int credits = 16;

  @Option(
      names = "--hazelcast-keys",
      description = "Entries the Hazelcast server holds. Default: ${DEFAULT-VALUE}")
  int hazelcastKeys = 16;

  @Option(names = "--child", hidden = true, description = "server or client")
  String child;

  @Option(names = "--engine", hidden = true)
  String engine;

  @Option(names = "--peer", hidden = true)
  String peer;

  @Option(names = "--cluster-name", hidden = true)
  String clusterName = "sluice-bench";

  /**
   * One measured run of one engine.
   *
   * @param engine the engine's label
   * @param run the run's number (from 1)
   * @param detail how the engine was set up
   * @param blocks blocks received in the measured phase
   * @param bytes their payload bytes (rows x row bytes)
   * @param seconds the measured phase's wall time, on the client
   * @param gbPerSecond bytes / 1e9 / seconds
   * @param ratioToSocket gbPerSecond over the socket's of the same run, or null
   * @param receiverCpuSeconds the client process's CPU time in the measured phase
   * @param senderCpuSeconds the server process's CPU time in the measured phase
   * @param receiverCpuSecondsPerGB receiverCpuSeconds per 1e9 bytes
   * @param senderCpuSecondsPerGB senderCpuSeconds per 1e9 bytes
   */
  record Run(
      String engine,
      int run,
      String detail,
      long blocks,
      long bytes,
      double seconds,
      double gbPerSecond,
      Double ratioToSocket,
      double receiverCpuSeconds,
      double senderCpuSeconds,
      double receiverCpuSecondsPerGB,
      double senderCpuSecondsPerGB) {}

  @Override
  public Integer call() throws Exception {
    if (rows < 1 || rowBytes < 8 || rowBytes % 8 != 0 || credits < 1 || hazelcastKeys < 1) {
      throw new IllegalArgumentException(
          "--rows, --credits and --hazelcast-keys must be >= 1, --row-bytes a multiple of 8");
    }
    if (child == null) {
      return runParent();
    }
    return switch (child) {
      case "server" -> runServer();
      case "client" -> runClient();
      default -> throw new IllegalArgumentException("--child must be server or client: " + child);
    };
  }

  private Options options() {
    return new Options(rows, rowBytes, credits, hazelcastKeys, clusterName);
  }

  private long blockBytes() {
    return (long) rows * rowBytes;
  }

  private long warmupBlocks() {
    long mib = warmupMib != null ? warmupMib : common.size == BenchSize.QUICK ? 128 : 4096;
    return Math.max(1, (mib << 20) / blockBytes());
  }

  private long measureBlocks() {
    long mib = measureMib != null ? measureMib : common.size == BenchSize.QUICK ? 128 : 2048;
    return Math.max(1, (mib << 20) / blockBytes());
  }

  private static double cpuSeconds() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime()
        / 1e9;
  }

  // --- the children ---

  /**
   * Serves until told: prints its address, then reads its standard input, where the parent writes
   * "start" when the client's measured phase begins and "stop" when it has ended; answers "stop"
   * with its CPU time in between, and exits. An input that ends (the parent is gone) stops it too.
   */
  private int runServer() throws Exception {
    Engine e = Engine.of(engine);
    try (BufferAllocator alloc = new RootAllocator();
        TransportEngines.Server server = TransportEngines.startServer(e, options(), alloc)) {
      System.out.println(TransportEngines.READY + server.address());
      System.out.flush();
      var in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      double start = Double.NaN;
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        if (line.equals("start")) {
          start = cpuSeconds();
        } else if (line.equals("stop")) {
          if (Double.isNaN(start)) {
            throw new IllegalStateException("told to stop before start");
          }
          ChildJvm.emit(Map.of("cpuSeconds", cpuSeconds() - start));
          break;
        }
      }
    }
    return 0;
  }

  private int runClient() throws Exception {
    Engine e = Engine.of(engine);
    long warm = warmupBlocks();
    long measured = measureBlocks();
    Map<String, Object> result = new LinkedHashMap<>();
    // The receiver allocates as a Sluice trainer's store does: memory of released blocks is
    // reused (recycled) instead of fresh pages that the kernel maps and zeroes on first touch.
    try (RecyclingMemory recycled = RecyclingMemory.withCapacity(256L << 20);
        BufferAllocator alloc =
            new RootAllocator(
                RootAllocator.configBuilder()
                    .allocationManagerFactory(recycled)
                    .roundingPolicy(PageRoundingPolicy.INSTANCE)
                    .build());
        TransportEngines.Session session =
            TransportEngines.openSession(e, peer, warm + measured, options(), alloc)) {
      long w0 = System.nanoTime();
      for (long i = 0; i < warm; i++) {
        session.next();
      }
      System.err.printf(
          Locale.ROOT, "warm-up: %d blocks in %.2f s%n", warm, (System.nanoTime() - w0) / 1e9);
      System.out.println(TransportEngines.MEASURING);
      System.out.flush();
      double cpu0 = cpuSeconds();
      long t0 = System.nanoTime();
      long bytes = 0;
      for (long i = 0; i < measured; i++) {
        bytes += session.next();
      }
      long t1 = System.nanoTime();
      double cpu = cpuSeconds() - cpu0;
      result.put("detail", session.detail());
      result.put("blocks", measured);
      result.put("bytes", bytes);
      result.put("seconds", (t1 - t0) / 1e9);
      result.put("cpuSeconds", cpu);
    }
    ChildJvm.emit(result);
    return 0;
  }

  // --- the parent ---

  private int runParent() throws Exception {
    List<Engine> order = engines.stream().map(Engine::of).toList();
    if (order.isEmpty() || order.stream().distinct().count() != order.size()) {
      throw new IllegalArgumentException("--engines must name each engine once: " + engines);
    }
    System.out.printf(
        Locale.ROOT,
        "%s: blocks of %d x %d B, %d blocks of warm-up and %d measured per run, %d runs of %s%n",
        NAME,
        rows,
        rowBytes,
        warmupBlocks(),
        measureBlocks(),
        common.runs(),
        engines);
    ChildJvm jvm = new ChildJvm(common.childHeap, Duration.ofMinutes(10));
    List<Run> runs = new ArrayList<>();
    for (int r = 1; r <= common.runs(); r++) {
      Double socket = null;
      for (Engine e : order) {
        Run run = measure(jvm, e, r);
        if (e == Engine.SOCKET) {
          socket = run.gbPerSecond();
        }
        runs.add(run);
      }
      // Ratios within the run, once its socket figure is known.
      for (int i = runs.size() - order.size(); i < runs.size(); i++) {
        Run x = runs.get(i);
        Double ratio = socket == null ? null : x.gbPerSecond() / socket;
        runs.set(
            i,
            new Run(
                x.engine(),
                x.run(),
                x.detail(),
                x.blocks(),
                x.bytes(),
                x.seconds(),
                x.gbPerSecond(),
                ratio,
                x.receiverCpuSeconds(),
                x.senderCpuSeconds(),
                x.receiverCpuSecondsPerGB(),
                x.senderCpuSecondsPerGB()));
        System.out.printf(
            Locale.ROOT,
            "  run %d %-9s %5.2f GB/s%s, CPU s/GB receiver %.2f sender %.2f   %s%n",
            r,
            x.engine(),
            x.gbPerSecond(),
            ratio == null ? "" : String.format(Locale.ROOT, " (%.2f of socket)", ratio),
            x.receiverCpuSecondsPerGB(),
            x.senderCpuSecondsPerGB(),
            x.detail());
      }
    }
    writeResults(jvm, order, runs);
    return 0;
  }

  private Run measure(ChildJvm jvm, Engine e, int r) throws Exception {
    Duration timeout = Duration.ofMinutes(10);
    String cluster = "sluice-bench-" + ProcessHandle.current().pid() + "-" + r + "-" + e.label();
    List<String> shared =
        List.of(
            "--engine",
            e.label(),
            "--size",
            common.size.name(),
            "--rows",
            Integer.toString(rows),
            "--row-bytes",
            Integer.toString(rowBytes),
            "--credits",
            Integer.toString(credits),
            "--hazelcast-keys",
            Integer.toString(hazelcastKeys),
            "--warmup-mib",
            Long.toString(warmupBlocks() * blockBytes() >> 20),
            "--measure-mib",
            Long.toString(measureBlocks() * blockBytes() >> 20),
            "--cluster-name",
            cluster);
    Path logs = common.work.resolve("logs");
    String stem =
        String.format(Locale.ROOT, "%s-%s-%s-run%d", NAME, common.size.label(), e.label(), r);
    List<String> serverArgs = new ArrayList<>(List.of(NAME, "--child", "server"));
    serverArgs.addAll(shared);
    try (ChildJvm.Running server = jvm.start(serverArgs, logs.resolve(stem + "-server.log"))) {
      String address = server.await(TransportEngines.READY, Duration.ofMinutes(2));
      List<String> clientArgs =
          new ArrayList<>(List.of(NAME, "--child", "client", "--peer", address));
      clientArgs.addAll(shared);
      try (ChildJvm.Running client = jvm.start(clientArgs, logs.resolve(stem + "-client.log"))) {
        client.await(TransportEngines.MEASURING, timeout);
        server.tell("start");
        JsonNode c = client.result(timeout);
        server.tell("stop");
        JsonNode s = server.result(Duration.ofMinutes(1));
        client.awaitExit(Duration.ofMinutes(1));
        server.awaitExit(Duration.ofMinutes(1));
        long bytes = c.get("bytes").asLong();
        double seconds = c.get("seconds").asDouble();
        double gb = bytes / 1e9;
        double recvCpu = c.get("cpuSeconds").asDouble();
        double sendCpu = s.get("cpuSeconds").asDouble();
        return new Run(
            e.label(),
            r,
            c.get("detail").asText(),
            c.get("blocks").asLong(),
            bytes,
            seconds,
            gb / seconds,
            null,
            recvCpu,
            sendCpu,
            recvCpu / gb,
            sendCpu / gb);
      }
    }
  }

  private void writeResults(ChildJvm jvm, List<Engine> order, List<Run> runs) throws Exception {
    List<String> labels = order.stream().map(Engine::label).toList();
    List<String> others = labels.stream().filter(l -> !l.equals("socket")).toList();
    Map<String, Map<String, Summary>> summaries = new LinkedHashMap<>();
    metric(summaries, runs, labels, "gbPerSecond", Run::gbPerSecond);
    if (labels.contains("socket") && !others.isEmpty()) {
      metric(summaries, runs, others, "ratioToSocket", Run::ratioToSocket);
    }
    metric(summaries, runs, labels, "receiverCpuSecondsPerGB", Run::receiverCpuSecondsPerGB);
    metric(summaries, runs, labels, "senderCpuSecondsPerGB", Run::senderCpuSecondsPerGB);

    Map<String, Object> config = new LinkedHashMap<>();
    config.put("rows", rows);
    config.put("rowBytes", rowBytes);
    config.put("blockPayloadBytes", blockBytes());
    config.put("warmupBlocksPerRun", warmupBlocks());
    config.put("measuredBlocksPerRun", measureBlocks());
    config.put("credits", credits);
    config.put("hazelcastKeys", hazelcastKeys);
    config.put("runsPerEngine", common.runs());
    config.put("engines", labels);
    config.put(
        "method",
        "two child JVMs per engine and run (server, client) on 127.0.0.1; runs interleave the"
            + " engines; the client loads every block into Arrow vectors and reads a long of every"
            + " row; GB/s = payload bytes / 1e9 / measured seconds on the client; CPU = process CPU"
            + " time of each JVM over the measured phase");
    Map<String, Object> target = new LinkedHashMap<>();
    target.put("gbPerSecondPerTrainer", TARGET_GB_PER_SECOND);
    if (labels.contains("netty")) {
      Summary netty = summaries.get("gbPerSecond").get("netty");
      target.put("engine", "netty");
      target.put("medianGbPerSecond", netty.median());
      target.put("met", netty.median() >= TARGET_GB_PER_SECOND);
      if (summaries.containsKey("ratioToSocket")) {
        target.put("medianRatioToSocket", summaries.get("ratioToSocket").get("netty").median());
      }
    }
    Map<String, String> details = new LinkedHashMap<>();
    for (Run r : runs) {
      details.putIfAbsent(r.engine(), r.detail());
    }
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("scenario", NAME);
    result.put("size", common.size.label());
    result.put(
        "machine", MachineInfo.collect(StreamingVsBulk.parseHeap(common.childHeap), jvm.jvmArgs()));
    result.put("config", config);
    result.put("engines", details);
    result.put("target", target);
    result.put("summary", summaries);
    result.put("runs", runs);
    Path json = common.out.resolve(NAME + "-" + common.size.label() + ".json");
    ResultFile.write(json, result);

    List<Charts.Panel> panels = new ArrayList<>();
    panels.add(new Charts.Panel("Throughput", "GB/s", summaries.get("gbPerSecond")));
    if (summaries.containsKey("ratioToSocket")) {
      panels.add(
          new Charts.Panel(
              "Ratio to the socket of the same run", "ratio", summaries.get("ratioToSocket")));
    }
    panels.add(
        new Charts.Panel(
            "Receiver CPU per GB", "CPU seconds", summaries.get("receiverCpuSecondsPerGB")));
    panels.add(
        new Charts.Panel(
            "Sender CPU per GB", "CPU seconds", summaries.get("senderCpuSecondsPerGB")));
    Path png = common.out.resolve(NAME + "-" + common.size.label() + ".png");
    Charts.writeGrid(
        png,
        String.format(
            Locale.ROOT,
            "Transport: %d x %d B blocks, %d MiB measured after %d MiB of warm-up, %d runs (%s)",
            rows,
            rowBytes,
            measureBlocks() * blockBytes() >> 20,
            warmupBlocks() * blockBytes() >> 20,
            common.runs(),
            common.size.label()),
        panels,
        2);

    System.out.println();
    System.out.println(table(labels, summaries));
    System.out.println("Wrote " + json + " and " + png);
  }

  private static void metric(
      Map<String, Map<String, Summary>> out,
      List<Run> runs,
      List<String> engines,
      String name,
      ToDoubleFunction<Run> f) {
    out.put(name, Summary.byGroup(runs, engines, Run::engine, f));
  }

  /** The summary as a Markdown table (a dash where a metric does not apply). */
  static String table(List<String> engines, Map<String, Map<String, Summary>> summaries) {
    StringBuilder sb = new StringBuilder("| engine |");
    StringBuilder rule = new StringBuilder("| --- |");
    for (String metric : summaries.keySet()) {
      sb.append(' ').append(metric).append(" min / median / max |");
      rule.append(" --- |");
    }
    sb.append('\n').append(rule).append('\n');
    for (String e : engines) {
      sb.append("| ").append(e).append(" |");
      for (Map<String, Summary> m : summaries.values()) {
        Summary s = m.get(e);
        sb.append(
            s == null
                ? " - |"
                : String.format(
                    Locale.ROOT, " %.2f / %.2f / %.2f |", s.min(), s.median(), s.max()));
      }
      sb.append('\n');
    }
    return sb.toString();
  }
}
