package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.sluice.loader.runtime.Resources;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Actor pools: one construction per actor, growth under load, shrinking when idle, close at the
 * end.
 */
class ActorPoolTest {
  static final AtomicInteger CONSTRUCTED = new AtomicInteger();
  static final AtomicInteger CLOSED = new AtomicInteger();
  static final Semaphore GATE = new Semaphore(0);

  /** Each closed actor's number of calls, in the order they closed. */
  static final ConcurrentLinkedQueue<Long> CALLS_AT_CLOSE = new ConcurrentLinkedQueue<>();

  /** A stateful function that counts its lifecycle and waits for a permit per batch. */
  public static final class GatedCounter implements BatchFunction, AutoCloseable {
    private long calls;

    public GatedCounter() {
      CONSTRUCTED.incrementAndGet();
    }

    @Override
    public Batch apply(Batch input, BatchContext context) throws Exception {
      GATE.acquire();
      calls++;
      return input;
    }

    @Override
    public void close() {
      CALLS_AT_CLOSE.add(calls); // on the actor's thread, like every call
      CLOSED.incrementAndGet();
    }
  }

  private static OperatorStats pool(BatchIterator it) {
    return it.stats().operators().get(1);
  }

  @Test
  void growsUnderLoadShrinksWhenIdleAndBuildsEachActorOnce() throws Exception {
    CONSTRUCTED.set(0);
    CLOSED.set(0);
    CALLS_AT_CLOSE.clear();
    GATE.drainPermits();
    Semaphore source = new Semaphore(0);
    ExecutionOptions opts =
        ExecutionOptions.defaults()
            .withMemoryBudget(64L << 20)
            .withTargetBlockRows(10)
            .withProgress(ExecutionOptions.Progress.OFF);
    try (Sluice s = Sluice.builder().resources(Resources.cpus(8)).options(opts).build()) {
      Dataset ds =
          s.read(new BlobSource(400, 4, 64, source))
              .mapBatches(
                  GatedCounter.class,
                  ActorPool.of(1, 3).withMaxTasksPerActor(1).withIdleTimeout(Duration.ofMillis(50)),
                  // A batch size of one block: bundles are exactly the blocks (without one, the
                  // first
                  // calls take a row each, to learn the bytes the function makes per row).
                  MapOptions.DEFAULT.withCpus(0.5).withBatchSize(10));
      AtomicLong consumed = new AtomicLong();
      // Read tasks wait on the source gate holding a CPU each (4 splits): 8 CPUs leave room for 3
      // actors.
      try (BatchIterator it = ds.iterBatches()) {
        CompletableFuture<Void> consumer =
            CompletableFuture.runAsync(
                () -> {
                  while (it.hasNext()) {
                    try (Batch b = it.next()) {
                      consumed.addAndGet(b.rowCount());
                    }
                  }
                });
        // Load: blocks arrive, the actors are stuck: the pool grows to its maximum.
        source.release(20);
        await()
            .atMost(Duration.ofSeconds(10))
            .untilAsserted(
                () -> assertThat(pool(it).actorsAlive()).as(it.stats().format()).isEqualTo(3));
        // Idle: the actors finish what they have, nothing more arrives: back to the minimum.
        GATE.release(20);
        await()
            .atMost(Duration.ofSeconds(10))
            .untilAsserted(
                () -> {
                  OperatorStats p = pool(it);
                  assertThat(p.actorsAlive()).as(it.stats().format()).isEqualTo(1);
                  assertThat(CLOSED.get()).isEqualTo(2);
                });
        // The rest of the data.
        GATE.release(1_000);
        source.release(1_000);
        consumer.get(30, TimeUnit.SECONDS);
        assertThat(consumed.get()).isEqualTo(400);
        OperatorStats p = pool(it);
        assertThat(p.peakActors()).isEqualTo(3);
        assertThat(CONSTRUCTED.get()).isEqualTo(p.actorsStarted());
        assertThat(p.tasks()).isGreaterThan(p.actorsStarted());
        // One call per task (a bundle is one block of 10 rows): 40 in all.
        assertThat(p.tasks()).isEqualTo(40);
      } finally {
        GATE.release(10_000);
        source.release(10_000);
      }
      await().atMost(Duration.ofSeconds(10)).until(() -> CLOSED.get() == CONSTRUCTED.get());
      // Every block was applied exactly once, by one of the actors: their calls add up to the
      // tasks.
      assertThat(CALLS_AT_CLOSE.stream().mapToLong(Long::longValue).sum()).isEqualTo(40);
    }
  }
}
