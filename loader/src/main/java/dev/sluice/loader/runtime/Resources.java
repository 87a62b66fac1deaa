package dev.sluice.loader.runtime;

/**
 * An amount of logical resources: CPUs and GPUs (fractions allowed, as in Ray). Immutable.
 *
 * @param cpus logical CPUs
 * @param gpus logical GPUs
 */
public record Resources(double cpus, double gpus) {
  /** Nothing. */
  public static final Resources NONE = new Resources(0, 0);

  public Resources {
    if (cpus < 0 || gpus < 0 || Double.isNaN(cpus) || Double.isNaN(gpus)) {
      throw new IllegalArgumentException(
          "resources must be >= 0: " + cpus + " CPU, " + gpus + " GPU");
    }
  }

  /** The given CPUs and no GPU. */
  public static Resources cpus(double cpus) {
    return new Resources(cpus, 0);
  }

  /** The sum. */
  public Resources plus(Resources o) {
    return new Resources(cpus + o.cpus, gpus + o.gpus);
  }

  /** The difference, never below zero (guards float drift). */
  public Resources minus(Resources o) {
    return new Resources(Math.max(0, cpus - o.cpus), Math.max(0, gpus - o.gpus));
  }

  /** Whether {@code o} fits within this amount (with a small tolerance for float drift). */
  public boolean fits(Resources o) {
    return o.cpus <= cpus + 1e-9 && o.gpus <= gpus + 1e-9;
  }

  @Override
  public String toString() {
    return String.format("%.1f CPU, %.1f GPU", cpus, gpus);
  }
}
