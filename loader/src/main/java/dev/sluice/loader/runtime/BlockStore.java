package dev.sluice.loader.runtime;

import dev.sluice.loader.Batch;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The blocks one node holds, by reference. A block enters when the task that made it ends and
 * leaves when its last reader is done with it ({@link #release}) or when a consumer takes it
 * ({@link #take}); its memory stays in the Arrow allocator of the task that made it, so the
 * allocator tree remains the accounting, and {@link #bytes()} is the same memory counted from the
 * references. Thread-safe: tasks read their inputs on their own threads, consumers take on theirs.
 */
public final class BlockStore implements NodeBlocks {
  private final String owner;
  private final AtomicLong nextId;
  private final AtomicLong bytes = new AtomicLong();
  private final Map<Long, Held> blocks = new ConcurrentHashMap<>();

  private record Held(Batch batch, long bytes, int operator) {}

  private volatile boolean lost;

  /**
   * @param owner the id of the node the store belongs to
   */
  public BlockStore(String owner) {
    this(owner, new AtomicLong());
  }

  /**
   * A store whose block ids come from {@code ids}, shared by the stores of one process so that an
   * id names one block in the process whatever execution made it (the transport serves blocks by
   * id).
   *
   * @param owner the id of the node the store belongs to
   * @param ids where block ids come from
   */
  public BlockStore(String owner, AtomicLong ids) {
    this.owner = owner;
    this.nextId = ids;
  }

  /** The id of the node the store belongs to. */
  @Override
  public String owner() {
    return owner;
  }

  /**
   * Takes a block made on this node; it is not to be changed from now on.
   *
   * @param batch the block, open; the store owns it from now on
   * @param lineage what made it
   * @param hosts the hosts its rows were read from (may be empty)
   * @return the reference to move in its place
   */
  public BlockRef put(Batch batch, Lineage lineage, List<String> hosts) {
    if (batch.isClosed()) {
      throw new IllegalArgumentException("a closed batch cannot be stored: " + lineage);
    }
    BlockRef ref =
        new BlockRef(
            nextId.getAndIncrement(), owner, lineage, batch.rowCount(), batch.sizeInBytes(), hosts);
    if (lost) {
      batch.close();
      return ref; // the node is gone: the block is lost as soon as it is made
    }
    blocks.put(ref.id(), new Held(batch, ref.bytes(), lineage.operator()));
    bytes.addAndGet(ref.bytes());
    return ref;
  }

  /**
   * The block behind {@code ref}, still owned by the store: to be read, not closed, changed or kept
   * after the reader's reference is released.
   *
   * @throws BlockLostException when the block is not here (its node was lost, or it was released)
   */
  public Batch get(BlockRef ref) {
    Held h = blocks.get(checkOwner(ref).id());
    if (h == null) {
      throw new BlockLostException(ref, lost);
    }
    return h.batch();
  }

  /**
   * The block with id {@code id}, still owned by the store (see {@link #get(BlockRef)}), or null
   * when the store does not hold it: for a transport serving blocks by id.
   */
  public Batch getById(long id) {
    Held h = blocks.get(id);
    return h == null ? null : h.batch();
  }

  /**
   * Removes and closes the block with id {@code id} if the store holds it (a transport sent it to a
   * consumer that took it); returns whether it did.
   */
  public boolean releaseById(long id) {
    Held h = blocks.remove(id);
    if (h == null) {
      return false;
    }
    bytes.addAndGet(-h.bytes());
    h.batch().close();
    return true;
  }

  /**
   * Removes the block behind {@code ref} and hands it to the caller, who closes it.
   *
   * @throws BlockLostException when the block is not here
   */
  public Batch take(BlockRef ref) {
    Held h = blocks.remove(checkOwner(ref).id());
    if (h == null) {
      throw new BlockLostException(ref, lost);
    }
    bytes.addAndGet(-h.bytes());
    return h.batch();
  }

  /**
   * Removes and closes the block behind {@code ref} (its last reader is done). A block of a lost
   * node is already gone; releasing it is allowed.
   *
   * @throws IllegalStateException when the block was released before
   */
  @Override
  public void release(BlockRef ref) {
    Held h = blocks.remove(checkOwner(ref).id());
    if (h == null) {
      if (lost) {
        return;
      }
      throw new IllegalStateException("released twice: " + ref);
    }
    bytes.addAndGet(-h.bytes());
    h.batch().close();
  }

  /** A block this store holds already (it was put here): nothing to do. */
  @Override
  public void arrived(BlockRef ref) {
    checkOwner(ref);
  }

  /** The stored block itself: in this process no copy is needed ({@code into} is not used). */
  @Override
  public Batch take(BlockRef ref, org.apache.arrow.memory.BufferAllocator into) {
    return take(ref);
  }

  @Override
  public long bytesOf(int operator) {
    long sum = 0;
    for (Held h : blocks.values()) {
      if (h.operator() == operator) {
        sum += h.bytes();
      }
    }
    return sum;
  }

  /** Whether the store still holds the block. */
  @Override
  public boolean contains(BlockRef ref) {
    return ref.owner().equals(owner) && blocks.containsKey(ref.id());
  }

  /** Bytes of the blocks held, counted from their references. */
  @Override
  public long bytes() {
    return bytes.get();
  }

  /** Blocks held. */
  @Override
  public int size() {
    return blocks.size();
  }

  /**
   * The node is gone: every block held is closed (its memory freed) and later puts close theirs at
   * once. Returns how many blocks were dropped.
   */
  @Override
  public int lose() {
    lost = true;
    return closeAll();
  }

  /** Closes every block held (the execution ends or was cancelled); returns how many. */
  @Override
  public int closeAll() {
    List<Batch> dropped = new ArrayList<>();
    for (Long id : List.copyOf(blocks.keySet())) {
      Held h = blocks.remove(id);
      if (h != null) {
        bytes.addAndGet(-h.bytes());
        dropped.add(h.batch());
      }
    }
    dropped.forEach(Batch::close);
    return dropped.size();
  }

  private BlockRef checkOwner(BlockRef ref) {
    if (!ref.owner().equals(owner)) {
      throw new IllegalArgumentException(
          "the block is held by node " + ref.owner() + ", not " + owner + ": " + ref);
    }
    return ref;
  }
}
