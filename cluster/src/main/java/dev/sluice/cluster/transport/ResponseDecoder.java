package dev.sluice.cluster.transport;

import dev.sluice.cluster.transport.BlockTransportException.Reason;
import dev.sluice.loader.Batch;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.apache.arrow.memory.OutOfMemoryException;

/**
 * The client side of a connection: reads the server's frames (see {@link WireFormat}) as they
 * stream in and completes the fetches they answer.
 *
 * <p>A block's body is never gathered in Netty buffers: once its metadata is read, its Arrow
 * buffers are allocated in the fetch's allocator and the socket reads straight into them ({@link
 * #bodyTarget}, {@link BodyReadAllocator}); body bytes that arrive with other bytes in one read are
 * copied into them ({@link IncomingBlock}). When the allocator cannot hold the block, the fetch
 * fails at once and the body's bytes are skipped as they come, so the connection stays usable for
 * the fetches after it. Only frame headers, metadata and error texts are gathered (small).
 *
 * <p>Frames this version cannot read (another protocol, another version, a frame of an unknown
 * kind) lose the connection: every fetch on it fails with {@link Reason#PROTOCOL} and the reason. A
 * peer that sends nothing for longer than the response timeout while fetches (or takes waiting for
 * its word that it dropped their blocks) wait for it loses it with {@link Reason#TIMEOUT}.
 *
 * <p>Lives on the connection's I/O thread: not thread-safe, needs not be.
 */
final class ResponseDecoder extends ChannelInboundHandlerAdapter {
  /** The connection a channel belongs to, set on the channel before it connects. */
  static final AttributeKey<PeerConnection> CONNECTION =
      AttributeKey.valueOf(ResponseDecoder.class, "connection");

  private enum State {
    HEADER,
    META,
    BODY,
    SKIP,
    ERROR_TEXT
  }

  private final PeerConnection connection;
  private final long responseTimeoutNanos;
  private final LongAdder bytesInPlace;
  private final LongAdder bytesCopied;
  private final TrafficCounters traffic;

  private State state = State.HEADER;
  private ByteBuf gathered; // header, metadata or error text being gathered
  private int wanted; // bytes to gather in the current state
  private long requestId;
  private long bodyLength;
  private long skipLeft;
  private byte errorCode;
  private PendingFetch current; // the fetch the frame answers, null when nobody waits for it
  private IncomingBlock incoming;
  private ScheduledFuture<?> timeoutCheck;
  private final SchemaCache schemas = new SchemaCache();

  /**
   * @param connection the connection whose fetches the frames answer
   * @param responseTimeoutNanos how long fetches may wait without a byte from the peer
   * @param bytesInPlace counts body bytes a socket read put where they belong
   * @param bytesCopied counts body bytes copied from a read buffer
   * @param traffic counts the blocks whose bodies arrived in full, by peer
   */
  ResponseDecoder(
      PeerConnection connection,
      long responseTimeoutNanos,
      LongAdder bytesInPlace,
      LongAdder bytesCopied,
      TrafficCounters traffic) {
    this.connection = connection;
    this.traffic = traffic;
    this.bytesInPlace = bytesInPlace;
    this.bytesCopied = bytesCopied;
    this.responseTimeoutNanos = responseTimeoutNanos;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    gathered = ctx.alloc().heapBuffer(WireFormat.BLOCK_HEADER_BYTES);
    wanted = WireFormat.PRELUDE_BYTES;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    long period = Math.max(TimeUnit.MILLISECONDS.toNanos(10), responseTimeoutNanos / 4);
    timeoutCheck =
        ctx.executor()
            .scheduleAtFixedRate(() -> checkTimeout(ctx), period, period, TimeUnit.NANOSECONDS);
    super.channelActive(ctx);
  }

  private void checkTimeout(ChannelHandlerContext ctx) {
    long idle = System.nanoTime() - connection.lastActivityNanos();
    // Takes waiting for the owner's word count too: a word that never comes would leave their
    // blocks counted as the owner's for ever.
    if (connection.awaiting() > 0 && idle > responseTimeoutNanos) {
      connection.recordFailure(
          Reason.TIMEOUT,
          "no byte from the peer for "
              + TimeUnit.NANOSECONDS.toMillis(idle)
              + " ms with "
              + connection.outstanding()
              + " fetches outstanding and "
              + (connection.awaiting() - connection.outstanding())
              + " takes not yet confirmed dropped",
          null);
      ctx.close();
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    try {
      connection.touch();
      while (in.isReadable() && ctx.channel().isActive()) {
        step(ctx, in);
      }
    } catch (IOException e) {
      connection.recordFailure(Reason.PROTOCOL, e.getMessage(), e);
      ctx.close();
    } finally {
      in.release();
    }
  }

  private void step(ChannelHandlerContext ctx, ByteBuf in) throws IOException {
    switch (state) {
      case HEADER -> {
        if (!gather(in)) {
          return;
        }
        if (gathered.readableBytes() == WireFormat.PRELUDE_BYTES) {
          String problem = WireFormat.preludeProblem(gathered);
          if (problem != null) {
            throw new IOException(problem);
          }
          byte kind = WireFormat.kind(gathered);
          if (kind == WireFormat.KIND_BLOCK) {
            wanted = WireFormat.BLOCK_HEADER_BYTES;
          } else if (kind == WireFormat.KIND_ERROR) {
            wanted = WireFormat.ERROR_HEADER_BYTES;
          } else if (kind == WireFormat.KIND_DROPPED) {
            wanted = WireFormat.DROPPED_BYTES;
          } else {
            throw new IOException("unexpected frame kind " + kind + " from the server");
          }
          return;
        }
        gathered.skipBytes(WireFormat.PRELUDE_BYTES - 1);
        byte kind = gathered.readByte();
        requestId = gathered.readLong();
        if (kind == WireFormat.KIND_DROPPED) {
          connection.dropped(requestId);
          next(State.HEADER, WireFormat.PRELUDE_BYTES);
          return;
        }
        current = connection.pending(requestId);
        if (kind == WireFormat.KIND_BLOCK) {
          int metaLength = gathered.readInt();
          bodyLength = gathered.readLong();
          if (metaLength < 0 || metaLength > WireFormat.MAX_META_BYTES || bodyLength < 0) {
            throw new IOException(
                "bad block frame: "
                    + metaLength
                    + " bytes of metadata, "
                    + bodyLength
                    + " of body");
          }
          next(State.META, metaLength);
        } else {
          errorCode = gathered.readByte();
          int textLength = gathered.readInt();
          if (textLength < 0 || textLength > WireFormat.MAX_ERROR_BYTES) {
            throw new IOException("bad error frame: " + textLength + " bytes of text");
          }
          next(State.ERROR_TEXT, textLength);
        }
      }
      case META -> {
        if (gather(in)) {
          startBody(ctx);
        }
      }
      case BODY -> {
        int before = in.readableBytes();
        long inPlace = incoming.consume(in);
        bytesInPlace.add(inPlace);
        bytesCopied.add(before - in.readableBytes() - inPlace);
        if (incoming.remaining() == 0) {
          finishBody(ctx);
        }
      }
      case SKIP -> {
        int n = (int) Math.min(in.readableBytes(), skipLeft);
        in.skipBytes(n);
        skipLeft -= n;
        if (skipLeft == 0) {
          traffic.received(connection.peer(), bodyLength); // crossed, though nobody took it
          next(State.HEADER, WireFormat.PRELUDE_BYTES);
        }
      }
      case ERROR_TEXT -> {
        if (gather(in)) {
          String text = gathered.toString(StandardCharsets.UTF_8);
          Reason reason =
              switch (errorCode) {
                case WireFormat.ERROR_NOT_FOUND -> Reason.NOT_FOUND;
                case WireFormat.ERROR_PROTOCOL -> Reason.PROTOCOL;
                default -> Reason.REMOTE;
              };
          String detail =
              reason == Reason.NOT_FOUND
                  ? "the peer does not hold it: " + text
                  : "the peer says: " + text;
          if (reason == Reason.PROTOCOL) {
            // The server closes the connection after such an answer: every fetch on it fails so.
            connection.recordFailure(reason, detail, null);
          }
          connection.fail(requestId, reason, detail, null);
          next(State.HEADER, WireFormat.PRELUDE_BYTES);
        }
      }
      default -> throw new IllegalStateException(String.valueOf(state));
    }
  }

  /** Bytes of an Arrow buffer left below which a read goes through a Netty buffer after all. */
  static final int MIN_DIRECT_READ = 16 << 10;

  /**
   * Where the next socket read should land ({@link BodyReadAllocator}): inside the Arrow buffer of
   * the body being received, when one is and enough of its current buffer is left; else null.
   *
   * @param maxBytes the most the read may take
   */
  ByteBuf bodyTarget(int maxBytes) {
    return state == State.BODY && incoming != null
        ? incoming.readTarget(MIN_DIRECT_READ, maxBytes)
        : null;
  }

  /** Gathers up to {@link #wanted} bytes; true once they are all there. */
  private boolean gather(ByteBuf in) {
    int n = Math.min(in.readableBytes(), wanted - gathered.readableBytes());
    gathered.writeBytes(in, n);
    return gathered.readableBytes() == wanted;
  }

  private void next(State s, int toGather) {
    state = s;
    gathered.clear();
    wanted = toGather;
    if (s == State.HEADER) {
      current = null;
    }
  }

  // The metadata is gathered: allocate the block's buffers, or fail the fetch and skip the body.
  private void startBody(ChannelHandlerContext ctx) {
    IncomingBlock.Meta meta;
    try {
      meta = IncomingBlock.Meta.read(gathered, schemas);
      if (meta.bodyLength() != bodyLength) {
        throw new IOException(
            "the frame's body is " + bodyLength + " bytes, the batch's " + meta.bodyLength());
      }
    } catch (IOException e) {
      connection.fail(requestId, Reason.PROTOCOL, e.getMessage(), e);
      settle(ctx, false);
      skipBody();
      return;
    }
    if (current == null) {
      settle(ctx, false);
      skipBody(); // nobody waits (failed meanwhile): the bytes still come
      return;
    }
    try {
      incoming = IncomingBlock.allocate(meta, current.into());
    } catch (OutOfMemoryException | IllegalStateException e) {
      // IllegalStateException: the allocator was closed.
      var into = current.into();
      connection.fail(
          requestId,
          Reason.MEMORY,
          "the receiving allocator '"
              + into.getName()
              + "' cannot hold its "
              + bodyLength
              + " bytes (limit "
              + into.getLimit()
              + ", allocated "
              + into.getAllocatedMemory()
              + "): "
              + WireFormat.describe(e),
          e);
      settle(ctx, false);
      skipBody();
      return;
    }
    state = State.BODY;
    if (bodyLength == 0) {
      finishBody(ctx);
    }
  }

  /**
   * Tells the server whether the block of a take is held here, which settles the take there (see
   * {@link WireFormat}): a block refused stays with its owner. Sent for a frame nobody waits for
   * too (the server ignores it for a read that keeps).
   */
  private void settle(ChannelHandlerContext ctx, boolean held) {
    if (current == null || current.take()) {
      ctx.writeAndFlush(WireFormat.received(ctx.alloc(), requestId, held), ctx.voidPromise());
    }
  }

  private void skipBody() {
    skipLeft = bodyLength;
    if (skipLeft == 0) {
      traffic.received(connection.peer(), 0);
    }
    next(skipLeft == 0 ? State.HEADER : State.SKIP, WireFormat.PRELUDE_BYTES);
  }

  private void finishBody(ChannelHandlerContext ctx) {
    IncomingBlock block = incoming;
    incoming = null;
    traffic.received(connection.peer(), bodyLength);
    Batch batch;
    try {
      batch = block.toBatch();
    } catch (OutOfMemoryException e) {
      block.close();
      connection.fail(
          requestId, Reason.MEMORY, "the receiving allocator cannot hold it: " + e.getMessage(), e);
      settle(ctx, false);
      next(State.HEADER, WireFormat.PRELUDE_BYTES);
      return;
    } catch (RuntimeException e) {
      block.close();
      connection.fail(
          requestId,
          Reason.PROTOCOL,
          "the body does not match its metadata: " + WireFormat.describe(e),
          e);
      settle(ctx, false);
      next(State.HEADER, WireFormat.PRELUDE_BYTES);
      return;
    }
    settle(ctx, connection.complete(requestId, batch));
    next(State.HEADER, WireFormat.PRELUDE_BYTES);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    connection.recordFailure(
        Reason.CONNECTION, "the connection failed: " + WireFormat.describe(cause), cause);
    ctx.close();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    String detail = describeLoss();
    release();
    connection.lost(Reason.CONNECTION, detail, null);
    super.channelInactive(ctx);
  }

  private String describeLoss() {
    StringBuilder sb =
        new StringBuilder("the connection was closed with ")
            .append(connection.outstanding())
            .append(" fetches outstanding");
    if (incoming != null) {
      sb.append(" (block of request ")
          .append(requestId)
          .append(" half received: ")
          .append(incoming.received())
          .append(" of ")
          .append(bodyLength)
          .append(" body bytes)");
    }
    return sb.toString();
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    release();
  }

  // What a lost connection leaves half read; idempotent.
  private void release() {
    if (timeoutCheck != null) {
      timeoutCheck.cancel(false);
      timeoutCheck = null;
    }
    if (incoming != null) {
      incoming.close();
      incoming = null;
    }
    if (gathered != null) {
      gathered.release();
      gathered = null;
    }
  }
}
