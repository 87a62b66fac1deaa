package dev.sluice.loader.concurrent;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class UninterruptiblyTest {

  @Test
  void joinWaitsForTheThreadThroughAnInterruptAndKeepsIt() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    Thread worker =
        new Thread(
            () -> {
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "uninterruptibly-worker");
    Thread joiner = Thread.currentThread();
    Thread releaser =
        new Thread(
            () -> {
              // Once the joiner waits: interrupt it (the join must go on waiting), then let the
              // worker end.
              Awaitility.await()
                  .atMost(Duration.ofSeconds(10))
                  .until(() -> joiner.getState() == Thread.State.WAITING);
              joiner.interrupt();
              Awaitility.await()
                  .atMost(Duration.ofSeconds(10))
                  .until(() -> joiner.getState() == Thread.State.WAITING);
              release.countDown();
            },
            "uninterruptibly-releaser");
    worker.start();
    releaser.start();
    try {
      Uninterruptibly.join(worker);
      assertThat(worker.isAlive()).isFalse();
      assertThat(Thread.interrupted()).as("the interrupt is kept").isTrue();
    } finally {
      release.countDown();
      releaser.join();
      worker.join();
    }
  }

  @Test
  void awaitTellsCompletionFromTimeoutAndKeepsAnInterrupt() {
    assertThat(Uninterruptibly.await(CompletableFuture.completedFuture(1), 1, TimeUnit.SECONDS))
        .isTrue();
    assertThat(
            Uninterruptibly.await(
                CompletableFuture.failedFuture(new IllegalStateException()), 1, TimeUnit.SECONDS))
        .isTrue();
    Thread.currentThread().interrupt();
    assertThat(Uninterruptibly.await(new CompletableFuture<>(), 20, TimeUnit.MILLISECONDS))
        .isFalse();
    assertThat(Thread.interrupted()).isTrue();
  }

  @Test
  void awaitTerminationWaitsThroughAnInterrupt() {
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newSingleThreadExecutor(
            r -> new Thread(r, "uninterruptibly-pool"));
    CountDownLatch release = new CountDownLatch(1);
    pool.execute(
        () -> {
          try {
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    pool.shutdown();
    Thread.currentThread().interrupt();
    assertThat(Uninterruptibly.awaitTermination(pool, 20, TimeUnit.MILLISECONDS)).isFalse();
    assertThat(Thread.interrupted()).isTrue();
    release.countDown();
    assertThat(Uninterruptibly.awaitTermination(pool, 10, TimeUnit.SECONDS)).isTrue();
  }
}
