package dev.sluice.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The CPU time of a process's threads by what they do, from Linux's {@code /proc/<pid>/task/<tid>/
 * stat} (user + system time, in clock ticks of 10 ms): which part of a process's CPU is the
 * scheduler, Hazelcast, the block transport, the tasks, the JIT compiler or the garbage collector.
 * A snapshot remembers every thread it saw; {@link #refresh} keeps the last reading of a thread
 * that has ended since (a thread born and ended between two readings is not seen). Empty where
 * {@code /proc} is not available. Not thread-safe: one owner.
 */
final class ThreadCpu {
  /** The groups, in report order. */
  static final List<String> GROUPS =
      List.of("scheduler", "hazelcast", "transport", "tasks", "main", "jit", "gc", "other");

  private static final double NANOS_PER_TICK = 1e7;

  private final List<Long> pids;
  private final Map<String, Long> ticks = new HashMap<>(); // by "pid/tid"
  private final Map<String, String> groups = new HashMap<>();

  private ThreadCpu(List<Long> pids) {
    this.pids = List.copyOf(pids);
  }

  /** A first reading of the threads of {@code pids}. */
  static ThreadCpu of(List<Long> pids) {
    ThreadCpu t = new ThreadCpu(pids);
    t.refresh();
    return t;
  }

  /** Reads every thread again. */
  void refresh() {
    for (long pid : pids) {
      Path tasks = Path.of("/proc", Long.toString(pid), "task");
      try (DirectoryStream<Path> dir = Files.newDirectoryStream(tasks)) {
        for (Path task : dir) {
          String stat;
          try {
            stat = Files.readString(task.resolve("stat"));
          } catch (IOException e) {
            continue; // ended meanwhile
          }
          int open = stat.indexOf('(');
          int close = stat.lastIndexOf(')');
          if (open < 0 || close < open) {
            continue;
          }
          String[] f = stat.substring(close + 2).split(" ");
          // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the name.
          long t = Long.parseLong(f[11]) + Long.parseLong(f[12]);
          String key = pid + "/" + task.getFileName();
          ticks.put(key, t);
          groups.putIfAbsent(key, group(stat.substring(open + 1, close)));
        }
      } catch (IOException | RuntimeException e) {
        // the process has ended, or no /proc: what was read stays
      }
    }
  }

  /** The group of a thread name as {@code /proc} shows it (its first 15 characters). */
  static String group(String name) {
    if (name.startsWith("sluice-schedule")) {
      return "scheduler";
    }
    if (name.startsWith("hz.")) {
      return "hazelcast";
    }
    if (name.startsWith("sluice-transpor")) {
      return "transport";
    }
    if (name.startsWith("sluice-task") || name.startsWith("sluice-actor")) {
      return "tasks";
    }
    if (name.equals("java") || name.equals("main")) {
      return "main";
    }
    if (name.contains("CompilerThre")) {
      return "jit";
    }
    if (name.startsWith("GC Thread") || name.startsWith("G1 ") || name.equals("VM Thread")) {
      return "gc";
    }
    return "other";
  }

  /** CPU nanoseconds by group since {@code before} (a reading of the same processes). */
  Map<String, Double> nanosSince(ThreadCpu before) {
    Map<String, Double> out = new LinkedHashMap<>();
    GROUPS.forEach(g -> out.put(g, 0.0));
    ticks.forEach(
        (key, t) -> {
          long t0 = before.ticks.getOrDefault(key, 0L);
          out.merge(groups.get(key), (t - t0) * NANOS_PER_TICK, Double::sum);
        });
    return out;
  }

  /** An independent copy of this reading (to diff against a later one). */
  ThreadCpu copy() {
    ThreadCpu c = new ThreadCpu(pids);
    c.ticks.putAll(ticks);
    c.groups.putAll(groups);
    return c;
  }
}
