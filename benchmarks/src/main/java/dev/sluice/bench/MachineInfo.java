package dev.sluice.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * What a benchmark ran on, recorded with its results.
 *
 * @param cores processors available to the JVM
 * @param cpuModel the first {@code model name} of {@code /proc/cpuinfo}, or "unknown"
 * @param memoryBytes {@code MemTotal} of {@code /proc/meminfo}, or -1
 * @param maxHeapBytes the maximum heap of the measuring (child) JVM
 * @param javaVersion {@code java.version}
 * @param javaVm {@code java.vm.name} and {@code java.vm.version}
 * @param os {@code os.name}, {@code os.version} and {@code os.arch}
 * @param jvmArgs the flags the measuring JVM ran with
 */
public record MachineInfo(
    int cores,
    String cpuModel,
    long memoryBytes,
    long maxHeapBytes,
    String javaVersion,
    String javaVm,
    String os,
    List<String> jvmArgs) {

  /** The machine this JVM runs on, with the given measuring-JVM heap and flags. */
  public static MachineInfo collect(long maxHeapBytes, List<String> jvmArgs) {
    return new MachineInfo(
        Runtime.getRuntime().availableProcessors(),
        procField(Path.of("/proc/cpuinfo"), "model name", "unknown"),
        parseKiB(procField(Path.of("/proc/meminfo"), "MemTotal", "")),
        maxHeapBytes,
        System.getProperty("java.version"),
        System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version"),
        System.getProperty("os.name")
            + " "
            + System.getProperty("os.version")
            + " "
            + System.getProperty("os.arch"),
        List.copyOf(jvmArgs));
  }

  /**
   * This process's peak resident set size ({@code VmHWM} of {@code /proc/self/status}): a
   * process-wide high-water mark, so it describes one measurement only in a JVM that ran nothing
   * else. -1 where {@code /proc} is not available.
   */
  public static long peakRssBytes() {
    return parseKiB(procField(Path.of("/proc/self/status"), "VmHWM", ""));
  }

  /** The value after the colon of the first line of {@code file} starting with {@code key}. */
  static String procField(Path file, String key, String fallback) {
    try {
      for (String line : Files.readAllLines(file)) {
        if (line.startsWith(key)) {
          int colon = line.indexOf(':');
          return colon < 0 ? fallback : line.substring(colon + 1).trim();
        }
      }
    } catch (IOException | RuntimeException e) {
      return fallback;
    }
    return fallback;
  }

  /** "123456 kB" as bytes, or -1. */
  static long parseKiB(String value) {
    String v = value.toLowerCase(Locale.ROOT).replace("kb", "").trim();
    try {
      return Long.parseLong(v) * 1024;
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
