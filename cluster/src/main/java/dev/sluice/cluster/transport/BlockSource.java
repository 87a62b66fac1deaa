package dev.sluice.cluster.transport;

import dev.sluice.loader.Batch;
import java.util.NoSuchElementException;

/**
 * Where a {@link BlockTransport}'s server finds the blocks it serves: a node's block store.
 *
 * <p>Both methods are called on a transport I/O thread, once per request, so they must be quick and
 * must not block (a map lookup, not a wait). {@link #get} and {@link #sent} come in pairs: every
 * successful {@code get} is followed by exactly one {@code sent} for the same block, once the
 * transport no longer reads its memory.
 */
public interface BlockSource {

  /**
   * The block, to be read while it is sent; it stays owned by the source. The transport holds a
   * reference to its buffers until the bytes are written out, so a block closed meanwhile by
   * another reader's take keeps its memory until then (its allocator must stay open that long).
   *
   * @throws NoSuchElementException (or any other runtime exception) with a clear message when the
   *     block is not held here: the fetch fails with reason {@link
   *     BlockTransportException.Reason#NOT_FOUND} and the message, or {@link
   *     BlockTransportException.Reason#REMOTE} for another exception
   */
  Batch get(long blockId);

  /**
   * The transport is done with the block: its memory is no longer read, and a take is settled.
   *
   * @param take true when the fetch was a take that succeeded: its bytes were all written and the
   *     receiver holds the block. The source drops the block and closes it (the receiver is told
   *     once this returns: its memory is counted as the source's until then). False for a read that
   *     keeps it, and for a take that failed (the connection was lost, the receiver could not hold
   *     the block, its caller had cancelled): then the block stays, to be fetched again.
   */
  void sent(long blockId, boolean take);

  /** A source that holds no block: for a process that only fetches. */
  static BlockSource none() {
    return new BlockSource() {
      @Override
      public Batch get(long blockId) {
        throw new NoSuchElementException("this process serves no blocks");
      }

      @Override
      public void sent(long blockId, boolean take) {}
    };
  }
}
