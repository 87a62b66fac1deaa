package dev.sluice.cluster.exec;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A consumer of a shared split acknowledges a piece only once the block's owner let go of it: the
 * host stops counting an acknowledged block against the owner's memory.
 */
class TakenPiecesTest {
  private final TakenPieces taken = new TakenPieces();
  private final ExecutorService leaver =
      Executors.newSingleThreadExecutor(r -> new Thread(r, "taken-pieces-test-leaver"));

  @AfterEach
  void tearDown() throws InterruptedException {
    leaver.shutdownNow();
    assertThat(leaver.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aPieceIsAcknowledgedOnceItsOwnerLetGoAndOnlyOnce() {
    CompletableFuture<Void> first = new CompletableFuture<>();
    CompletableFuture<Void> second = new CompletableFuture<>();
    taken.taken(7, first);
    taken.taken(8, second);
    assertThat(taken.acknowledge()).as("received, still held by their owner").isEmpty();

    second.complete(null);
    assertThat(taken.acknowledge()).containsExactly(8);
    assertThat(taken.acknowledge()).isEmpty();

    first.complete(null);
    assertThat(taken.acknowledge()).containsExactly(7);
  }

  @Test
  void aPieceWhoseOwnerNeverSaidSoIsNotAcknowledged() throws InterruptedException {
    CompletableFuture<Void> lost = new CompletableFuture<>();
    taken.taken(3, lost);
    lost.completeExceptionally(new IllegalStateException("the connection was lost"));
    assertThat(taken.awaitSettled(Duration.ofSeconds(1))).isTrue();
    assertThat(taken.acknowledge()).isEmpty();
  }

  @Test
  void leavingWaitsForTheOwnersWordBoundedInTime() throws Exception {
    CompletableFuture<Void> slow = new CompletableFuture<>();
    taken.taken(1, slow);
    assertThat(taken.awaitSettled(Duration.ofMillis(50))).isFalse();

    CompletableFuture<Boolean> waiting =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return taken.awaitSettled(Duration.ofSeconds(30));
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
              }
            },
            leaver);
    slow.complete(null);
    assertThat(waiting.get(30, TimeUnit.SECONDS)).isTrue();
    assertThat(taken.acknowledge()).containsExactly(1);
  }
}
