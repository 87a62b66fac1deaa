package dev.sluice.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A child JVM whose output (stdout and stderr together) a thread of the test reads line by line
 * into a queue, echoing it to the test's log. Closing destroys the process (forcibly after a
 * bounded wait) and joins the reader.
 */
final class TestChild implements AutoCloseable {
  final Process process;
  private final BlockingQueue<String> unread = new LinkedBlockingQueue<>();
  private final List<String> read = new ArrayList<>();
  private final Thread reader;
  private final String label;

  TestChild(String label, List<String> command) throws IOException {
    this.label = label;
    System.out.println("starting: " + String.join(" ", command));
    process = new ProcessBuilder(command).redirectErrorStream(true).start();
    process.getOutputStream().close();
    reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                  System.out.println("[" + label + "] " + line);
                  unread.add(line);
                }
              } catch (IOException e) {
                // The stream was closed by destroy(): nothing more to read.
              }
            },
            label + "-output-" + UUID.randomUUID().toString().substring(0, 8));
    reader.setDaemon(true);
    reader.start();
  }

  /** The first line from now on that {@code match} accepts; fails after {@code timeout}. */
  String awaitLine(java.util.function.Predicate<String> match, Duration timeout)
      throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      String line = left > 0 ? unread.poll(left, TimeUnit.NANOSECONDS) : null;
      if (line == null) {
        throw new AssertionError(
            "no such line from "
                + label
                + " within "
                + timeout
                + " (alive: "
                + process.isAlive()
                + "); it printed: "
                + read);
      }
      read.add(line);
      if (match.test(line)) {
        return line;
      }
    }
  }

  /** The lines read so far. */
  List<String> lines() {
    return List.copyOf(read);
  }

  @Override
  public void close() {
    try {
      if (process.isAlive()) {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
      reader.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /**
   * This JVM's java, with the flags Arrow and Hazelcast need, the test's class path, {@code main}.
   */
  static List<String> javaCommand(String heap, Class<?> main) {
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx" + heap));
    // From the build (failsafe passes the root pom's sluice.jvm.flags), else this JVM's own.
    String flags = System.getProperty("sluice.jvm.flags");
    if (flags != null && !flags.isBlank()) {
      command.addAll(Arrays.asList(flags.trim().split("\\s+")));
    } else {
      for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
        if (a.startsWith("--add-")) {
          command.add(a);
        }
      }
    }
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(main.getName());
    return command;
  }
}
