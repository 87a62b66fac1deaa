package dev.sluice.loader.runtime;

/**
 * Where an execution records the leases of its splits (which node reads a split, under which
 * attempt), outside its scheduler: a cluster keeps them in a replicated map, changed only where the
 * attempt grows, so that a node still reading a split the scheduler has handed to another (under a
 * higher attempt) learns it is fenced off, and so that the job's state outlives its scheduler.
 * Calls never wait for the record: the scheduler's own fencing (it drops what a given-up node made)
 * does not depend on it.
 */
public interface LeaseLedger {
  /** Records nothing. */
  LeaseLedger NONE =
      new LeaseLedger() {
        @Override
        public void leased(String execution, int split, int attempt, String node) {}

        @Override
        public void ended(String execution) {}
      };

  /**
   * Split {@code split} of {@code execution} is now read by {@code node} under {@code attempt}; a
   * record of a higher attempt stays (this one is stale).
   */
  void leased(String execution, int split, int attempt, String node);

  /** The execution is over: its records go. */
  void ended(String execution);
}
