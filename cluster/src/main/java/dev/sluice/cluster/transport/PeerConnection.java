package dev.sluice.cluster.transport;

import dev.sluice.cluster.transport.BlockTransportException.Reason;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The one connection of a transport to one peer: requests are pipelined over it, and each response
 * is matched to its fetch by request id. Made lazily by the first fetch to the peer; once lost (the
 * peer closed it, it timed out, the peer spoke another protocol) every fetch outstanding on it
 * fails with the first reason recorded, and the next fetch to the peer makes a new connection.
 *
 * <p>Thread-safe: fetches are sent from any thread, responses arrive on the connection's I/O
 * thread, and the two meet only in the concurrent map of pending fetches (removal decides who
 * completes a fetch: exactly one party does).
 */
final class PeerConnection {
  private final InetSocketAddress peer;
  private final Bootstrap bootstrap;
  private final Consumer<PeerConnection> onLost;
  private final BooleanSupplier transportClosed;
  private final Map<Long, PendingFetch> pending = new ConcurrentHashMap<>();
  // Takes whose block was handed to the caller and whose owner has not yet said it dropped it.
  private final Map<Long, PendingFetch> dropping = new ConcurrentHashMap<>();
  private ChannelFuture connect; // guarded by this
  private volatile boolean down;
  private volatile long lastActivityNanos = System.nanoTime();

  /** The first reason recorded for losing the connection; later ones are consequences. */
  private record Failure(Reason reason, String detail, Throwable cause) {}

  private volatile Failure failure;

  /**
   * @param peer the peer's transport address
   * @param bootstrap makes the channel; its handler must be a {@link ResponseDecoder} for this
   * @param onLost told once the connection is lost (the transport forgets it)
   * @param transportClosed whether the transport is closed: fetches failing then fail with {@link
   *     Reason#CLOSED}, whatever else happened to the connection
   */
  PeerConnection(
      InetSocketAddress peer,
      Bootstrap bootstrap,
      Consumer<PeerConnection> onLost,
      BooleanSupplier transportClosed) {
    this.peer = peer;
    this.bootstrap = bootstrap;
    this.onLost = onLost;
    this.transportClosed = transportClosed;
  }

  InetSocketAddress peer() {
    return peer;
  }

  /** Whether the connection was lost (a new one is needed for the next fetch). */
  boolean isDown() {
    return down;
  }

  /** Sends {@code fetch} over the connection, connecting first if nobody has yet. */
  void send(PendingFetch fetch) {
    if (pending.put(fetch.requestId(), fetch) != null) {
      throw new IllegalStateException("request id used twice: " + fetch.requestId());
    }
    if (pending.size() == 1) {
      touch(); // the response timeout counts from the first request outstanding
    }
    if (down) {
      // Lost between the caller's look-up and now: the fetches drained then did not include this.
      Failure f = finalFailure();
      fail(fetch.requestId(), f.reason(), f.detail(), f.cause());
      return;
    }
    ChannelFuture connected = connect();
    connected.addListener(
        (ChannelFuture cf) -> {
          if (!cf.isSuccess()) {
            fail(
                fetch.requestId(),
                Reason.CONNECTION,
                "cannot connect: " + WireFormat.describe(cf.cause()),
                cf.cause());
            return;
          }
          Channel ch = cf.channel();
          ch.writeAndFlush(
                  WireFormat.request(ch.alloc(), fetch.requestId(), fetch.blockId(), fetch.take()))
              .addListener(
                  w -> {
                    if (!w.isSuccess()) {
                      fail(
                          fetch.requestId(),
                          Reason.CONNECTION,
                          "cannot send the request: " + WireFormat.describe(w.cause()),
                          w.cause());
                    }
                  });
        });
  }

  private synchronized ChannelFuture connect() {
    if (connect == null) {
      // A clone per connection: the attribute tells the channel's initializer whose channel it is.
      connect = bootstrap.clone().attr(ResponseDecoder.CONNECTION, this).connect(peer);
      connect.addListener(
          (ChannelFuture cf) -> {
            if (!cf.isSuccess()) {
              lost(
                  Reason.CONNECTION,
                  "cannot connect: " + WireFormat.describe(cf.cause()),
                  cf.cause());
            }
          });
    }
    return connect;
  }

  /**
   * Drops the connection (its peer is given up): the fetches outstanding fail with {@code why} as
   * the channel closes, or at once when it has none yet.
   */
  void drop(String why) {
    recordFailure(Reason.CONNECTION, why, null);
    boolean channel;
    synchronized (this) {
      channel = connect != null;
    }
    if (channel) {
      close();
    } else {
      lost(Reason.CONNECTION, why, null);
    }
  }

  /** Closes the channel, if any; the fetches outstanding fail as it closes. */
  synchronized void close() {
    if (connect != null) {
      connect.channel().close();
    }
  }

  /** The fetch waiting for request {@code requestId}, or null. */
  PendingFetch pending(long requestId) {
    return pending.get(requestId);
  }

  /** Fetches waiting for a response. */
  int outstanding() {
    return pending.size();
  }

  /** Fetches waiting for a response, and takes waiting for the owner's word that it dropped. */
  int awaiting() {
    return pending.size() + dropping.size();
  }

  /** Bytes arrived (or the first request went out): the response timeout counts from now. */
  void touch() {
    lastActivityNanos = System.nanoTime();
  }

  long lastActivityNanos() {
    return lastActivityNanos;
  }

  /**
   * Completes request {@code requestId} with {@code block}; a block nobody waits for (the caller
   * cancelled, or the fetch failed meanwhile) is closed.
   *
   * @return whether the caller has the block
   */
  boolean complete(long requestId, dev.sluice.loader.Batch block) {
    PendingFetch f = pending.remove(requestId);
    if (f != null) {
      if (f.take()) {
        // Before the caller can see the block: the owner's word comes only after this returns
        // (it answers the received frame sent then), on this thread.
        dropping.put(requestId, f);
      }
      if (f.result().complete(block)) {
        if (down) {
          failDropping(); // lost meanwhile, its sweep may have come before the put
        }
        return true;
      }
      if (f.take()) {
        dropping.remove(requestId);
        f.failDropped(new java.util.concurrent.CancellationException("the take was cancelled"));
      }
    }
    block.close();
    return false;
  }

  /** The owner dropped the block of take {@code requestId}. */
  void dropped(long requestId) {
    PendingFetch f = dropping.remove(requestId);
    if (f != null) {
      f.dropped().complete(null);
    }
  }

  /** Fails request {@code requestId}, if it is still waiting. */
  void fail(long requestId, Reason reason, String detail, Throwable cause) {
    PendingFetch f = pending.remove(requestId);
    if (f != null) {
      f.fail(reason, detail, cause);
    }
  }

  /**
   * Records why the connection is being lost, unless a reason was recorded before (a timeout or a
   * protocol error closes the channel, whose closing must not hide the first reason).
   */
  void recordFailure(Reason reason, String detail, Throwable cause) {
    synchronized (pending) {
      if (failure == null) {
        failure = new Failure(reason, detail, cause);
      }
    }
  }

  private Failure finalFailure() {
    return transportClosed.getAsBoolean()
        ? new Failure(Reason.CLOSED, "the transport was closed", null)
        : failure;
  }

  /**
   * The connection is gone: every fetch outstanding fails with the first reason recorded (or this
   * one), and the transport forgets the connection. Called once the I/O thread has released what it
   * was receiving, so a failed fetch's allocator holds nothing of it.
   */
  void lost(Reason reason, String detail, Throwable cause) {
    recordFailure(reason, detail, cause);
    down = true;
    onLost.accept(this);
    Failure f = finalFailure();
    for (Long id : pending.keySet()) {
      fail(id, f.reason(), f.detail(), f.cause());
    }
    failDropping();
  }

  /** The connection is down: the owner's word will not come for the takes waiting for it. */
  private void failDropping() {
    Failure f = finalFailure();
    for (Long id : dropping.keySet()) {
      PendingFetch d = dropping.remove(id);
      if (d != null) {
        d.failDropped(
            new BlockTransportException(
                peer,
                d.blockId(),
                f.reason(),
                "the block came, but not the word that the peer dropped it: " + f.detail(),
                f.cause()));
      }
    }
  }
}
