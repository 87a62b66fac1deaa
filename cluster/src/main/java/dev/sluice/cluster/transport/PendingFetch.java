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
 */
record PendingFetch(
    long requestId,
    InetSocketAddress peer,
    long blockId,
    boolean take,
    BufferAllocator into,
    CompletableFuture<Batch> result) {

  /** Hands the block to the caller; a caller who cancelled meanwhile gets it closed. */
  void complete(Batch block) {
    if (!result.complete(block)) {
      block.close();
    }
  }

  /** Fails the fetch with an error naming the peer and the block. */
  void fail(BlockTransportException.Reason reason, String detail, Throwable cause) {
    result.completeExceptionally(new BlockTransportException(peer, blockId, reason, detail, cause));
  }
}
