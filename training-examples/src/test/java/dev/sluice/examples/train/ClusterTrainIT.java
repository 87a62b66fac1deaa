package dev.sluice.examples.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main job in cluster mode, as three processes on loopback: the test starts the trainer's JVM
 * ({@code TrainImageClassifier --workers 2}), which starts two worker JVMs on 127.0.0.2 and
 * 127.0.0.3, joins them as a lite member, trains a small CNN for an epoch on batches decoded by the
 * workers, and stops them. Whatever happens, the test stops the trainer and every process it
 * started.
 */
class ClusterTrainIT {
  @TempDir Path work;

  @Test
  @Timeout(240)
  void trainsThroughTwoWorkerProcesses() throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Xmx1g");
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-") || a.startsWith("-Djavacpp.")) {
        command.add(a);
      }
    }
    command.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            TrainImageClassifier.class.getName(),
            "--workers",
            "2",
            "--work",
            work.toString(),
            "--generate",
            "700",
            "--epochs",
            "1",
            "--batch",
            "32",
            "--size",
            "32"));
    Process trainer = new ProcessBuilder(command).redirectErrorStream(true).start();
    trainer.getOutputStream().close();
    List<String> lines = new ArrayList<>();
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(trainer.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = out.readLine(); line != null; line = out.readLine()) {
        System.out.println("[trainer] " + line);
        lines.add(line);
      }
      assertThat(trainer.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(trainer.exitValue()).as(String.join("\n", lines)).isZero();
    } finally {
      // The workers are the trainer's children: stopped with it, also when the test fails.
      trainer.descendants().forEach(ProcessHandle::destroyForcibly);
      trainer.destroyForcibly();
      trainer.waitFor(30, TimeUnit.SECONDS);
    }
    assertThat(lines).anyMatch(l -> l.matches("Cluster 'sluice-local-[0-9a-f]{8}': 2 workers"));
    assertThat(lines.stream().filter(l -> l.matches("  worker \\S+@worker-[12] .*")).count())
        .isEqualTo(2);
    assertThat(lines.stream().filter(l -> l.startsWith("[worker-")).toList())
        .anyMatch(l -> l.startsWith("[worker-1] sluice-worker joined cluster"))
        .anyMatch(l -> l.startsWith("[worker-2] sluice-worker joined cluster"))
        .anyMatch(l -> l.startsWith("[worker-1] sluice-worker left cluster"))
        .anyMatch(l -> l.startsWith("[worker-2] sluice-worker left cluster"));
    // 600 training images (6 of 7 generated) went through the workers into the model.
    assertThat(lines).anyMatch(l -> l.matches("epoch 1: loss \\d+\\.\\d+, .* 600 images in .*"));
    // After the epoch, the members' figures: the trainer's line with its stall share, then each
    // worker's, every one answered, and the workers' blocks reached the trainer.
    int header =
        lines.indexOf(
            lines.stream().filter(l -> l.startsWith("member ")).findFirst().orElseThrow());
    assertThat(lines.get(header)).contains("cpu%", "local / moved").endsWith("stall");
    List<String> rows = lines.subList(header + 1, header + 4);
    assertThat(rows.get(0)).matches("[0-9a-f]{8}  trainer  .*\\d+\\.\\d%");
    assertThat(rows.subList(1, 3))
        .allMatch(l -> l.matches("[0-9a-f]{8}  worker   worker-[12] .*"), "a worker's line")
        .noneMatch(l -> l.contains("no figures"));
    // The trainer (host 127.0.0.1) shares no host with a worker: all it received was moved.
    assertThat(rows.get(0)).matches(".*  0 B / \\d+\\.\\d MiB +\\d+\\.\\d%");
  }
}
