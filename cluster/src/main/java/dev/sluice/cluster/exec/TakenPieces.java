package dev.sluice.cluster.exec;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.LongStream;

/**
 * The pieces of a shared split that an attached consumer took, as it acknowledges them to the
 * split's host. A piece is acknowledged only once its owner said it let go of the block (the
 * transport's {@link dev.sluice.cluster.transport.BlockTransport.Taken#dropped}): the host stops
 * counting an acknowledged block against the owner's memory, so an acknowledgement sent when the
 * block had merely arrived let the host place new work on a worker that still held it (a worker
 * peak above its budget, seen in CI). A piece whose owner never says so (the connection lost first)
 * is not acknowledged: the host drops it through the cluster when the consumer leaves, which lets
 * go of the block wherever it is still held.
 *
 * <p>Thread-safe: the owner's word arrives on the transport's threads.
 */
final class TakenPieces {
  private final ConcurrentLinkedQueue<Long> settled = new ConcurrentLinkedQueue<>();
  private final Set<CompletableFuture<?>> settling = ConcurrentHashMap.newKeySet();

  /** Piece {@code id} was received; it is acknowledged once {@code dropped} completes normally. */
  void taken(long id, CompletableFuture<Void> dropped) {
    settling.add(dropped);
    dropped.whenComplete(
        (v, e) -> {
          if (e == null) {
            settled.add(id);
          }
          settling.remove(dropped);
        });
  }

  /** The pieces to acknowledge now (each once): those whose owner let go since the last call. */
  long[] acknowledge() {
    LongStream.Builder out = LongStream.builder();
    for (Long id = settled.poll(); id != null; id = settled.poll()) {
      out.add(id);
    }
    return out.build().toArray();
  }

  /**
   * Waits, at most {@code bound}, for the owners' word on every piece taken so far (before the
   * consumer's last acknowledgement); true when every word is in.
   */
  boolean awaitSettled(Duration bound) throws InterruptedException {
    CompletableFuture<?>[] pending = settling.toArray(CompletableFuture[]::new);
    try {
      CompletableFuture.allOf(pending).get(bound.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    } catch (ExecutionException e) {
      return true; // a failed word is in, and says the piece is not to be acknowledged
    } catch (TimeoutException e) {
      return false;
    }
  }
}
