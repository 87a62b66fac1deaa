package dev.sluice.loader.internal.exec;

import dev.sluice.loader.runtime.Resources;

/**
 * The logical resources of one execution: what the runtime offers and what tasks and actors hold
 * now. The executor never launches what does not fit. Scheduling thread only.
 */
final class ResourceLedger {
  private final Resources total;
  private Resources used = Resources.NONE;

  ResourceLedger(Resources total) {
    this.total = total;
  }

  Resources total() {
    return total;
  }

  Resources used() {
    return used;
  }

  void acquire(Resources r) {
    used = used.plus(r);
  }

  void release(Resources r) {
    used = used.minus(r);
  }

  /** Whether {@code r} fits in what is free now. */
  boolean fits(Resources r) {
    return total.minus(used).fits(r);
  }

  /** Whether nothing is held (every task and actor has given its resources back). */
  boolean idle() {
    return used.cpus() < 1e-9 && used.gpus() < 1e-9;
  }
}
