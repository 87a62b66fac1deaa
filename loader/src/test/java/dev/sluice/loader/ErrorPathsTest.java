package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.sluice.loader.runtime.Resources;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** Failures surface in the consumer's next(), naming where they happened, and leak nothing. */
class ErrorPathsTest {

  private static Sluice sluice() {
    return Sluice.builder()
        .resources(Resources.cpus(4))
        .options(
            ExecutionOptions.defaults()
                .withMemoryBudget(32L << 20)
                .withTargetBlockRows(50)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  static Set<String> sluiceThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(Thread::isAlive)
        .map(Thread::getName)
        .filter(
            n ->
                n.startsWith("sluice-scheduler")
                    || n.startsWith("sluice-actor")
                    || n.startsWith("sluice-prefetch")
                    || n.startsWith("sluice-timer"))
        .collect(Collectors.toSet());
  }

  @Test
  void exceptionInUserFunctionSurfacesInNextNamingOperatorAndFile() {
    Set<String> before = sluiceThreads();
    try (Sluice s = sluice()) {
      Dataset ds =
          s.read(new BlobSource(5_000, 5, 100, null))
              .mapBatches(
                  (in, ctx) -> {
                    for (int i = 0; i < in.rowCount(); i++) {
                      if (in.getLong("id", i) == 3_210) {
                        throw new IllegalArgumentException("cannot handle row 3210");
                      }
                    }
                    return in;
                  },
                  MapOptions.DEFAULT.withName("Augment").withCpus(0.5));
      try (BatchIterator it = ds.iterBatches(IterOptions.batches(100))) {
        assertThatThrownBy(
                () -> {
                  while (it.hasNext()) {
                    it.next().close();
                  }
                })
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining("Augment")
            .hasMessageContaining("cannot handle row 3210")
            .hasMessageContaining("blobs-3.bin");
        assertThat(it.hasNext()).isFalse();
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> sluiceThreads().equals(before));
  }

  @Test
  void actorConstructorFailureSurfaces() {
    try (Sluice s = sluice()) {
      Dataset ds =
          s.range(1_000, 2)
              .mapBatches(
                  () -> {
                    throw new IllegalStateException("model file missing");
                  },
                  ActorPool.fixed(1),
                  MapOptions.DEFAULT.withName("Model").withCpus(0.5));
      try (BatchIterator it = ds.iterBatches()) {
        assertThatThrownBy(
                () -> {
                  while (it.hasNext()) {
                    it.next().close();
                  }
                })
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining("Model")
            .hasMessageContaining("model file missing");
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void earlyCloseStopsEverythingAndReleasesMemory() {
    Set<String> before = sluiceThreads();
    try (Sluice s = sluice()) {
      try (BatchIterator it =
          s.read(new BlobSource(100_000, 10, 1000, null)).iterBatches(IterOptions.batches(64))) {
        it.next().close();
        Batch held = it.next();
        held.close();
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> sluiceThreads().equals(before));
  }

  @Test
  void gpuRequestWithoutGpusFailsFast() {
    try (Sluice s = sluice()) {
      Dataset ds =
          s.range(10, 1)
              .mapBatches((in, ctx) -> in, MapOptions.DEFAULT.withGpus(1).withName("Infer"));
      assertThatThrownBy(ds::count)
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("Infer")
          .hasMessageContaining("GPU");
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }
}
