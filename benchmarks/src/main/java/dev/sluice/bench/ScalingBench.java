package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.cluster.ClusterConfig;
import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.cluster.exec.LocalWorkers;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Scenario {@code scaling} (benchmark 2 of the cluster): how throughput grows with the number of
 * worker processes, and what the cluster runtime costs per block. A trainer (a child JVM of this
 * one) starts N worker processes on loopback ({@link LocalWorkers}: 127.0.0.2, 127.0.0.3, ...),
 * each offering {@code --slots} CPUs, joins them ({@link ClusterTrainer}) and consumes {@link
 * ScalingPipeline}: a range in small blocks through cheap stages and one that sleeps a fixed time
 * per block, fused by the planner into one task per block. N workers offer N times the slots, so
 * the ideal is N times the throughput of one worker; the efficiency at N is throughput(N) / (N x
 * throughput(1)) of the same run. Runs interleave the worker counts (rotated from run to run), and
 * every (N, run) is a fresh trainer JVM with fresh workers, which first consumes a warm-up
 * execution of the same pipeline (half as many blocks at the full size: the JIT of nine fresh JVMs
 * is still compiling for seconds) and then the measured one.
 *
 * <p>Why a sleep, and why 200 ms of it: this machine has two cores, so real work in eight workers
 * would measure the cores, not the runtime. A sleep holds a task slot without a core, as a decoder
 * holds one while it works, and leaves the cores to what is measured: the scheduler, Hazelcast's
 * calls, the block transport. 200 ms stands for a block of about 360 JPEGs decoded at the 1,800
 * images/s per core measured here (a block of 256 images of 224 x 224 takes about 140 ms), and is
 * long next to what the runtime costs per block. What follows from the two cores: all nine
 * processes share them, so at 8 workers x 4 slots (160 blocks/s ideal) the runtime's CPU per block,
 * trainer and workers together, must stay under about 12 ms (2 cores / 160 blocks/s) or the
 * machine, not the design, caps the throughput. A shorter delay measures the machine: at 50 ms (640
 * blocks/s ideal) the budget is about 3 ms per block, less than the nine JVMs spend (about 4-5 ms,
 * most of it the JIT of fresh JVMs), which capped 8 workers at 0.5-0.6 efficiency in trial runs.
 * {@code machineCpuShare} and the CPU per block by thread group say which it was. Blocks are small
 * (64 rows of three 8-byte columns), so that moving them costs next to nothing: the figures are the
 * runtime's per-block cost, not bandwidth. The number of blocks grows with N ({@code
 * --blocks-per-slot} x slots), so that every N runs about equally long (blocks per slot x delay)
 * and start-up and tail weigh alike.
 *
 * <p>Scheduling cost per block, measured over the measured execution: the trainer process's CPU
 * time per block (every thread), the scheduling thread's own CPU time per block, the CPU time per
 * block of the trainer's and of the workers' threads by group ({@link ThreadCpu}: scheduler,
 * Hazelcast, transport, tasks, consumer, JIT, GC), and the slot time lost per block: (wall x slots
 * - blocks x delay) / blocks, the time each block held (or left idle) a slot beyond its work:
 * dispatch and completion latency, ramp-up and tail. The share of the machine's cores all processes
 * used is recorded beside them, to tell a saturated machine from a slow runtime.
 */
@Command(
    name = "scaling",
    mixinStandardHelpOptions = true,
    description =
        "Blocks/s of cheap stages plus a fixed delay per block over 1, 2, 4, 8 worker processes:"
            + " efficiency against N x one worker, and the runtime's cost per block.")
final class ScalingBench implements Callable<Integer> {
  static final String NAME = "scaling";

  /** The target: efficiency at 8 workers. */
  static final double TARGET_EFFICIENCY = 0.9;

  static final int TARGET_WORKERS = 8;

  @Mixin CommonOptions common = new CommonOptions();

  @Option(
      names = "--workers",
      split = ",",
      description =
          "Worker counts, each run measures every one. Default: 1,2,4 (quick), 1,2,4,8 (full)")
  List<Integer> workers;

  @Option(
      names = "--slots",
      description = "CPUs (task slots) each worker offers. Default: ${DEFAULT-VALUE}")
  int slots = 4;

  @Option(
      names = "--delay-ms",
      description = "The simulated work per block, in ms. Default: ${DEFAULT-VALUE}")
  double delayMs = 200;

  @Option(
      names = "--blocks-per-slot",
      description =
          "Measured blocks per slot (N x slots x this in all). Default: 10 (quick), 100 (full)")
  Integer blocksPerSlot;

  @Option(
      names = "--warmup-blocks-per-slot",
      description = "Blocks per slot of the warm-up execution. Default: 5 (quick), 50 (full)")
  Integer warmupBlocksPerSlot;

  @Option(names = "--block-rows", description = "Rows per block. Default: ${DEFAULT-VALUE}")
  int blockRows = 64;

  @Option(
      names = "--splits-per-slot",
      description =
          "Splits of the range per slot (a split is read by one task at a time). Default: ${DEFAULT-VALUE}")
  int splitsPerSlot = 1;

  @Option(
      names = "--budget-mib",
      description =
          "Memory budget of the trainer's execution and of each worker. Default: ${DEFAULT-VALUE}")
  long budgetMiB = 64;

  @Option(
      names = "--worker-heap",
      description = "-Xmx of each worker process. Default: ${DEFAULT-VALUE}")
  String workerHeap = "256m";

  @Option(
      names = "--idle-seconds",
      description =
          "An idle interval before the measured execution, whose CPU time is the processes'"
              + " background. Default: ${DEFAULT-VALUE}")
  double idleSeconds = 2;

  @Option(names = "--child", hidden = true, description = "Run one measurement in this JVM.")
  boolean child;

  @Option(names = "--n", hidden = true, description = "Workers of a child run.")
  int n;

  /**
   * One measured run at one worker count.
   *
   * @param workers N, the worker processes
   * @param run the run's number (from 1)
   * @param plan the physical plan (what was fused)
   * @param slots task slots in all (N x slots per worker)
   * @param blocks blocks consumed in the measured execution (blocks per slot x slots, plus up to
   *     one per split: a fused read first cuts one row off each split to learn its output size)
   * @param rows rows consumed
   * @param wallSeconds the measured execution, from iterBatches() until the end was seen
   * @param firstBlockSeconds from iterBatches() to the first block (opening the execution on every
   *     worker included)
   * @param idealWallSeconds blocks x delay / slots: the wall time with a free runtime
   * @param blocksPerSecond blocks / wall
   * @param efficiency blocksPerSecond / (N x blocksPerSecond at N = 1 of the same run), or null
   *     when the run has no N = 1
   * @param slotUtilisation idealWallSeconds / wallSeconds
   * @param slotMicrosLostPerBlock (wall x slots - blocks x delay) / blocks, in microseconds
   * @param trainerCpuMicrosPerBlock the trainer process's CPU time over the measured execution per
   *     block
   * @param schedulerCpuMicrosPerBlock the scheduling thread's CPU time per block
   * @param workerCpuMicrosPerBlock the workers' CPU time (all N processes) over the measured
   *     execution per block
   * @param trainerCpuMicrosPerBlockByThread the trainer's CPU time per block by thread group
   *     ({@link ThreadCpu}: scheduler, hazelcast, transport, main (the consumer), jit, gc, ...)
   * @param workerCpuMicrosPerBlockByThread the workers' CPU time per block by thread group
   * @param machineCpuShare (trainer + workers CPU time) / (wall x cores): near 1, the machine was
   *     saturated
   * @param trainerIdleCpuMillisPerSecond the trainer's CPU time per second of an idle interval
   *     before the measured execution (its background)
   * @param workersIdleCpuMillisPerSecond the same for the N workers together
   * @param peakMemoryBytes the trainer's execution allocator peak (within the budget)
   * @param workersStartSeconds how long starting and joining the N workers took
   * @param loadAverage the 1-minute load average when the run began
   * @param workerPids the workers' process ids (all stopped when the run ended)
   */
  record Run(
      int workers,
      int run,
      String plan,
      int slots,
      long blocks,
      long rows,
      double wallSeconds,
      double firstBlockSeconds,
      double idealWallSeconds,
      double blocksPerSecond,
      Double efficiency,
      double slotUtilisation,
      double slotMicrosLostPerBlock,
      double trainerCpuMicrosPerBlock,
      double schedulerCpuMicrosPerBlock,
      double workerCpuMicrosPerBlock,
      Map<String, Double> trainerCpuMicrosPerBlockByThread,
      Map<String, Double> workerCpuMicrosPerBlockByThread,
      double machineCpuShare,
      double trainerIdleCpuMillisPerSecond,
      double workersIdleCpuMillisPerSecond,
      long peakMemoryBytes,
      double workersStartSeconds,
      double loadAverage,
      List<Long> workerPids) {

    Run withRunAndEfficiency(int r, Double e) {
      return new Run(
          workers,
          r,
          plan,
          slots,
          blocks,
          rows,
          wallSeconds,
          firstBlockSeconds,
          idealWallSeconds,
          blocksPerSecond,
          e,
          slotUtilisation,
          slotMicrosLostPerBlock,
          trainerCpuMicrosPerBlock,
          schedulerCpuMicrosPerBlock,
          workerCpuMicrosPerBlock,
          trainerCpuMicrosPerBlockByThread,
          workerCpuMicrosPerBlockByThread,
          machineCpuShare,
          trainerIdleCpuMillisPerSecond,
          workersIdleCpuMillisPerSecond,
          peakMemoryBytes,
          workersStartSeconds,
          loadAverage,
          workerPids);
    }
  }

  @Override
  public Integer call() throws Exception {
    if (slots < 1
        || delayMs < 0
        || blockRows < 1
        || splitsPerSlot < 1
        || budgetMiB < 1
        || blocksPerSlot() < 1
        || warmupBlocksPerSlot() < 0
        || idleSeconds < 0) {
      throw new IllegalArgumentException(
          "--slots, --block-rows, --splits-per-slot, --budget-mib and --blocks-per-slot must be"
              + " >= 1, --delay-ms and --warmup-blocks-per-slot >= 0");
    }
    if (blocksPerSlot() % splitsPerSlot != 0 || warmupBlocksPerSlot() % splitsPerSlot != 0) {
      throw new IllegalArgumentException(
          "--blocks-per-slot and --warmup-blocks-per-slot must be multiples of --splits-per-slot"
              + " (every split a whole number of blocks)");
    }
    return child ? runChild() : runParent();
  }

  private List<Integer> workerCounts() {
    List<Integer> w =
        workers != null
            ? workers
            : common.size == BenchSize.QUICK ? List.of(1, 2, 4) : List.of(1, 2, 4, 8);
    if (w.isEmpty()
        || w.stream().anyMatch(x -> x < 1)
        || w.stream().distinct().count() != w.size()) {
      throw new IllegalArgumentException("--workers must name distinct counts >= 1: " + w);
    }
    if (w.stream().anyMatch(x -> x > 250)) {
      throw new IllegalArgumentException("--workers: at most 250 (one loopback address each)");
    }
    return w;
  }

  private int blocksPerSlot() {
    return blocksPerSlot != null ? blocksPerSlot : common.size == BenchSize.QUICK ? 10 : 100;
  }

  private int warmupBlocksPerSlot() {
    return warmupBlocksPerSlot != null
        ? warmupBlocksPerSlot
        : common.size == BenchSize.QUICK ? 5 : 50;
  }

  private long delayMicros() {
    return Math.round(delayMs * 1000);
  }

  private long budgetBytes() {
    return budgetMiB << 20;
  }

  private static String workersLabel(int n) {
    return n == 1 ? "1 worker" : n + " workers";
  }

  // --- the child: one trainer, N workers

  private int runChild() throws Exception {
    if (n < 1) {
      throw new IllegalArgumentException("a child run needs --n >= 1");
    }
    double load = loadAverage();
    int totalSlots = n * slots;
    String cluster = "sluice-bench-scaling-" + ProcessHandle.current().pid();
    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withMemoryBudget(budgetBytes())
            .withTargetBlockRows(blockRows)
            .withProgress(ExecutionOptions.Progress.OFF);
    Run run;
    List<Long> pids;
    long w0 = System.nanoTime();
    try (LocalWorkers local =
        LocalWorkers.start(n, cluster, slots, budgetBytes(), workerHeap, Duration.ofSeconds(120))) {
      pids = local.pids();
      double workersStart = (System.nanoTime() - w0) / 1e9;
      ClusterConfig config =
          ClusterConfig.trainer()
              .clusterName(cluster)
              .members(local.addresses())
              .bindAddress("127.0.0.1")
              .port(0)
              .build();
      try (ClusterTrainer trainer = ClusterTrainer.start(config);
          Sluice sluice = Sluice.builder().runtime(trainer.runtime()).options(options).build()) {
        trainer.awaitWorkers(n, Duration.ofSeconds(60));
        if (warmupBlocksPerSlot() > 0) {
          Measured warm = consume(sluice, (long) totalSlots * warmupBlocksPerSlot(), pids);
          System.err.printf(
              Locale.ROOT, "warm-up: %d blocks in %.2f s%n", warm.blocks(), warm.wallNanos() / 1e9);
        }
        // The processes' background (heartbeats, metrics, the JIT finishing): CPU time over an
        // interval with nothing to do. A measurement interval, not a wait for anything.
        long idleTrainer0 = processCpuNanos();
        long idleWorkers0 = cpuNanosOf(pids);
        long idle0 = System.nanoTime();
        Thread.sleep(Math.round(idleSeconds * 1000));
        double idleWall = (System.nanoTime() - idle0) / 1e9;
        double trainerIdle = (processCpuNanos() - idleTrainer0) / 1e6 / idleWall;
        double workersIdle = (cpuNanosOf(pids) - idleWorkers0) / 1e6 / idleWall;
        long sourceBlocks = (long) totalSlots * blocksPerSlot();
        Measured m = consume(sluice, sourceBlocks, pids);
        System.err.println(m.stats().format());
        long splits = (long) totalSlots * splitsPerSlot;
        // A fused read cuts the first block of each split into one row (to learn its output size)
        // and the rest: up to one block more per split.
        if (m.rows() != sourceBlocks * blockRows
            || m.blocks() < sourceBlocks
            || m.blocks() > sourceBlocks + splits) {
          throw new IllegalStateException(
              "consumed "
                  + m.blocks()
                  + " blocks of "
                  + m.rows()
                  + " rows, expected "
                  + sourceBlocks
                  + " to "
                  + (sourceBlocks + splits)
                  + " of "
                  + sourceBlocks * blockRows);
        }
        if (m.stats().peakMemory() > budgetBytes()) {
          throw new IllegalStateException(
              "the execution's peak " + m.stats().peakMemory() + " B exceeds the budget");
        }
        // Every block, the one-row ones too, sleeps the delay.
        long blocks = m.blocks();
        double wall = m.wallNanos() / 1e9;
        double ideal = blocks * delayMicros() / 1e6 / totalSlots;
        double perBlock = 1e6 / blocks;
        run =
            new Run(
                n,
                0,
                m.stats().plan(),
                totalSlots,
                m.blocks(),
                m.rows(),
                wall,
                m.firstBlockNanos() / 1e9,
                ideal,
                blocks / wall,
                null,
                ideal / wall,
                (wall * totalSlots - blocks * delayMicros() / 1e6) * perBlock,
                m.trainerCpuNanos() / 1e9 * perBlock,
                m.schedulerCpuNanos() / 1e9 * perBlock,
                m.workerCpuNanos() / 1e9 * perBlock,
                perBlock(m.trainerCpuNanosByThread(), m.trainerCpuNanos(), perBlock),
                perBlock(m.workerCpuNanosByThread(), m.workerCpuNanos(), perBlock),
                (m.trainerCpuNanos() + m.workerCpuNanos())
                    / (m.wallNanos() * (double) Runtime.getRuntime().availableProcessors()),
                trainerIdle,
                workersIdle,
                m.stats().peakMemory(),
                workersStart,
                load,
                pids);
      }
    }
    // LocalWorkers.close() waited for each to exit: none may be left.
    for (long pid : pids) {
      if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
        throw new IllegalStateException("worker process " + pid + " still runs after close");
      }
    }
    ChildJvm.emit(run);
    return 0;
  }

  /** What one consumed execution measured. */
  private record Measured(
      long blocks,
      long rows,
      long wallNanos,
      long firstBlockNanos,
      long trainerCpuNanos,
      long schedulerCpuNanos,
      long workerCpuNanos,
      Map<String, Double> trainerCpuNanosByThread,
      Map<String, Double> workerCpuNanosByThread,
      DatasetStats stats) {}

  /**
   * Consumes one execution of {@code blocks} blocks as a trainer does (every block fetched from the
   * worker that made it), measuring wall time and CPU time of this process, of its scheduling
   * thread and of the workers.
   */
  private Measured consume(Sluice sluice, long blocks, List<Long> pids) {
    int splits = n * slots * splitsPerSlot;
    Dataset ds =
        sluice.pipeline(
            ScalingPipeline.class,
            ScalingPipeline.parameters(blocks * blockRows, splits, delayMicros()));
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    ThreadCpu trainerThreads = ThreadCpu.of(List.of(ProcessHandle.current().pid()));
    ThreadCpu trainerThreads0 = trainerThreads.copy();
    ThreadCpu workerThreads = ThreadCpu.of(pids);
    ThreadCpu workerThreads0 = workerThreads.copy();
    long workerCpu0 = cpuNanosOf(pids);
    long cpu0 = processCpuNanos();
    long t0 = System.nanoTime();
    long first = -1;
    long count = 0;
    long rows = 0;
    long schedulerThread = -1;
    long schedulerCpu = 0;
    DatasetStats stats;
    try (BatchIterator it = ds.iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          rows += b.rowCount();
        }
        count++;
        if (first < 0) {
          first = System.nanoTime() - t0;
          schedulerThread = schedulerThreadId();
        }
        // The thread ends with the execution (its CPU time then reads -1): keep the last reading.
        long c = schedulerThread < 0 ? -1 : threads.getThreadCpuTime(schedulerThread);
        if (c >= 0) {
          schedulerCpu = c;
        }
        if (count % 256 == 1) {
          trainerThreads.refresh(); // the execution's own threads, before they end
        }
      }
      stats = it.stats();
    }
    long wall = System.nanoTime() - t0;
    long cpu = processCpuNanos() - cpu0;
    long workerCpu = cpuNanosOf(pids) - workerCpu0;
    trainerThreads.refresh();
    workerThreads.refresh();
    return new Measured(
        count,
        rows,
        wall,
        first,
        cpu,
        schedulerCpu,
        workerCpu,
        trainerThreads.nanosSince(trainerThreads0),
        workerThreads.nanosSince(workerThreads0),
        stats);
  }

  /** The id of the (one live) execution's scheduling thread, or -1. */
  private static long schedulerThreadId() {
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("sluice-scheduler-") && t.isAlive()) {
        return t.getId();
      }
    }
    return -1;
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** The CPU time of these processes (each ticks by 10 ms), summed. */
  private static long cpuNanosOf(List<Long> pids) {
    long sum = 0;
    for (long pid : pids) {
      sum +=
          ProcessHandle.of(pid)
              .flatMap(h -> h.info().totalCpuDuration())
              .map(Duration::toNanos)
              .orElseThrow(
                  () -> new IllegalStateException("no CPU time for worker process " + pid));
    }
    return sum;
  }

  /**
   * Nanoseconds by group as microseconds per block ({@code perBlock} = 1e6 / blocks), with what the
   * groups miss of the processes' total as {@code unattributed}.
   */
  private static Map<String, Double> perBlock(
      Map<String, Double> nanos, long totalNanos, double perBlock) {
    Map<String, Double> out = new LinkedHashMap<>();
    double sum = 0;
    for (Map.Entry<String, Double> e : nanos.entrySet()) {
      out.put(e.getKey(), e.getValue() / 1e9 * perBlock);
      sum += e.getValue();
    }
    out.put("unattributed", (totalNanos - sum) / 1e9 * perBlock);
    return out;
  }

  private static double loadAverage() {
    try {
      return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    } catch (java.io.IOException | RuntimeException e) {
      return -1;
    }
  }

  // --- the parent

  private int runParent() throws Exception {
    List<Integer> counts = workerCounts();
    System.out.printf(
        Locale.ROOT,
        "%s: workers %s x %d slots, %.1f ms per block of %d rows, %d blocks per slot measured"
            + " (%d warm-up), %d runs%n",
        NAME,
        counts,
        slots,
        delayMs,
        blockRows,
        blocksPerSlot(),
        warmupBlocksPerSlot(),
        common.runs());
    ChildJvm jvm = new ChildJvm(common.childHeap, Duration.ofMinutes(10));
    ObjectMapper json = new ObjectMapper();
    List<Run> runs = new ArrayList<>();
    for (int r = 1; r <= common.runs(); r++) {
      Map<Integer, Run> byCount = new LinkedHashMap<>();
      for (int i = 0; i < counts.size(); i++) {
        // Rotate the order from run to run.
        int count = counts.get((i + r - 1) % counts.size());
        List<String> args =
            List.of(
                NAME,
                "--child",
                "--n",
                Integer.toString(count),
                "--size",
                common.size.name(),
                "--slots",
                Integer.toString(slots),
                "--delay-ms",
                Double.toString(delayMs),
                "--blocks-per-slot",
                Integer.toString(blocksPerSlot()),
                "--warmup-blocks-per-slot",
                Integer.toString(warmupBlocksPerSlot()),
                "--block-rows",
                Integer.toString(blockRows),
                "--splits-per-slot",
                Integer.toString(splitsPerSlot),
                "--budget-mib",
                Long.toString(budgetMiB),
                "--worker-heap",
                workerHeap,
                "--idle-seconds",
                Double.toString(idleSeconds));
        Path log =
            common
                .work
                .resolve("logs")
                .resolve(
                    String.format(
                        Locale.ROOT, "%s-%s-n%d-run%d.log", NAME, common.size.label(), count, r));
        JsonNode node = jvm.run(args, log);
        Run run = json.treeToValue(node, Run.class);
        byCount.put(count, run);
      }
      Run one = byCount.get(1);
      for (int count : counts) {
        Run x = byCount.get(count);
        Double eff = one == null ? null : x.blocksPerSecond() / (count * one.blocksPerSecond());
        Run done = x.withRunAndEfficiency(r, eff);
        runs.add(done);
        System.out.printf(
            Locale.ROOT,
            "  run %d %2d workers: %7.1f blocks/s (ideal %7.1f)%s, slot time lost %6.0f us/block,"
                + " trainer CPU %5.0f us/block (scheduler %4.0f, jit %4.0f), workers CPU %5.0f"
                + " us/block (jit %4.0f), machine CPU %.0f%%%n",
            r,
            count,
            done.blocksPerSecond(),
            done.blocks() / done.idealWallSeconds(),
            eff == null ? "" : String.format(Locale.ROOT, ", efficiency %.3f", eff),
            done.slotMicrosLostPerBlock(),
            done.trainerCpuMicrosPerBlock(),
            done.schedulerCpuMicrosPerBlock(),
            done.trainerCpuMicrosPerBlockByThread().get("jit"),
            done.workerCpuMicrosPerBlock(),
            done.workerCpuMicrosPerBlockByThread().get("jit"),
            100 * done.machineCpuShare());
      }
    }
    writeResults(jvm, counts, runs);
    return 0;
  }

  private void writeResults(ChildJvm jvm, List<Integer> counts, List<Run> runs) throws Exception {
    List<String> labels = counts.stream().map(ScalingBench::workersLabel).toList();
    Map<String, Map<String, Summary>> summaries = new LinkedHashMap<>();
    metric(summaries, runs, labels, "blocksPerSecond", Run::blocksPerSecond);
    boolean efficiencies = counts.contains(1);
    if (efficiencies) {
      metric(summaries, runs, labels, "efficiency", Run::efficiency);
    }
    metric(summaries, runs, labels, "slotUtilisation", Run::slotUtilisation);
    metric(summaries, runs, labels, "slotMicrosLostPerBlock", Run::slotMicrosLostPerBlock);
    metric(summaries, runs, labels, "trainerCpuMicrosPerBlock", Run::trainerCpuMicrosPerBlock);
    metric(summaries, runs, labels, "schedulerCpuMicrosPerBlock", Run::schedulerCpuMicrosPerBlock);
    metric(summaries, runs, labels, "workerCpuMicrosPerBlock", Run::workerCpuMicrosPerBlock);
    metric(
        summaries,
        runs,
        labels,
        "trainerCpuMicrosPerBlockWithoutJit",
        r -> r.trainerCpuMicrosPerBlock() - r.trainerCpuMicrosPerBlockByThread().get("jit"));
    metric(
        summaries,
        runs,
        labels,
        "workerCpuMicrosPerBlockWithoutJit",
        r -> r.workerCpuMicrosPerBlock() - r.workerCpuMicrosPerBlockByThread().get("jit"));
    metric(
        summaries,
        runs,
        labels,
        "workerIdleCpuMicrosPerBlock",
        r -> r.workersIdleCpuMillisPerSecond() * 1e3 * r.wallSeconds() / r.blocks());
    metric(summaries, runs, labels, "machineCpuShare", Run::machineCpuShare);
    metric(summaries, runs, labels, "wallSeconds", Run::wallSeconds);

    Map<String, Object> config = new LinkedHashMap<>();
    config.put("workers", counts);
    config.put("slotsPerWorker", slots);
    config.put("delayMsPerBlock", delayMs);
    config.put("blockRows", blockRows);
    config.put("blocksPerSlot", blocksPerSlot());
    config.put("warmupBlocksPerSlot", warmupBlocksPerSlot());
    config.put("splitsPerSlot", splitsPerSlot);
    config.put("memoryBudgetBytes", budgetBytes());
    config.put("workerHeap", workerHeap);
    config.put("runsPerWorkerCount", common.runs());
    config.put(
        "method",
        "per run and worker count N (N rotated from run to run): a fresh trainer JVM starts N"
            + " worker JVMs (LocalWorkers, 127.0.0.2...) of slotsPerWorker CPUs each, joins them as"
            + " a lite member, consumes a warm-up execution of ScalingPipeline, then a measured one"
            + " of N x slotsPerWorker x blocksPerSlot blocks, each block fetched from its worker;"
            + " then stops every worker");
    Map<String, String> definitions = new LinkedHashMap<>();
    definitions.put("blocksPerSecond", "blocks / wallSeconds of the measured execution");
    definitions.put("efficiency", "blocksPerSecond(N) / (N x blocksPerSecond(1)) of the same run");
    definitions.put(
        "slotUtilisation", "idealWallSeconds / wallSeconds; idealWall = blocks x delay / slots");
    definitions.put(
        "slotMicrosLostPerBlock",
        "(wallSeconds x slots - blocks x delay) / blocks, in microseconds: the slot time each block"
            + " took beyond its work (dispatch and completion latency, ramp-up, tail)");
    definitions.put(
        "trainerCpuMicrosPerBlock",
        "the trainer process's CPU time over the measured execution (every thread) / blocks");
    definitions.put("schedulerCpuMicrosPerBlock", "the scheduling thread's CPU time / blocks");
    definitions.put(
        "workerCpuMicrosPerBlock",
        "the N worker processes' CPU time over the measured execution / blocks (the sleep uses"
            + " none)");
    definitions.put(
        "trainerCpuMicrosPerBlockByThread",
        "the trainer's CPU time per block by thread group, from /proc/<pid>/task/*/stat (10 ms"
            + " ticks): scheduler (sluice-scheduler), hazelcast (hz.*), transport (block fetches),"
            + " main (the consumer), jit (compiler threads), gc, other; unattributed: the process"
            + " total less the groups (threads that began and ended between two readings, ticks)");
    definitions.put(
        "workerCpuMicrosPerBlockByThread",
        "the same for the N workers together; tasks = the sluice-task threads running the"
            + " pipeline's functions");
    definitions.put(
        "trainerCpuMicrosPerBlockWithoutJit",
        "trainerCpuMicrosPerBlock less its jit group: the steady-state cost once compiled");
    definitions.put(
        "workerCpuMicrosPerBlockWithoutJit", "workerCpuMicrosPerBlock less its jit group");
    definitions.put(
        "workerIdleCpuMicrosPerBlock",
        "workersIdleCpuMillisPerSecond (the N workers' CPU time per second of an idle interval"
            + " before the measured execution) x wallSeconds / blocks: the part of"
            + " workerCpuMicrosPerBlock the workers would have spent with nothing to do");
    definitions.put(
        "machineCpuShare",
        "(trainer + workers CPU time) / (wallSeconds x cores): near 1, the machine was the limit");
    Map<String, Object> target = new LinkedHashMap<>();
    target.put("efficiency", TARGET_EFFICIENCY);
    target.put("atWorkers", TARGET_WORKERS);
    if (efficiencies && counts.contains(TARGET_WORKERS)) {
      double median = summaries.get("efficiency").get(workersLabel(TARGET_WORKERS)).median();
      target.put("medianEfficiency", median);
      target.put("met", median >= TARGET_EFFICIENCY);
    } else {
      target.put("met", null);
      target.put("note", "not measured at " + TARGET_WORKERS + " workers (or without 1)");
    }
    Map<String, String> plans = new LinkedHashMap<>();
    for (Run r : runs) {
      plans.putIfAbsent(workersLabel(r.workers()), r.plan());
    }
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("scenario", NAME);
    result.put("size", common.size.label());
    result.put(
        "machine", MachineInfo.collect(StreamingVsBulk.parseHeap(common.childHeap), jvm.jvmArgs()));
    result.put("config", config);
    result.put("definitions", definitions);
    result.put("plans", plans);
    result.put("target", target);
    result.put("command", rerunCommand(counts));
    result.put("summary", summaries);
    result.put("runs", runs);
    Path jsonFile = common.out.resolve(NAME + "-" + common.size.label() + ".json");
    ResultFile.write(jsonFile, result);

    List<Charts.Panel> panels = new ArrayList<>();
    panels.add(new Charts.Panel("Throughput", "blocks/s", summaries.get("blocksPerSecond")));
    if (efficiencies) {
      panels.add(
          new Charts.Panel(
              "Efficiency: throughput / (N x one worker)", "ratio", summaries.get("efficiency")));
    }
    panels.add(
        new Charts.Panel(
            "Slot time lost per block", "microseconds", summaries.get("slotMicrosLostPerBlock")));
    panels.add(
        new Charts.Panel(
            "Trainer CPU per block", "microseconds", summaries.get("trainerCpuMicrosPerBlock")));
    Path png = common.out.resolve(NAME + "-" + common.size.label() + ".png");
    Charts.writeGrid(
        png,
        String.format(
            Locale.ROOT,
            "Scaling: %d slots per worker, %.0f ms per block, %d blocks per slot, %d runs (%s)",
            slots,
            delayMs,
            blocksPerSlot(),
            common.runs(),
            common.size.label()),
        panels,
        2);

    System.out.println();
    System.out.println(table(labels, summaries));
    System.out.println("Wrote " + jsonFile + " and " + png);
  }

  /** The command that re-runs this set (with the options that differ from the defaults). */
  private String rerunCommand(List<Integer> counts) {
    StringBuilder args = new StringBuilder(NAME);
    args.append(" --size ").append(common.size.label()).append(" --runs ").append(common.runs());
    if (workers != null) {
      args.append(" --workers ")
          .append(String.join(",", counts.stream().map(String::valueOf).toList()));
    }
    args.append(" --slots ").append(slots).append(" --delay-ms ").append(delayMs);
    if (blocksPerSlot != null) {
      args.append(" --blocks-per-slot ").append(blocksPerSlot);
    }
    if (warmupBlocksPerSlot != null) {
      args.append(" --warmup-blocks-per-slot ").append(warmupBlocksPerSlot);
    }
    return "./mvnw -B -q -pl benchmarks exec:exec -Dbench.args=\"" + args + "\"";
  }

  private static void metric(
      Map<String, Map<String, Summary>> out,
      List<Run> runs,
      List<String> labels,
      String name,
      ToDoubleFunction<Run> f) {
    out.put(name, Summary.byGroup(runs, labels, r -> workersLabel(r.workers()), f));
  }

  /** The summary as a Markdown table. */
  static String table(List<String> labels, Map<String, Map<String, Summary>> summaries) {
    StringBuilder sb = new StringBuilder("| workers |");
    StringBuilder rule = new StringBuilder("| --- |");
    for (String metric : summaries.keySet()) {
      sb.append(' ').append(metric).append(" min / median / max |");
      rule.append(" --- |");
    }
    sb.append('\n').append(rule).append('\n');
    for (String l : labels) {
      sb.append("| ").append(l).append(" |");
      for (Map<String, Summary> m : summaries.values()) {
        Summary s = m.get(l);
        sb.append(
            String.format(Locale.ROOT, " %,.3f / %,.3f / %,.3f |", s.min(), s.median(), s.max()));
      }
      sb.append('\n');
    }
    return sb.toString();
  }
}
