package dev.sluice.loader.memory;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.Sluice;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.IntVector;
import org.junit.jupiter.api.Test;

class RecyclingMemoryTest {
  private static final long MIB = 1L << 20;

  private static RootAllocator rootOf(RecyclingMemory memory) {
    return new RootAllocator(
        RootAllocator.configBuilder()
            .maxAllocation(1L << 30)
            .allocationManagerFactory(memory)
            .build());
  }

  @Test
  void aReleasedBufferIsHandedOutAgainForTheSameSize() {
    try (RecyclingMemory memory = RecyclingMemory.withCapacity(16 * MIB);
        RootAllocator root = rootOf(memory)) {
      long first;
      try (ArrowBuf a = root.buffer(4 * MIB)) {
        first = a.memoryAddress();
      }
      assertThat(memory.cachedBytes()).isEqualTo(4 * MIB);
      try (ArrowBuf b = root.buffer(4 * MIB)) {
        assertThat(b.memoryAddress()).isEqualTo(first);
        assertThat(memory.cachedBytes()).isZero();
      }
      assertThat(memory.hits()).isEqualTo(1);
      assertThat(memory.misses()).isEqualTo(1);
      assertThat(root.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void smallBuffersAreNotCached() {
    try (RecyclingMemory memory = RecyclingMemory.withCapacity(16 * MIB, 64 << 10);
        RootAllocator root = rootOf(memory)) {
      root.buffer(32 << 10).close();
      assertThat(memory.cachedBytes()).isZero();
      assertThat(memory.hits() + memory.misses()).isZero();
    }
  }

  @Test
  void theCacheNeverHoldsMoreThanItsCapacityAndEvictsTheLeastRecentlyUsedSize() {
    try (RecyclingMemory memory = RecyclingMemory.withCapacity(10 * MIB);
        RootAllocator root = rootOf(memory)) {
      List<ArrowBuf> live = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        live.add(root.buffer(2 * MIB));
      }
      live.forEach(ArrowBuf::close); // 8 MiB of 2 MiB buffers cached
      assertThat(memory.cachedBytes()).isEqualTo(8 * MIB);
      root.buffer(4 * MIB).close(); // needs 2 MiB more room: one 2 MiB buffer is evicted
      assertThat(memory.cachedBytes()).isEqualTo(10 * MIB);
      assertThat(memory.evictedBytes()).isEqualTo(2 * MIB);
      root.buffer(16 * MIB).close(); // larger than the capacity: freed at once
      assertThat(memory.cachedBytes()).isEqualTo(10 * MIB);
      assertThat(root.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void vectorsOnRecycledMemoryStartClean() {
    try (RecyclingMemory memory = RecyclingMemory.withCapacity(16 * MIB, 1);
        RootAllocator root = rootOf(memory)) {
      try (IntVector v = new IntVector("x", root)) {
        v.allocateNew(100_000);
        for (int i = 0; i < 100_000; i++) {
          v.set(i, i + 1);
        }
        v.setValueCount(100_000);
      }
      assertThat(memory.cachedBytes()).isPositive();
      try (IntVector v = new IntVector("x", root)) {
        v.allocateNew(100_000);
        v.setValueCount(100_000);
        assertThat(memory.hits()).isPositive();
        for (int i = 0; i < 100_000; i++) {
          assertThat(v.isNull(i)).isTrue();
        }
      }
    }
  }

  @Test
  void closingReleasesTheCacheAndLaterReleasesFreeAtOnce() {
    RecyclingMemory memory = RecyclingMemory.withCapacity(16 * MIB);
    try (RootAllocator root = rootOf(memory)) {
      root.buffer(MIB).close();
      ArrowBuf live = root.buffer(2 * MIB);
      memory.close();
      assertThat(memory.cachedBytes()).isZero();
      live.close();
      assertThat(memory.cachedBytes()).isZero();
    }
  }

  @Test
  void aSluiceContextAllocatesFromItsCacheAndFreesItOnClose() {
    RecyclingMemory memory;
    try (Sluice sluice = Sluice.builder().memoryBudget(64 * MIB).build()) {
      memory = sluice.recycledMemory();
      assertThat(memory.capacityBytes()).isEqualTo(64 * MIB);
      BufferAllocator child = sluice.allocator().newChildAllocator("t", 0, Long.MAX_VALUE);
      child.buffer(MIB).close();
      child.buffer(MIB).close();
      child.close();
      assertThat(memory.hits()).isEqualTo(1);
    }
    assertThat(memory.cachedBytes()).isZero();
    try (Sluice off = Sluice.builder().recycledMemory(0).build()) {
      off.allocator().buffer(MIB).close();
      assertThat(off.recycledMemory().cachedBytes()).isZero();
    }
  }

  @Test
  void concurrentUseNeverHandsOneBufferToTwoOwnersAndStaysWithinCapacity() throws Exception {
    long[] sizes = {64L << 10, 256L << 10, MIB, 3 * MIB};
    try (RecyclingMemory memory = RecyclingMemory.withCapacity(8 * MIB);
        RootAllocator root = rootOf(memory)) {
      java.util.concurrent.ExecutorService pool =
          java.util.concurrent.Executors.newFixedThreadPool(
              4,
              r -> {
                Thread t = new Thread(r, "recycling-memory-test");
                t.setDaemon(true);
                return t;
              });
      try {
        List<java.util.concurrent.Future<?>> done = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
          long worker = w;
          done.add(
              pool.submit(
                  () -> {
                    java.util.SplittableRandom random = new java.util.SplittableRandom(worker);
                    List<ArrowBuf> held = new ArrayList<>();
                    List<Long> stamps = new ArrayList<>();
                    for (int i = 0; i < 2_000; i++) {
                      if (held.size() < 3 && random.nextBoolean()) {
                        ArrowBuf b = root.buffer(sizes[random.nextInt(sizes.length)]);
                        long stamp = (worker << 32) | i;
                        b.setLong(0, stamp);
                        b.setLong(b.capacity() - 8, stamp);
                        held.add(b);
                        stamps.add(stamp);
                      } else if (!held.isEmpty()) {
                        int k = random.nextInt(held.size());
                        ArrowBuf b = held.remove(k);
                        long stamp = stamps.remove(k);
                        // Nobody else wrote here while this worker owned the buffer.
                        assertThat(b.getLong(0)).isEqualTo(stamp);
                        assertThat(b.getLong(b.capacity() - 8)).isEqualTo(stamp);
                        b.close();
                      }
                      assertThat(memory.cachedBytes()).isLessThanOrEqualTo(memory.capacityBytes());
                    }
                    held.forEach(ArrowBuf::close);
                    return null;
                  }));
        }
        for (java.util.concurrent.Future<?> f : done) {
          f.get(60, java.util.concurrent.TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
        assertThat(pool.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
      }
      assertThat(root.getAllocatedMemory()).isZero();
      assertThat(memory.hits()).isPositive();
      assertThat(memory.cachedBytes()).isLessThanOrEqualTo(8 * MIB);
    }
  }
}
