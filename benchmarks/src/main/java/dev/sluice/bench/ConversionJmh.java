package dev.sluice.bench;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Scenario {@code conversion-jmh}: runs {@link ConversionBench} with JMH (forked JVMs with this
 * JVM's flags) and writes JMH's JSON to {@code <out>/conversion-jmh.json}.
 */
@Command(
    name = "conversion-jmh",
    mixinStandardHelpOptions = true,
    description =
        "JMH: Arrow batch to INDArray conversion cost per path (32 x 224 x 224 x 3 images).")
final class ConversionJmh implements Callable<Integer> {

  @Option(names = "--out", description = "Results directory. Default: ${DEFAULT-VALUE}")
  Path out = Path.of("results");

  @Option(names = "--forks", description = "JMH forks. Default: ${DEFAULT-VALUE}")
  int forks = 2;

  @Option(
      names = "--iterations",
      description = "Measured iterations per fork. Default: ${DEFAULT-VALUE}")
  int iterations = 5;

  @Override
  public Integer call() throws Exception {
    Files.createDirectories(out);
    List<String> flags =
        ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
            .filter(a -> a.startsWith("--add") || a.startsWith("-Xmx") || a.startsWith("-Djavacpp"))
            .toList();
    Options options =
        new OptionsBuilder()
            .include(ConversionBench.class.getSimpleName())
            .forks(forks)
            .warmupIterations(3)
            .warmupTime(TimeValue.seconds(1))
            .measurementIterations(iterations)
            .measurementTime(TimeValue.seconds(1))
            .jvmArgsAppend(flags.toArray(String[]::new))
            .resultFormat(ResultFormatType.JSON)
            .result(out.resolve("conversion-jmh.json").toString())
            .build();
    new Runner(options).run();
    return 0;
  }
}
