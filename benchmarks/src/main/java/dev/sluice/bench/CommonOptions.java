package dev.sluice.bench;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options every scenario takes. */
final class CommonOptions {
  @Option(names = "--size", description = "quick or full. Default: ${DEFAULT-VALUE}")
  BenchSize size = BenchSize.QUICK;

  @Option(
      names = "--runs",
      description = "Measured runs per case (each in a fresh JVM). Default: ${DEFAULT-VALUE}")
  int runs = 3;

  @Option(
      names = "--out",
      description = "Directory of the JSON and PNG results. Default: ${DEFAULT-VALUE}")
  Path out = Path.of("results");

  @Option(
      names = "--work",
      description = "Directory of generated data and child logs. Default: ${DEFAULT-VALUE}")
  Path work = Path.of("work");

  @Option(
      names = "--child-heap",
      description = "-Xmx of the measuring JVMs. Default: ${DEFAULT-VALUE}")
  String childHeap = "1g";

  int runs() {
    if (runs < 1) {
      throw new IllegalArgumentException("--runs must be >= 1");
    }
    return runs;
  }
}
