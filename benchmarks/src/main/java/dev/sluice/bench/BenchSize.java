package dev.sluice.bench;

/**
 * How big a benchmark run is: {@code quick} for a check in a minute or two, {@code full} for the
 * record.
 */
public enum BenchSize {
  /** Small enough for a laptop or CI in a minute or two. */
  QUICK,
  /** The size the published figures use. */
  FULL;

  /** The lower-case name used in file names and on the command line. */
  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
