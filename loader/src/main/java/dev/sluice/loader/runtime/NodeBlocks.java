package dev.sluice.loader.runtime;

import dev.sluice.loader.Batch;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The scheduler's view of the blocks one node holds: a {@link BlockStore} for a node of this
 * process, a {@link RemoteBlockMirror} for a node in another (its blocks stay there; the mirror
 * counts what it holds from the references the scheduler has seen, and takes and releases blocks by
 * message). Thread-safe.
 */
public interface NodeBlocks {

  /** The id of the node. */
  String owner();

  /**
   * A block the node made reached the scheduler (its reference, in a task's outcome). A store of
   * this process holds it already; a mirror starts counting it.
   */
  void arrived(BlockRef ref);

  /** Whether the node still holds the block (it was neither taken, released nor lost). */
  boolean contains(BlockRef ref);

  /**
   * Hands the block to a consumer, which closes it: the stored block itself in this process, a copy
   * in {@code into} from another.
   *
   * @throws BlockLostException when the node no longer holds it
   */
  Batch take(BlockRef ref, BufferAllocator into);

  /**
   * The block was taken from the node by a consumer in another process (through the node's own
   * transport): it is forgotten here, with nothing sent to the node, which dropped it when it was
   * taken. Only a node of another process can hand a block off.
   *
   * @throws UnsupportedOperationException for a node of this process
   */
  default void handedOff(BlockRef ref) {
    throw new UnsupportedOperationException(
        "a block of this process is not handed off to another: " + ref);
  }

  /**
   * The block's last reader is done: the node drops it. A block of a lost node is gone already;
   * releasing it is allowed.
   */
  void release(BlockRef ref);

  /** Bytes of the blocks held, counted from their references. */
  long bytes();

  /** Bytes held of the blocks operator {@code operator} made. */
  long bytesOf(int operator);

  /** Blocks held. */
  int size();

  /** The names of at most {@code max} blocks held (for messages). */
  default java.util.List<String> heldNames(int max) {
    return java.util.List.of();
  }

  /** The node is gone: its blocks with it. Returns how many were held. */
  int lose();

  /** Drops every block held (the execution ends); returns how many. */
  int closeAll();
}
