package dev.sluice.cluster.transport;

import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * A fetch failed: says which block, from which peer, and why ({@link #reason()}), so that a caller
 * can tell a block that is simply not there from a peer that is gone (the fastest hint of a lost
 * node the coordinator gets).
 */
public final class BlockTransportException extends IOException {
  private static final long serialVersionUID = 1L;

  /** Why a fetch failed. */
  public enum Reason {
    /** The peer does not hold the block. The connection stays usable. */
    NOT_FOUND,
    /** The receiving allocator could not hold the block. The connection stays usable. */
    MEMORY,
    /** The peer failed to read or send the block (its source threw). */
    REMOTE,
    /** The connection could not be made, or was lost before the block arrived. */
    CONNECTION,
    /** The peer sent no byte for longer than the response timeout while fetches were waiting. */
    TIMEOUT,
    /** The peer speaks another protocol or version, or sent a frame that makes no sense. */
    PROTOCOL,
    /** This transport was closed before the block arrived. */
    CLOSED
  }

  private final transient InetSocketAddress peer;
  private final long blockId;
  private final Reason reason;

  /**
   * A failed fetch.
   *
   * @param peer the address the block was fetched from
   * @param blockId the block
   * @param reason why it failed
   * @param detail what happened, for the message
   * @param cause the underlying failure, or null
   */
  public BlockTransportException(
      InetSocketAddress peer, long blockId, Reason reason, String detail, Throwable cause) {
    super(
        "fetch of block "
            + blockId
            + " from "
            + describe(peer)
            + " failed ("
            + reason
            + "): "
            + detail,
        cause);
    this.peer = peer;
    this.blockId = blockId;
    this.reason = reason;
  }

  /** The address the block was fetched from. */
  public InetSocketAddress peer() {
    return peer;
  }

  /** The block that was fetched. */
  public long blockId() {
    return blockId;
  }

  /** Why the fetch failed. */
  public Reason reason() {
    return reason;
  }

  /** "host:port" without a reverse lookup. */
  static String describe(InetSocketAddress a) {
    return a == null ? "?" : a.getHostString() + ":" + a.getPort();
  }
}
