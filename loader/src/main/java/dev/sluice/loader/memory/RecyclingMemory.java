package dev.sluice.loader.memory;

import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.apache.arrow.memory.AllocationManager;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.unsafe.UnsafeAllocationManager;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * An Arrow {@link AllocationManager.Factory} that keeps the native memory of released buffers of at
 * least {@link #minRecycledBytes()} in a bounded cache and hands it out again for the next buffer
 * of the same size, instead of returning it to the C library.
 *
 * <p>Why: a pipeline allocates and frees blocks of the same few sizes over and over (a decoded
 * batch of 32 images of 224 x 224 x 3 is 4.8 MB, rounded by Arrow to 8 MiB). The C library hands
 * allocations that large to the kernel and back ({@code mmap}/{@code munmap}, or a trimmed heap),
 * so every new block is fresh memory that the kernel zeroes and maps page by page on first touch:
 * on a VM that cost more CPU than decoding the images (measured in {@code benchmarks/RESULTS.md}).
 * Recycled memory is already mapped.
 *
 * <p>Bounds: the memory held in the cache is at most {@code capacityBytes}, on top of what Arrow
 * accounts (allocators count live buffers only, so budgets and limits are unaffected). When a
 * released buffer does not fit, the cache first frees the least recently used sizes' memory; a
 * buffer larger than the capacity is freed at once. Small buffers (below {@link
 * #minRecycledBytes()}) go straight to the C library, which serves them from its own heap without
 * faults.
 *
 * <p>Recycled memory is not zeroed: Arrow never relies on fresh memory being zero (vectors zero
 * what they need), exactly as with its default {@link UnsafeAllocationManager}.
 *
 * <p>Thread-safe. {@link #close()} frees the cached memory; buffers still live are freed when
 * released, as usual.
 */
public final class RecyclingMemory implements AllocationManager.Factory, AutoCloseable {
  /** The default smallest size recycled: 64 KiB. */
  public static final long DEFAULT_MIN_RECYCLED_BYTES = 64L << 10;

  private final long capacityBytes;
  private final long minRecycledBytes;
  // size -> free addresses of that size; access order: the first entry is the least recently used
  // size.
  private final LinkedHashMap<Long, ArrayDeque<Long>> free = new LinkedHashMap<>(16, 0.75f, true);
  private long cachedBytes;
  private boolean closed;
  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder evictedBytes = new LongAdder();

  private RecyclingMemory(long capacityBytes, long minRecycledBytes) {
    if (capacityBytes < 0 || minRecycledBytes < 1) {
      throw new IllegalArgumentException("need capacityBytes >= 0 and minRecycledBytes >= 1");
    }
    this.capacityBytes = capacityBytes;
    this.minRecycledBytes = minRecycledBytes;
  }

  /** A cache of at most {@code capacityBytes} for buffers of at least 64 KiB. */
  public static RecyclingMemory withCapacity(long capacityBytes) {
    return new RecyclingMemory(capacityBytes, DEFAULT_MIN_RECYCLED_BYTES);
  }

  /** A cache of at most {@code capacityBytes} for buffers of at least {@code minRecycledBytes}. */
  public static RecyclingMemory withCapacity(long capacityBytes, long minRecycledBytes) {
    return new RecyclingMemory(capacityBytes, minRecycledBytes);
  }

  @Override
  public AllocationManager create(BufferAllocator accountingAllocator, long size) {
    long address = size >= minRecycledBytes ? take(size) : 0;
    if (address == 0) {
      address = MemoryUtil.allocateMemory(size);
    }
    return new Recycled(accountingAllocator, address, size);
  }

  @Override
  public ArrowBuf empty() {
    return UnsafeAllocationManager.FACTORY.empty();
  }

  private synchronized long take(long size) {
    ArrayDeque<Long> addresses = free.get(size);
    if (addresses == null || addresses.isEmpty()) {
      misses.increment();
      return 0;
    }
    long address = addresses.pop();
    if (addresses.isEmpty()) {
      free.remove(size);
    }
    cachedBytes -= size;
    hits.increment();
    return address;
  }

  private void give(long address, long size) {
    if (size < minRecycledBytes || !keep(address, size)) {
      MemoryUtil.freeMemory(address);
    }
  }

  /**
   * Caches the memory, evicting least recently used sizes to make room; false when it cannot be
   * kept.
   */
  private boolean keep(long address, long size) {
    ArrayDeque<Long> evicted = new ArrayDeque<>();
    synchronized (this) {
      if (closed || size > capacityBytes) {
        return false;
      }
      Iterator<Map.Entry<Long, ArrayDeque<Long>>> lru = free.entrySet().iterator();
      while (cachedBytes + size > capacityBytes && lru.hasNext()) {
        Map.Entry<Long, ArrayDeque<Long>> e = lru.next();
        while (!e.getValue().isEmpty() && cachedBytes + size > capacityBytes) {
          evicted.add(e.getValue().pollLast());
          cachedBytes -= e.getKey();
          evictedBytes.add(e.getKey());
        }
        if (e.getValue().isEmpty()) {
          lru.remove();
        }
      }
      free.computeIfAbsent(size, s -> new ArrayDeque<>()).push(address);
      cachedBytes += size;
    }
    evicted.forEach(MemoryUtil::freeMemory);
    return true;
  }

  /** Bytes held in the cache now (not counted by any allocator). */
  public synchronized long cachedBytes() {
    return cachedBytes;
  }

  /** The most the cache holds. */
  public long capacityBytes() {
    return capacityBytes;
  }

  /** The smallest buffer recycled. */
  public long minRecycledBytes() {
    return minRecycledBytes;
  }

  /** Allocations of a recyclable size served from the cache. */
  public long hits() {
    return hits.sum();
  }

  /** Allocations of a recyclable size the cache could not serve (fresh memory). */
  public long misses() {
    return misses.sum();
  }

  /** Bytes freed to make room for more recently used sizes. */
  public long evictedBytes() {
    return evictedBytes.sum();
  }

  /** Frees the cached memory; later releases free their memory at once. Idempotent. */
  @Override
  public void close() {
    ArrayDeque<Long> all = new ArrayDeque<>();
    synchronized (this) {
      closed = true;
      free.values().forEach(all::addAll);
      free.clear();
      cachedBytes = 0;
    }
    all.forEach(MemoryUtil::freeMemory);
  }

  @Override
  public String toString() {
    return "RecyclingMemory[cached "
        + cachedBytes()
        + " of "
        + capacityBytes
        + " bytes, hits "
        + hits()
        + ", misses "
        + misses()
        + "]";
  }

  private final class Recycled extends AllocationManager {
    private final long address;
    private final long size;

    Recycled(BufferAllocator accountingAllocator, long address, long size) {
      super(accountingAllocator);
      this.address = address;
      this.size = size;
    }

    @Override
    public long getSize() {
      return size;
    }

    @Override
    protected long memoryAddress() {
      return address;
    }

    @Override
    protected void release0() {
      give(address, size);
    }
  }
}
