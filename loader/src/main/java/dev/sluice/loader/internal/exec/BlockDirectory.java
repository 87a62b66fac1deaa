package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.BlockStore;
import dev.sluice.loader.runtime.NodeBlocks;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Finds the block behind a reference, in the store of its node, also after that node was lost and
 * the block was made again elsewhere from its lineage: the new block is recorded as the old
 * reference's successor, so that every holder of the old reference (an input queue, a buffer, the
 * consumer's channel) reads the new block without being told. A reference whose block is lost and
 * not yet made again is not {@link #ready}: tasks are not launched on it, and a consumer taking it
 * waits.
 *
 * <p>A lost block has at most one successor alive: a second block made in its place while the first
 * still lives, or after the block was taken or released ({@link #settled}), is a copy nobody will
 * read, and {@link #succeed} releases it at once. Thread-safe.
 */
final class BlockDirectory implements InputBlocks {
  /** Copied on write: a node that joins adds its store while tasks read the map. */
  private volatile Map<String, NodeBlocks> stores;

  private final Map<Key, BlockRef> successors = new ConcurrentHashMap<>();

  /** Lost blocks released before they were made again: made again, they are released at once. */
  private final Set<Key> abandoned = ConcurrentHashMap.newKeySet();

  /**
   * Lost blocks whose successor was taken or released: their turn is over, and a block made in
   * their place now is a copy.
   */
  private final Set<Key> settled = ConcurrentHashMap.newKeySet();

  private SluiceException failure;

  private record Key(String owner, long id) {
    static Key of(BlockRef ref) {
      return new Key(ref.owner(), ref.id());
    }
  }

  /**
   * @param stores each node's store, by node id
   */
  BlockDirectory(Map<String, ? extends NodeBlocks> stores) {
    this.stores = Map.copyOf(stores);
  }

  /** A node joined the execution: its blocks are found in {@code store}. */
  synchronized void addStore(String nodeId, NodeBlocks store) {
    Map<String, NodeBlocks> m = new java.util.HashMap<>(stores);
    if (m.putIfAbsent(nodeId, store) != null) {
      throw new IllegalArgumentException("node " + nodeId + " is already in the execution");
    }
    stores = Map.copyOf(m);
  }

  /** The blocks of node {@code nodeId}. */
  NodeBlocks store(String nodeId) {
    NodeBlocks s = stores.get(nodeId);
    if (s == null) {
      throw new IllegalArgumentException("no node " + nodeId + " in this execution");
    }
    return s;
  }

  /** Every node's blocks. */
  Iterable<NodeBlocks> stores() {
    return stores.values();
  }

  /** A task's output reached the scheduler: its node's account counts it (see NodeBlocks). */
  void arrived(BlockRef ref) {
    store(ref.owner()).arrived(ref);
  }

  /**
   * Bytes held in other processes of the blocks operator {@code operator} made (those of this
   * process are in the operator's allocator).
   */
  long remoteBytesOf(int operator) {
    long sum = 0;
    for (NodeBlocks b : stores.values()) {
      if (!(b instanceof BlockStore)) {
        sum += b.bytesOf(operator);
      }
    }
    return sum;
  }

  /**
   * The reference the block now lives under: {@code ref}, or the latest block made in its place.
   */
  BlockRef current(BlockRef ref) {
    BlockRef r = ref;
    for (BlockRef next; (next = successors.get(Key.of(r))) != null; ) {
      r = next;
    }
    return r;
  }

  /** Whether the block can be read now (it is held, not lost and waiting to be made again). */
  boolean ready(BlockRef ref) {
    BlockRef c = current(ref);
    return store(c.owner()).contains(c);
  }

  /** A task of this process reads its inputs in place (they are all in stores of this process). */
  @Override
  public Opened open(BlockRef ref, org.apache.arrow.memory.BufferAllocator taskAllocator) {
    return new Opened(get(ref), false);
  }

  /** Reads a block held in this process (see {@link BlockStore#get}). */
  Batch get(BlockRef ref) {
    BlockRef c = current(ref);
    if (!(store(c.owner()) instanceof BlockStore local)) {
      throw new IllegalStateException("node " + c.owner() + " is another process: " + c);
    }
    return local.get(c);
  }

  /**
   * Takes the block out of its node for a consumer (see {@link NodeBlocks#take}): itself in this
   * process, a copy in {@code into} from another.
   */
  Batch take(BlockRef ref, org.apache.arrow.memory.BufferAllocator into) {
    BlockRef c = current(ref);
    Batch b = store(c.owner()).take(c, into);
    forget(ref);
    return b;
  }

  /**
   * The block, wherever it now lives, was taken from its node by a consumer in another process:
   * forgotten without a word to the node (see {@link NodeBlocks#handedOff}).
   */
  void handedOff(BlockRef ref) {
    synchronized (this) {
      BlockRef c = current(ref);
      store(c.owner()).handedOff(c);
      forget(ref);
    }
  }

  /** Whether the block, wherever it now lives, is held by another process. */
  boolean isRemote(BlockRef ref) {
    return !(store(current(ref).owner()) instanceof BlockStore);
  }

  /** Releases the block, wherever it now lives (a lost block is gone already). */
  void release(BlockRef ref) {
    synchronized (this) {
      BlockRef c = current(ref);
      if (!store(c.owner()).contains(c)) {
        abandoned.add(Key.of(c)); // lost; if it is being made again, nobody wants it now
      }
      store(c.owner()).release(c);
      forget(ref);
    }
  }

  /**
   * Records {@code remade} as the block made in place of {@code lost}, and wakes waiters; or, when
   * nobody will read it (the lost block was released meanwhile, its successor still lives, or was
   * taken already), releases it.
   *
   * @return whether {@code remade} now stands for {@code lost}
   */
  boolean succeed(BlockRef lost, BlockRef remade) {
    synchronized (this) {
      BlockRef c = current(lost);
      Key k = Key.of(c);
      boolean copy = settled.contains(Key.of(lost)) || store(c.owner()).contains(c);
      if (abandoned.remove(k) || copy) {
        store(remade.owner()).release(remade);
        return false;
      }
      successors.put(k, remade);
      notifyAll();
      return true;
    }
  }

  /**
   * Whether the block was lost and made again, and what was made in its place has been taken or
   * released: it is not to be made again.
   */
  boolean settled(BlockRef ref) {
    return settled.contains(Key.of(ref));
  }

  /**
   * Waits until the block is ready, or the execution failed (then throws its error).
   *
   * @throws InterruptedException when interrupted while waiting
   */
  synchronized void awaitReady(BlockRef ref) throws InterruptedException {
    while (!ready(ref)) {
      if (failure != null) {
        throw SluiceException.rethrown(failure);
      }
      wait();
    }
  }

  /**
   * Waits until the block is no longer held where the directory had it (its node was declared lost,
   * or it was made again elsewhere), or the execution failed (then throws its error).
   *
   * @return false when {@code nanos} passed first
   * @throws InterruptedException when interrupted while waiting
   */
  synchronized boolean awaitNotHeld(BlockRef ref, long nanos) throws InterruptedException {
    BlockRef held = current(ref);
    long deadline = System.nanoTime() + nanos;
    while (current(ref).equals(held) && store(held.owner()).contains(held)) {
      if (failure != null) {
        throw SluiceException.rethrown(failure);
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  /** A node was lost: waiters on its blocks look again. */
  synchronized void nodeLost() {
    notifyAll();
  }

  /** The execution failed: waiters stop waiting. */
  synchronized void fail(SluiceException error) {
    failure = error;
    notifyAll();
  }

  private void forget(BlockRef ref) {
    BlockRef r = ref;
    for (BlockRef next; (next = successors.remove(Key.of(r))) != null; ) {
      settled.add(Key.of(r));
      r = next;
    }
  }
}
