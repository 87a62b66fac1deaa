package dev.sluice.nd4j.internal;

import dev.sluice.loader.Batch;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Recycled ND4J arrays for one iterator, by data type and shape: what DL4J's {@code
 * AsyncDataSetIterator} gets from its cyclic workspace, without the workspace. A conversion takes
 * its arrays through a {@link Lease}; the iterator gives the lease back once the consumer is done
 * with the item (a fixed number of {@code next()} calls later), and the arrays serve a later item.
 *
 * <p>Why: a fresh 19 MiB batch array costs more than filling it (the C library maps new memory and
 * the kernel zeroes it page by page on first touch; ND4J also clears it), so recycling them takes
 * most of the per-batch cost off the prefetch thread.
 *
 * <p>A lease can also hold the Arrow batch an item was made from ({@link Lease#hold}), when the
 * item's arrays are views of it rather than copies: the batch's buffers move into this pool's own
 * allocator (a child of the block store's root, outside the execution's budget, as the arrays are)
 * and are freed when the lease is given back.
 *
 * <p>The number of arrays and held batches is not capped here: it follows the number of leases
 * outstanding, which the iterator bounds (queued + converting + look-ahead + handed out and not yet
 * given back). Thread-safe: leases are taken on the prefetch thread and given back on the
 * consumer's.
 */
public final class ArrayPool implements AutoCloseable {
  private record Key(DataType type, List<Long> shape) {}

  private final Map<Key, ArrayDeque<INDArray>> free = new HashMap<>();
  private final BufferAllocator heldBatches;
  private long created;
  private long reused;
  private long batchesHeld;
  private boolean closed;

  /** A pool of arrays only: its leases cannot hold batches. */
  public ArrayPool() {
    this(null);
  }

  /**
   * A pool whose leases can hold batches in {@code heldBatches} (which the pool then owns and
   * closes in {@link #close()}; it must share the batches' allocator root), or only arrays when
   * null.
   */
  public ArrayPool(BufferAllocator heldBatches) {
    this.heldBatches = heldBatches;
  }

  /** A new lease: arrays allocated through it come back to the pool when it is given back. */
  public Lease lease() {
    return new Lease();
  }

  private INDArray take(DataType type, long[] shape) {
    synchronized (this) {
      if (!closed) {
        ArrayDeque<INDArray> q = free.get(key(type, shape));
        if (q != null && !q.isEmpty()) {
          reused++;
          return q.pop();
        }
      }
      created++;
    }
    // Outside the lock: a fresh batch array can take tens of milliseconds (new memory), and the
    // consumer gives arrays back meanwhile.
    return Nd4j.createUninitializedDetached(type, shape);
  }

  private void giveBack(List<INDArray> arrays) {
    List<INDArray> toClose = new ArrayList<>();
    synchronized (this) {
      for (INDArray a : arrays) {
        if (closed) {
          toClose.add(a);
        } else {
          free.computeIfAbsent(key(a.dataType(), a.shape()), k -> new ArrayDeque<>()).push(a);
        }
      }
    }
    toClose.forEach(INDArray::close);
  }

  private static Key key(DataType type, long[] shape) {
    return new Key(type, Arrays.stream(shape).boxed().toList());
  }

  /** Arrays allocated fresh so far. */
  public synchronized long created() {
    return created;
  }

  /** Allocations served by a recycled array so far. */
  public synchronized long reused() {
    return reused;
  }

  /** Batches held by leases so far (items that shared a batch's memory instead of copying it). */
  public synchronized long batchesHeld() {
    return batchesHeld;
  }

  /** Bytes of Arrow memory held by leases now. */
  public long heldBytes() {
    return heldBatches == null ? 0 : heldBatches.getAllocatedMemory();
  }

  /** Arrays waiting in the pool now. */
  public synchronized int idle() {
    return free.values().stream().mapToInt(ArrayDeque::size).sum();
  }

  /**
   * Frees the idle arrays; arrays given back later are freed at once. Closes the allocator of held
   * batches, which fails (naming the bytes) if a lease still holds one: give every lease back
   * first. Idempotent.
   */
  @Override
  public void close() {
    List<INDArray> toClose = new ArrayList<>();
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      free.values().forEach(toClose::addAll);
      free.clear();
    }
    toClose.forEach(INDArray::close);
    if (heldBatches != null) {
      heldBatches.close();
    }
  }

  /**
   * The arrays (and held batches) of one item. Allocated on one thread; given back once, on any
   * thread.
   */
  public final class Lease implements ArrayAllocator {
    private final List<INDArray> arrays = new ArrayList<>(4);
    private final List<Batch> batches = new ArrayList<>(1);
    private boolean givenBack;

    private Lease() {}

    @Override
    public INDArray allocate(DataType type, long... shape) {
      INDArray a = take(type, shape);
      synchronized (this) {
        arrays.add(a);
      }
      return a;
    }

    /**
     * Moves the batch into the pool's allocator of held batches until this lease is given back;
     * null when the pool holds no batches (see {@link ArrayAllocator#hold}).
     */
    @Override
    public Batch hold(Batch batch) {
      if (heldBatches == null) {
        return null;
      }
      Batch moved = batch.transferTo(heldBatches);
      boolean kept;
      synchronized (this) {
        kept = !givenBack;
        if (kept) {
          batches.add(moved);
        }
      }
      if (!kept) {
        moved.close();
        throw new IllegalStateException("lease already given back");
      }
      synchronized (ArrayPool.this) {
        batchesHeld++;
      }
      return moved;
    }

    /** Returns the arrays to the pool and frees the held batches; later calls do nothing. */
    public void giveBack() {
      List<INDArray> mine;
      List<Batch> held;
      synchronized (this) {
        if (givenBack) {
          return;
        }
        givenBack = true;
        mine = List.copyOf(arrays);
        held = List.copyOf(batches);
        batches.clear();
      }
      ArrayPool.this.giveBack(mine);
      held.forEach(Batch::close);
    }
  }
}
