package dev.sluice.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The benchmark command line: one sub-command per scenario, each with {@code --size quick|full} and
 * {@code --runs N}, writing {@code <scenario>-<size>.json} and {@code <scenario>-<size>.png} under
 * {@code --out} (default {@code results}, relative to the working directory: {@code benchmarks/}
 * when run through Maven). Every measurement runs in a fresh child JVM started from this one (same
 * class path and flags), so that runs start equal and per-process figures such as the peak RSS
 * belong to one measurement.
 *
 * <pre>
 * ./mvnw -B -q -pl benchmarks exec:exec -Dbench.args="streaming-vs-bulk --size quick"
 * ./mvnw -B -q -pl benchmarks exec:exec -Dbench.args="executor-overhead --size quick --runs 5"
 * ./mvnw -B -q -pl benchmarks exec:exec -Dbench.args="transport --size full --runs 5"
 * ./mvnw -B -q -pl benchmarks exec:exec -Dbench.args="scaling --size full --runs 5"
 * ./mvnw -B -q -pl benchmarks exec:exec -Dbench.args="video --size full"
 * </pre>
 *
 * <p>Exit codes: 0 on success, 1 when a run failed, 2 for bad arguments.
 */
@Command(
    name = "sluice-bench",
    mixinStandardHelpOptions = true,
    description = "Sluice benchmarks; results go to <out>/<scenario>-<size>.json and .png.",
    subcommands = {
      StreamingVsBulk.class,
      ExecutorOverhead.class,
      SplitBench.class,
      ConversionJmh.class,
      LoaderVsDataVec.class,
      TransportBench.class,
      ScalingBench.class,
      LocalityBench.class,
      FailoverBench.class,
      VideoBench.class
    })
public final class SluiceBench implements Runnable {

  /** Runs the command line; see {@code --help}. */
  public static void main(String[] args) {
    System.exit(execute(args));
  }

  /**
   * Runs the command line {@code args} and returns its exit code; the result files it writes record
   * the arguments (see {@link ResultFile}).
   */
  static int execute(String... args) {
    ResultFile.arguments(args);
    CommandLine cli = new CommandLine(new SluiceBench()).setCaseInsensitiveEnumValuesAllowed(true);
    return cli.execute(args);
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(new CommandLine(this), "name a scenario (see --help)");
  }
}
