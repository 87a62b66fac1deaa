package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.BlockStore;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the block behind a reference, in the store of its node, also after that node was lost and
 * the block was made again elsewhere from its lineage: the new block is recorded as the old
 * reference's successor, so that every holder of the old reference (an input queue, a buffer, the
 * consumer's channel) reads the new block without being told. A reference whose block is lost and
 * not yet made again is not {@link #ready}: tasks are not launched on it, and a consumer taking it
 * waits. Thread-safe.
 */
final class BlockDirectory implements InputBlocks {
  private final Map<String, BlockStore> stores;
  private final Map<Key, BlockRef> successors = new ConcurrentHashMap<>();

  /** Lost blocks released before they were made again: made again, they are released at once. */
  private final Set<Key> abandoned = ConcurrentHashMap.newKeySet();

  private SluiceException failure;

  private record Key(String owner, long id) {
    static Key of(BlockRef ref) {
      return new Key(ref.owner(), ref.id());
    }
  }

  /**
   * @param stores each node's store, by node id
   */
  BlockDirectory(Map<String, BlockStore> stores) {
    this.stores = Map.copyOf(stores);
  }

  /** The store of node {@code nodeId}. */
  BlockStore store(String nodeId) {
    BlockStore s = stores.get(nodeId);
    if (s == null) {
      throw new IllegalArgumentException("no node " + nodeId + " in this execution");
    }
    return s;
  }

  /** Every store. */
  Iterable<BlockStore> stores() {
    return stores.values();
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

  /** Every block is in a store of this process: read in place. */
  @Override
  public Opened open(BlockRef ref, org.apache.arrow.memory.BufferAllocator taskAllocator) {
    return new Opened(get(ref), false);
  }

  /** Reads the block (see {@link BlockStore#get}). */
  Batch get(BlockRef ref) {
    BlockRef c = current(ref);
    return store(c.owner()).get(c);
  }

  /** Takes the block out of its store for the caller (see {@link BlockStore#take}). */
  Batch take(BlockRef ref) {
    BlockRef c = current(ref);
    Batch b = store(c.owner()).take(c);
    forget(ref);
    return b;
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

  /** Records {@code remade} as the block made in place of {@code lost}, and wakes waiters. */
  void succeed(BlockRef lost, BlockRef remade) {
    synchronized (this) {
      Key k = Key.of(current(lost));
      if (abandoned.remove(k)) {
        store(remade.owner()).release(remade);
        return;
      }
      successors.put(k, remade);
      notifyAll();
    }
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

  /** The execution failed: waiters stop waiting. */
  synchronized void fail(SluiceException error) {
    failure = error;
    notifyAll();
  }

  private void forget(BlockRef ref) {
    BlockRef r = ref;
    for (BlockRef next; (next = successors.remove(Key.of(r))) != null; ) {
      r = next;
    }
  }
}
