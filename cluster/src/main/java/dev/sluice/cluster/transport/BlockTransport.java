package dev.sluice.cluster.transport;

import dev.sluice.loader.Batch;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Moves blocks between processes as Arrow IPC: a server for the blocks this process holds (found
 * through its {@link BlockSource}), and one reused connection to each other process's server that
 * this process fetches from. The data plane of the cluster: Hazelcast carries the control messages
 * (which block is where, who takes it), this carries the bytes.
 *
 * <p><b>Flow control.</b> Fetches are pipelined over the one connection to a peer and the transport
 * itself never refuses one: the caller bounds how many are outstanding, and that bound is the
 * credit (the free slots of the caller's queue, as in Flink's credit-based network stack). A
 * consumer with a queue of 16 blocks keeps at most 16 fetches in flight, so the bytes in flight
 * towards it never exceed what it has room for.
 *
 * <p><b>Threads.</b> Thread-safe. The futures complete on a transport thread: stages chained on
 * them with the non-async methods run there and must not block (use the {@code ...Async} variants
 * with an executor of your own for anything slow).
 */
public interface BlockTransport extends AutoCloseable {

  /**
   * Where other processes reach this one's blocks: the address the server is bound to (an ephemeral
   * port unless one was configured).
   */
  InetSocketAddress address();

  /**
   * Fetches block {@code blockId} from the process whose transport listens at {@code owner}.
   *
   * <p>The future completes with the block, owned by the caller (who closes it; its memory is
   * allocated in, and accounted to, {@code into}), or fails with a {@link BlockTransportException}
   * naming the peer and the block: the block is not held there, the connection was refused or lost,
   * {@code into} cannot hold the block, the peer failed, or this transport was closed. A fetch that
   * fails for {@code into}'s limit or the block's absence leaves the connection usable for the
   * next.
   *
   * <p>Cancelling the future does not stop the transfer: the block is received and closed.
   *
   * @param owner the address of the transport that holds the block ({@link #address()} there)
   * @param blockId the block's id in the owner's {@link BlockSource}
   * @param take whether the owner drops the block (a consumer's take); without, it keeps it for
   *     another reader. A take is settled by this side: the owner drops the block once it has been
   *     received here and handed to the caller, and keeps it when the fetch fails for any reason
   *     (so a take never loses a block in flight; a connection lost between the hand-over and the
   *     owner hearing of it leaves the block both delivered and kept, which consumers resolve by
   *     dropping duplicates by name)
   * @param into where the received block's memory is allocated. Give it an allocator that reuses
   *     the memory of released blocks (as a Sluice store's does, through {@code RecyclingMemory}):
   *     with fresh memory from the C library every block's pages are mapped and zeroed by the
   *     kernel on first touch, which cost the receiver about as much CPU as the transfer itself in
   *     the {@code transport} benchmark
   */
  CompletableFuture<Batch> fetch(
      InetSocketAddress owner, long blockId, boolean take, BufferAllocator into);

  /**
   * A take ({@link #fetch} with {@code take}), with the owner's word that it let go of the block.
   *
   * @param block completes as {@link #fetch}'s future does
   * @param dropped completes once the owner has dropped the block, after {@code block} completed
   *     with it; fails when the take fails, or when the connection is lost (or times out) before
   *     the word came: the owner may then still hold the block (it had not heard that it was
   *     received), and only another way of asking (a release through the cluster) can tell. Until
   *     it completes, the block's memory is still taken at the owner: a scheduler counting the
   *     owner's memory counts the block until then.
   */
  record Taken(CompletableFuture<Batch> block, CompletableFuture<Void> dropped) {}

  /**
   * Takes block {@code blockId} from the process whose transport listens at {@code owner}: {@link
   * #fetch} with {@code take}, and the owner's word that it dropped the block.
   */
  Taken take(InetSocketAddress owner, long blockId, BufferAllocator into);

  /**
   * Drops the connection to {@code peer}, if any: the fetches outstanding there fail at once with
   * {@link BlockTransportException.Reason#CONNECTION} and {@code why}, instead of waiting for the
   * response timeout (a host cut off keeps its connections open and silent). The next fetch there
   * connects again. For a peer the cluster has given up.
   */
  void disconnect(InetSocketAddress peer, String why);

  /**
   * Closes the connections and the server, fails the outstanding fetches (reason {@link
   * BlockTransportException.Reason#CLOSED}) after releasing what they had received, and stops every
   * thread the transport started. Idempotent.
   */
  @Override
  void close();
}
