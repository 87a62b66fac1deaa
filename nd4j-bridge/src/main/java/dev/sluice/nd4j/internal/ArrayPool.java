package dev.sluice.nd4j.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Recycled ND4J arrays for one iterator, by data type and shape: what DL4J's {@code
 * AsyncDataSetIterator} gets from its cyclic workspace, without the workspace. A conversion takes
 * its arrays through a {@link Lease}; the iterator gives the lease back once the consumer is done
 * with the item (a fixed number of {@code next()} calls later), and the arrays serve a later item.
 *
 * <p>Why: a fresh 19 MiB batch array costs more than filling it (the C library maps new memory
 * and the kernel zeroes it page by page on first touch; ND4J also clears it), so recycling them
 * takes most of the per-batch cost off the prefetch thread.
 *
 * <p>The number of arrays is not capped here: it follows the number of leases outstanding, which
 * the iterator bounds (queued + converting + look-ahead + handed out and not yet given back).
 * Thread-safe: leases are taken on the prefetch thread and given back on the consumer's.
 */
public final class ArrayPool implements AutoCloseable {
  private record Key(DataType type, List<Long> shape) {}

  private final Map<Key, ArrayDeque<INDArray>> free = new HashMap<>();
  private long created;
  private long reused;
  private boolean closed;

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

  /** Arrays waiting in the pool now. */
  public synchronized int idle() {
    return free.values().stream().mapToInt(ArrayDeque::size).sum();
  }

  /** Frees the idle arrays; arrays given back later are freed at once. Idempotent. */
  @Override
  public void close() {
    List<INDArray> toClose = new ArrayList<>();
    synchronized (this) {
      closed = true;
      free.values().forEach(toClose::addAll);
      free.clear();
    }
    toClose.forEach(INDArray::close);
  }

  /** The arrays of one item. Allocated on one thread; given back once, on any thread. */
  public final class Lease implements ArrayAllocator {
    private final List<INDArray> arrays = new ArrayList<>(4);
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

    /** Returns the arrays to the pool; later calls do nothing. */
    public void giveBack() {
      List<INDArray> mine;
      synchronized (this) {
        if (givenBack) {
          return;
        }
        givenBack = true;
        mine = List.copyOf(arrays);
      }
      ArrayPool.this.giveBack(mine);
    }
  }
}
