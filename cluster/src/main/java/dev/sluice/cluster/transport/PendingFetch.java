package dev.sluice.cluster.transport;

import dev.sluice.loader.Batch;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A fetch sent and not yet answered: what the response is matched to (by request id), and where its
 * block goes.
 *
 * @param requestId unique within the transport
 * @param peer where the block is fetched from
 * @param blockId the block
 * @param take whether the owner drops the block once sent
 * @param into where the block's memory is allocated
 * @param result the caller's future
 * @param dropped for a take, completed once the owner says it let go of the block (see {@link
 *     WireFormat}), failed when the take fails or the connection is lost before; null for a read
 */
record PendingFetch(
    long requestId,
    InetSocketAddress peer,
    long blockId,
    boolean take,
    BufferAllocator into,
    CompletableFuture<Batch> result,
    CompletableFuture<Void> dropped) {

  /** Fails the fetch with an error naming the peer and the block. */
  void fail(BlockTransportException.Reason reason, String detail, Throwable cause) {
    BlockTransportException e = new BlockTransportException(peer, blockId, reason, detail, cause);
    result.completeExceptionally(e);
    failDropped(e);
  }

  /** The owner's word will not come (the take failed, or its connection was lost). */
  void failDropped(Throwable why) {
    if (dropped != null) {
      dropped.completeExceptionally(why);
    }
  }
}
