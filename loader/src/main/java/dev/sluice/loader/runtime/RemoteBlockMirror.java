package dev.sluice.loader.runtime;

import dev.sluice.loader.Batch;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The scheduler's account of the blocks a node in another process holds: the references it has seen
 * arrive and not yet released or taken, with their bytes (in all, and by the operator that made
 * them, which is what the memory budget is checked against), so that nothing about memory needs a
 * round trip. Taking and releasing go to the node through {@link Transfer}. Thread-safe.
 */
public final class RemoteBlockMirror implements NodeBlocks {

  /** How blocks leave the node. */
  public interface Transfer {
    /**
     * A block taken from the node, and the node's word that it dropped it.
     *
     * @param batch the block, in the caller's allocator
     * @param dropped completes once the node no longer holds the block (successfully or not: the
     *     block is forgotten either way; a transfer that cannot tell should ask the node to release
     *     it and complete when it has)
     */
    record Taken(Batch batch, java.util.concurrent.CompletionStage<?> dropped) {

      /** A block the node had dropped by the time the transfer returned it. */
      public static Taken alreadyDropped(Batch batch) {
        return new Taken(batch, java.util.concurrent.CompletableFuture.completedFuture(null));
      }
    }

    /**
     * Moves the block into {@code into} and has the node drop it.
     *
     * @throws BlockLostException when the node no longer holds it
     */
    Taken take(BlockRef ref, BufferAllocator into);

    /**
     * Has the node drop the block; completes once the node has (or the call failed: the node is
     * gone, or the block with it). The caller does not wait.
     */
    java.util.concurrent.CompletionStage<?> release(BlockRef ref);

    /** Has the node drop every block of the execution (no answer awaited). */
    void releaseAll();
  }

  private final String owner;
  private final Transfer transfer;
  private final Map<Long, BlockRef> held = new ConcurrentHashMap<>();
  private final AtomicLong bytes = new AtomicLong();
  private final AtomicLongArray bytesByOperator;
  private volatile boolean lost;

  /**
   * @param owner the node's id
   * @param operators the plan's operators (bytes are counted per operator)
   * @param transfer how blocks leave the node
   */
  public RemoteBlockMirror(String owner, int operators, Transfer transfer) {
    this.owner = owner;
    this.transfer = transfer;
    this.bytesByOperator = new AtomicLongArray(operators);
  }

  @Override
  public String owner() {
    return owner;
  }

  @Override
  public void arrived(BlockRef ref) {
    check(ref);
    if (lost) {
      return; // made on a node already given up: gone with it
    }
    if (held.putIfAbsent(ref.id(), ref) == null) {
      count(ref, 1);
    }
  }

  @Override
  public boolean contains(BlockRef ref) {
    return ref.owner().equals(owner) && held.containsKey(ref.id());
  }

  @Override
  public Batch take(BlockRef ref, BufferAllocator into) {
    check(ref);
    BlockRef r = held.remove(ref.id());
    if (r == null) {
      throw new BlockLostException(ref, lost);
    }
    // The node holds the block until it has dropped it (after the transfer, once it heard that it
    // arrived): counted until then, so that the scheduler does not fill its memory again while the
    // block still takes it.
    Transfer.Taken t;
    try {
      t = transfer.take(r, into);
    } catch (RuntimeException | Error e) {
      count(r, -1);
      throw e;
    }
    t.dropped().whenComplete((v, e) -> count(r, -1));
    return t.batch();
  }

  @Override
  public void handedOff(BlockRef ref) {
    check(ref);
    BlockRef r = held.remove(ref.id());
    if (r != null) {
      count(r, -1);
    } else if (!lost) {
      throw new IllegalStateException("handed off, but not held: " + ref);
    }
  }

  @Override
  public void release(BlockRef ref) {
    check(ref);
    BlockRef r = held.remove(ref.id());
    if (r == null) {
      if (lost) {
        return;
      }
      throw new IllegalStateException("released twice: " + ref);
    }
    // The node holds the block until it has the word: counted until then, so that the scheduler
    // does not place work there that would take the memory first (calls are not ordered).
    transfer.release(r).whenComplete((v, e) -> count(r, -1));
  }

  @Override
  public long bytes() {
    return bytes.get();
  }

  @Override
  public long bytesOf(int operator) {
    return bytesByOperator.get(operator);
  }

  @Override
  public java.util.List<String> heldNames(int max) {
    return held.values().stream().limit(max).map(r -> r.id() + " " + r.lineage()).toList();
  }

  @Override
  public int size() {
    return held.size();
  }

  @Override
  public int lose() {
    lost = true;
    return forgetAll();
  }

  @Override
  public int closeAll() {
    int n = forgetAll();
    if (!lost) {
      transfer.releaseAll();
    }
    return n;
  }

  private int forgetAll() {
    int n = 0;
    for (Long id : java.util.List.copyOf(held.keySet())) {
      BlockRef r = held.remove(id);
      if (r != null) {
        count(r, -1);
        n++;
      }
    }
    return n;
  }

  private void count(BlockRef ref, int sign) {
    bytes.addAndGet(sign * ref.bytes());
    bytesByOperator.addAndGet(ref.lineage().operator(), sign * ref.bytes());
  }

  private void check(BlockRef ref) {
    if (!ref.owner().equals(owner)) {
      throw new IllegalArgumentException(
          "the block is held by node " + ref.owner() + ", not " + owner + ": " + ref);
    }
  }

  @Override
  public String toString() {
    return "blocks of " + owner + " (" + held.size() + ", " + bytes.get() + " B)";
  }
}
