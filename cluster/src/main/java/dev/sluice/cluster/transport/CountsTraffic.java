package dev.sluice.cluster.transport;

/**
 * A {@link BlockTransport} that counts the blocks and bytes it moves, per peer. Optional: a
 * transport that does not count has nothing to report, and stats then say so.
 */
public interface CountsTraffic {

  /**
   * What the transport has sent and received since it started: a snapshot, consistent per counter
   * (a transfer completing meanwhile may show in one direction's figures and not yet in another's).
   * Cheap enough to call once a second; thread-safe.
   */
  TransportTraffic traffic();
}
