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

  static final AtomicInteger WINDING_CONSTRUCTED = new AtomicInteger();
  static final AtomicInteger WINDING_CLOSED = new AtomicInteger();
  static final CompletableFuture<Void>[] FIRST_BLOCK_GATE = newGate();

  @SuppressWarnings("unchecked")
  private static CompletableFuture<Void>[] newGate() {
    return new CompletableFuture[] {new CompletableFuture<>()};
  }

  /** Waits on {@link #FIRST_BLOCK_GATE} for the block that starts at row 0; others pass. */
  public static final class HoldsTheFirstBlock implements BatchFunction, AutoCloseable {
    public HoldsTheFirstBlock() {
      WINDING_CONSTRUCTED.incrementAndGet();
    }

    @Override
    public Batch apply(Batch input, BatchContext context) throws Exception {
      if (input.getLong(dev.sluice.loader.source.RangeSource.COLUMN, 0) == 0) {
        FIRST_BLOCK_GATE[0].get();
      }
      return input;
    }

    @Override
    public void close() {
      WINDING_CLOSED.incrementAndGet();
    }
  }

  @Test
  void aFixedPoolWindingDownDoesNotRestartActorsWhileItsLastCallRuns() throws Exception {
    WINDING_CONSTRUCTED.set(0);
    WINDING_CLOSED.set(0);
    FIRST_BLOCK_GATE[0] = new CompletableFuture<>();
    ExecutionOptions opts =
        ExecutionOptions.defaults()
            .withMemoryBudget(64L << 20)
            .withTargetBlockRows(10)
            .withProgress(ExecutionOptions.Progress.OFF);
    try (Sluice s = Sluice.builder().resources(Resources.cpus(4)).options(opts).build()) {
      Dataset ds =
          s.range(30, 3)
              .mapBatches(
                  HoldsTheFirstBlock.class,
                  ActorPool.fixed(2).withMaxTasksPerActor(1),
                  MapOptions.DEFAULT.withBatchSize(10));
      try (BatchIterator it = ds.iterBatches()) {
        for (int i = 0; i < 2; i++) {
          assertThat(it.hasNext()).isTrue();
          it.next().close();
        }
        // Everything is read and the idle actor stopped; one call still runs on the other.
        await().atMost(Duration.ofSeconds(10)).until(() -> WINDING_CLOSED.get() >= 1);
        // Starting an actor now would only see it stopped again, over and over (each start builds
        // the user's function: a model load), until the last call ends.
        await()
            .during(Duration.ofMillis(300))
            .atMost(Duration.ofSeconds(5))
            .until(() -> pool(it).actorsStarted() == 2);
        FIRST_BLOCK_GATE[0].complete(null);
        assertThat(it.hasNext()).isTrue();
        it.next().close();
        assertThat(it.hasNext()).isFalse();
        assertThat(pool(it).actorsStarted()).isEqualTo(2);
      } finally {
        FIRST_BLOCK_GATE[0].complete(null);
      }
    }
    assertThat(WINDING_CONSTRUCTED.get()).isEqualTo(2);
    assertThat(WINDING_CLOSED.get()).isEqualTo(2);
  }
}
