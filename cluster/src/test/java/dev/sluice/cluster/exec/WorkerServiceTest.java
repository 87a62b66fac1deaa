package dev.sluice.cluster.exec;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.Test;

class WorkerServiceTest {

  @Test
  void theWorkersAllocatorRoundsToPagesNotToPowersOfTwo() {
    long budget = 16L << 20;
    try (RootAllocator memory = WorkerService.newAllocator(budget)) {
      assertThat(memory.getLimit()).isEqualTo(2 * budget);
      // A tensor column of 64 rows of 16 KiB with its validity bits: one allocation.
      try (ArrowBuf block = memory.buffer((1L << 20) + 8)) {
        assertThat(memory.getAllocatedMemory()).isEqualTo((1L << 20) + 4096);
      }
      try (ArrowBuf small = memory.buffer(520)) {
        assertThat(memory.getAllocatedMemory()).isEqualTo(1024);
      }
      assertThat(memory.getAllocatedMemory()).isZero();
    }
  }
}
