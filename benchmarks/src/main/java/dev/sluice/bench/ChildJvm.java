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
        // A child that started processes of its own (the scaling benchmark's workers) is stopped
        // with them.
        p.descendants().forEach(ProcessHandle::destroyForcibly);
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

  /**
   * Starts {@code SluiceBench <benchArgs>} in a child JVM that runs beside this one and beside
   * other children (a server and its client): its standard output is read line by line as it comes
   * (and copied to {@code log}{@code .stdout}), so that the caller can wait for a line (the
   * server's address, a phase beginning) and write lines to its standard input. Close the result:
   * it stops the child if it still runs.
   *
   * @param log where the child's standard error goes (replaced); its output goes beside it
   */
  Running start(List<String> benchArgs, Path log) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(SluiceBench.class.getName());
    cmd.addAll(benchArgs);
    Files.createDirectories(log.toAbsolutePath().getParent());
    Process p = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
    return new Running(p, String.join(" ", benchArgs), log);
  }

  /**
   * A child started by {@link #start}: lines of its output can be awaited, lines written to its
   * input. Its output is read by a thread of its own ({@code bench-child-output}), which ends when
   * the child closes its output.
   */
  static final class Running implements AutoCloseable {
    private final Process process;
    private final String what;
    private final Path log;
    private final Thread reader;
    private final java.io.Writer input;
    private final List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<Watch> watches = new java.util.concurrent.CopyOnWriteArrayList<>();

    private record Watch(String prefix, java.util.concurrent.CompletableFuture<String> line) {}

    private Running(Process process, String what, Path log) throws IOException {
      this.process = process;
      this.what = what;
      this.log = log;
      this.input =
          new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
      Path out = log.resolveSibling(log.getFileName() + ".stdout");
      java.io.BufferedWriter copy = Files.newBufferedWriter(out, StandardCharsets.UTF_8);
      this.reader =
          new Thread(
              () -> {
                try (copy;
                    var in =
                        new java.io.BufferedReader(
                            new java.io.InputStreamReader(
                                process.getInputStream(), StandardCharsets.UTF_8))) {
                  for (String line = in.readLine(); line != null; line = in.readLine()) {
                    copy.write(line);
                    copy.newLine();
                    copy.flush();
                    lines.add(line);
                    for (Watch w : watches) {
                      if (line.startsWith(w.prefix())) {
                        w.line().complete(line.substring(w.prefix().length()));
                      }
                    }
                  }
                } catch (IOException e) {
                  // the child is gone; waiting callers time out or see it exit
                } finally {
                  for (Watch w : watches) {
                    w.line().completeExceptionally(new IOException(ended()));
                  }
                }
              },
              "bench-child-output");
      reader.setDaemon(true);
      reader.start();
    }

    /**
     * The first line of output that starts with {@code prefix} (without the prefix), from now or
     * already printed, as a future that fails if the child's output ends first.
     */
    java.util.concurrent.CompletableFuture<String> line(String prefix) {
      var f = new java.util.concurrent.CompletableFuture<String>();
      watches.add(new Watch(prefix, f));
      for (String l : lines) {
        if (l.startsWith(prefix)) {
          f.complete(l.substring(prefix.length()));
        }
      }
      if (!reader.isAlive()) {
        f.completeExceptionally(new IOException(ended()));
      }
      return f;
    }

    /** Waits for {@link #line} at most {@code timeout}, failing with a message naming the log. */
    String await(String prefix, Duration timeout) throws IOException, InterruptedException {
      try {
        return line(prefix).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        throw new IOException(
            "benchmark child printed no '"
                + prefix.trim()
                + "' within "
                + timeout
                + ": "
                + where());
      } catch (java.util.concurrent.ExecutionException e) {
        throw new IOException(e.getCause().getMessage(), e.getCause());
      }
    }

    /** The child's result line ({@link ChildJvm#emit}), parsed. */
    JsonNode result(Duration timeout) throws IOException, InterruptedException {
      return JSON.readTree(await(RESULT_PREFIX, timeout));
    }

    /** Writes a line to the child's standard input. */
    void tell(String line) throws IOException {
      input.write(line);
      input.write('\n');
      input.flush();
    }

    /** Waits for the child to exit on its own and checks it exited with 0. */
    void awaitExit(Duration timeout) throws IOException, InterruptedException {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IOException("benchmark child did not exit within " + timeout + ": " + where());
      }
      if (process.exitValue() != 0) {
        throw new IOException(
            "benchmark child exited with " + process.exitValue() + ": " + where());
      }
    }

    private String ended() {
      return "benchmark child ended its output"
          + (process.isAlive() ? "" : " (exit " + process.exitValue() + ")")
          + ": "
          + where();
    }

    private String where() {
      return what + " (log: " + log + ")";
    }

    /** Stops the child if it still runs and waits for its output to end. */
    @Override
    public void close() throws InterruptedException {
      try {
        input.close();
      } catch (IOException e) {
        // the child is gone already
      }
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor();
      }
      reader.join(TimeUnit.SECONDS.toMillis(10));
    }
  }

  /** Prints a child's result line (in the child). */
  static void emit(Object result) throws IOException {
    System.out.println(RESULT_PREFIX + JSON.writeValueAsString(result));
    System.out.flush();
  }
}
