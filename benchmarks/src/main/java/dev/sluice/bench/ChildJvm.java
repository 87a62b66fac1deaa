package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs one measurement in a fresh JVM: this program again, with this JVM's class path and flags
 * (the heap replaced by the benchmark's), so that every measurement starts cold and equal and a
 * process-wide figure such as the peak RSS belongs to that measurement alone.
 *
 * <p>The child prints its result as one line {@value #RESULT_PREFIX}{@code <json>} on standard
 * output; everything else it prints (and its standard error) goes to a log file next to the data. A
 * child that exits non-zero, prints no result or outlives its timeout fails the benchmark, naming
 * its log.
 */
final class ChildJvm {
  /** The prefix of the child's result line. */
  static final String RESULT_PREFIX = "SLUICE-BENCH-RESULT ";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final List<String> jvmArgs;
  private final Duration timeout;

  /**
   * Children with this JVM's flags, {@code -Xmx} set to {@code heap}.
   *
   * @param heap the children's maximum heap, in {@code -Xmx} syntax (such as {@code 1g})
   * @param timeout how long one child may run
   */
  ChildJvm(String heap, Duration timeout) {
    List<String> args = new ArrayList<>();
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      // A debugger agent or the parent's heap size must not be inherited.
      if (!a.startsWith("-Xmx")
          && !a.startsWith("-agentlib")
          && !a.startsWith("-javaagent")
          && !a.startsWith("-XX:MaxHeapSize")) {
        args.add(a);
      }
    }
    args.add("-Xmx" + heap);
    this.jvmArgs = List.copyOf(args);
    this.timeout = timeout;
  }

  /** The flags children run with. */
  List<String> jvmArgs() {
    return jvmArgs;
  }

  /**
   * Runs {@code SluiceBench <benchArgs>} in a child JVM and returns its result.
   *
   * @param log where the child's output goes (replaced)
   * @throws IOException when the child cannot start, fails, times out or prints no result
   */
  JsonNode run(List<String> benchArgs, Path log) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(SluiceBench.class.getName());
    cmd.addAll(benchArgs);
    Files.createDirectories(log.toAbsolutePath().getParent());
    Path out = log.resolveSibling(log.getFileName() + ".stdout");
    Process p =
        new ProcessBuilder(cmd).redirectError(log.toFile()).redirectOutput(out.toFile()).start();
    try {
      p.getOutputStream().close(); // the child reads no input
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IOException(
            "benchmark child did not finish within "
                + timeout
                + ": "
                + String.join(" ", benchArgs)
                + " (log: "
                + log
                + ")");
      }
    } finally {
      if (p.isAlive()) {
        p.destroyForcibly();
        p.waitFor();
      }
    }
    List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
    Files.write(log, lines, StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
    Files.delete(out);
    if (p.exitValue() != 0) {
      throw new IOException(
          "benchmark child exited with "
              + p.exitValue()
              + ": "
              + String.join(" ", benchArgs)
              + " (log: "
              + log
              + ")");
    }
    for (String line : lines) {
      if (line.startsWith(RESULT_PREFIX)) {
        return JSON.readTree(line.substring(RESULT_PREFIX.length()));
      }
    }
    throw new IOException(
        "benchmark child printed no result: "
            + String.join(" ", benchArgs)
            + " (log: "
            + log
            + ")");
  }

  /** Prints a child's result line (in the child). */
  static void emit(Object result) throws IOException {
    System.out.println(RESULT_PREFIX + JSON.writeValueAsString(result));
    System.out.flush();
  }
}
