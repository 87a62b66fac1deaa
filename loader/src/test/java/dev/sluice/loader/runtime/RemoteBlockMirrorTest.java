package dev.sluice.loader.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.Batch;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
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
        new RemoteBlockMirror(
            "w1",
            2,
            new RemoteBlockMirror.Transfer() {
              @Override
              public Taken take(BlockRef ref, BufferAllocator into) {
                throw new AssertionError("not taken");
              }

              @Override
              public java.util.concurrent.CompletionStage<?> release(BlockRef ref) {
                return released;
              }

              @Override
              public void releaseAll() {}
            });
    BlockRef ref =
        new BlockRef(8, "w1", new Lineage.Read(1, "Read", 0, 0, 0, 0, 10), 10, 4096, List.of());
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
        new RemoteBlockMirror(
            "w1",
            2,
            new RemoteBlockMirror.Transfer() {
              @Override
              public Taken take(BlockRef ref, BufferAllocator into) {
                transferring.countDown();
                try {
                  finish.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                throw new BlockLostException(ref, true); // the node died mid-transfer
              }

              @Override
              public java.util.concurrent.CompletionStage<?> release(BlockRef ref) {
                return released;
              }

              @Override
              public void releaseAll() {}
            });
    BlockRef ref =
        new BlockRef(7, "w1", new Lineage.Read(1, "Read", 0, 0, 0, 0, 10), 10, 4096, List.of());
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
    RemoteBlockMirror mirror =
        new RemoteBlockMirror(
            "w1",
            2,
            new RemoteBlockMirror.Transfer() {
              @Override
              public Taken take(BlockRef ref, BufferAllocator into) {
                // Arrived (no block needed here); the node's word that it dropped it still to come.
                return new Taken(null, dropped);
              }

              @Override
              public java.util.concurrent.CompletionStage<?> release(BlockRef ref) {
                throw new AssertionError("not released");
              }

              @Override
              public void releaseAll() {}
            });
    BlockRef ref =
        new BlockRef(9, "w1", new Lineage.Read(1, "Read", 0, 0, 0, 0, 10), 10, 4096, List.of());
    mirror.arrived(ref);
    assertThat(mirror.take(ref, null)).isNull();
    assertThat(mirror.contains(ref)).as("gone from the account's blocks").isFalse();
    assertThat(mirror.bytes()).as("still on the node until it says it dropped it").isEqualTo(4096);
    assertThat(mirror.bytesOf(1)).isEqualTo(4096);
    dropped.complete(null);
    assertThat(mirror.bytes()).isZero();
    assertThat(mirror.bytesOf(1)).isZero();
  }
}
