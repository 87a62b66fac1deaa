package dev.sluice.sharding;

/**
 * The answer of a {@link SplitEnumerator} to a consumer asking for work: a {@link SplitLease},
 * "wait" ({@link Wait}) or "no more splits this epoch" ({@link NoMoreSplits}).
 */
public sealed interface SplitResponse
    permits SplitLease, SplitResponse.Wait, SplitResponse.NoMoreSplits {

  /**
   * No split is free now, but leases are still out and may come back if their consumer fails. The
   * enumerator remembers the request and answers it through {@link SplitEnumerator#serveWaiting()};
   * the consumer does not ask again.
   */
  record Wait() implements SplitResponse {}

  /** Every split of the epoch is completed: the consumer is done with this epoch. */
  record NoMoreSplits() implements SplitResponse {}
}
