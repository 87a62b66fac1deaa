package dev.sluice.loader.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.Batch;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.apache.arrow.memory.BufferAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The scheduler's account of a node in another process counts a block being taken until the node
 * has dropped it (after the transfer, once it heard the block arrived): the node holds it until
 * then, and a scheduler that forgot it at once would fill that node's memory again while the block
 * still took it (a worker's peak was once seen a few KiB over the budget).
 */
class RemoteBlockMirrorTest {
  private final ExecutorService taker =
      Executors.newSingleThreadExecutor(r -> new Thread(r, "mirror-test-taker"));

  @AfterEach
  void stop() throws InterruptedException {
    taker.shutdownNow();
    assertThat(taker.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  private final CompletableFuture<Void> released = new CompletableFuture<>();

  @Test
  void aBlockReleasedCountsUntilTheNodeHasDroppedIt() {
    RemoteBlockMirror mirror =
        mirror(
            ref -> {
              throw new AssertionError("not taken");
            },
            ref -> released);
    BlockRef ref = ref(8);
    mirror.arrived(ref);
    mirror.release(ref);
    assertThat(mirror.contains(ref)).as("gone from the account's blocks").isFalse();
    assertThat(mirror.bytes()).as("still on the node until it says so").isEqualTo(4096);
    released.complete(null); // the node dropped it
    assertThat(mirror.bytes()).isZero();
    assertThat(mirror.bytesOf(1)).isZero();
  }

  @Test
  void aBlockBeingTakenCountsUntilTheTransferIsOver() throws Exception {
    CountDownLatch transferring = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    RemoteBlockMirror mirror =
        mirror(
            ref -> {
              transferring.countDown();
              try {
                finish.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              throw new BlockLostException(ref, true); // the node died mid-transfer
            },
            ref -> released);
    BlockRef ref = ref(7);
    mirror.arrived(ref);
    assertThat(mirror.bytes()).isEqualTo(4096);

    CompletableFuture<Batch> take =
        CompletableFuture.supplyAsync(() -> mirror.take(ref, null), taker);
    assertThat(transferring.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(mirror.contains(ref)).as("nobody else takes it").isFalse();
    assertThat(mirror.bytes()).as("still on the node while it is sent").isEqualTo(4096);
    assertThat(mirror.bytesOf(1)).isEqualTo(4096);

    finish.countDown();
    assertThatThrownBy(() -> take.get(10, TimeUnit.SECONDS))
        .hasCauseInstanceOf(BlockLostException.class);
    assertThat(mirror.bytes()).isZero();
    assertThat(mirror.bytesOf(1)).isZero();
  }

  @Test
  void aBlockTakenCountsUntilTheNodeSaysItDroppedIt() {
    CompletableFuture<Void> dropped = new CompletableFuture<>();
    // Arrived (no block needed here); the node's word that it dropped it still to come.
    RemoteBlockMirror mirror =
        mirror(
            ref -> new RemoteBlockMirror.Transfer.Taken(null, dropped),
            ref -> {
              throw new AssertionError("not released");
            });
    BlockRef ref = ref(9);
    mirror.arrived(ref);
    assertThat(mirror.take(ref, null)).isNull();
    assertThat(mirror.contains(ref)).as("gone from the account's blocks").isFalse();
    assertThat(mirror.bytes()).as("still on the node until it says it dropped it").isEqualTo(4096);
    assertThat(mirror.bytesOf(1)).isEqualTo(4096);
    dropped.complete(null);
    assertThat(mirror.bytes()).isZero();
    assertThat(mirror.bytesOf(1)).isZero();
  }

  /** A mirror of node w1 whose transfers take and release as given. */
  private static RemoteBlockMirror mirror(
      Function<BlockRef, RemoteBlockMirror.Transfer.Taken> take,
      Function<BlockRef, CompletionStage<?>> release) {
    return new RemoteBlockMirror(
        "w1",
        2,
        new RemoteBlockMirror.Transfer() {
          @Override
          public Taken take(BlockRef ref, BufferAllocator into) {
            return take.apply(ref);
          }

          @Override
          public CompletionStage<?> release(BlockRef ref) {
            return release.apply(ref);
          }

          @Override
          public void releaseAll() {}
        });
  }

  /** Block {@code id} of w1: 10 rows, 4,096 bytes, made by operator 1. */
  private static BlockRef ref(long id) {
    return new BlockRef(id, "w1", new Lineage.Read(1, "Read", 0, 0, 0, 0, 10), 10, 4096, List.of());
  }
}
