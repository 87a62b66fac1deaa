package dev.sluice.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ThreadCpuTest {

  @Test
  void groupsThreadsByName() {
    assertThat(ThreadCpu.group("sluice-schedule")).isEqualTo("scheduler");
    assertThat(ThreadCpu.group("hz.sluice-train")).isEqualTo("hazelcast");
    assertThat(ThreadCpu.group("sluice-transpor")).isEqualTo("transport");
    assertThat(ThreadCpu.group("sluice-task-r1-")).isEqualTo("tasks");
    assertThat(ThreadCpu.group("C2 CompilerThre")).isEqualTo("jit");
    assertThat(ThreadCpu.group("GC Thread#0")).isEqualTo("gc");
    assertThat(ThreadCpu.group("java")).isEqualTo("main");
    assertThat(ThreadCpu.group("Signal Dispatch")).isEqualTo("other");
  }

  @Test
  void countsTheCpuOfAThreadThatHasEnded() throws Exception {
    assumeTrue(Files.isDirectory(Path.of("/proc/self/task")), "Linux's /proc");
    ThreadCpu cpu = ThreadCpu.of(List.of(ProcessHandle.current().pid()));
    ThreadCpu before = cpu.copy();
    CountDownLatch burnt = new CountDownLatch(1);
    CountDownLatch read = new CountDownLatch(1);
    Thread busy =
        new Thread(
            () -> {
              // 300 ms of this thread's own CPU time, however busy the machine is.
              var mx = ManagementFactory.getThreadMXBean();
              long end = mx.getCurrentThreadCpuTime() + 300_000_000L;
              long x = 0;
              while (mx.getCurrentThreadCpuTime() < end) {
                x += x * 31 + 7;
              }
              if (x == 42) {
                System.out.println(x);
              }
              burnt.countDown();
              try {
                read.await(); // alive until read, then it ends
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "sluice-task-test");
    busy.start();
    assertThat(burnt.await(60, TimeUnit.SECONDS)).isTrue();
    cpu.refresh();
    read.countDown();
    busy.join();
    cpu.refresh(); // the thread has ended: its last reading stays
    Map<String, Double> nanos = cpu.nanosSince(before);
    assertThat(nanos.keySet()).containsExactlyElementsOf(ThreadCpu.GROUPS);
    assertThat(nanos.get("tasks")).isBetween(250e6, 10e9); // 300 ms burnt, read in 10 ms ticks
  }
}
