package dev.sluice.cluster.transport;

import dev.sluice.loader.Batch;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of a connection: reads fetch requests (see {@link WireFormat}) and answers each,
 * in order, with its block or an error.
 *
 * <p>A block is written without copying its bytes ({@link OutgoingBlock}) and the {@link
 * BlockSource} is told it was {@linkplain BlockSource#sent sent} once the write has completed, not
 * before: until then the socket still reads the block's memory. A take is settled by the receiver's
 * word (see {@link WireFormat}): {@code sent(block, true)} once the write succeeded and the
 * receiver holds the block (and then the receiver is told, by a dropped frame, that the source has
 * let go of it), {@code sent(block, false)} when either failed or the connection was lost first.
 * Every {@code get} is followed by exactly one {@code sent}.
 *
 * <p>Backpressure: requests are no longer read while the connection's outbound buffer is above its
 * high water mark (a client asking faster than it reads), and read again once it drains below the
 * low mark, so that one client cannot queue unbounded work here.
 */
final class RequestHandler extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(RequestHandler.class);

  private final BlockSource source;
  private final TrafficCounters traffic;
  private InetAddress client; // the peer's IP address, the key of its traffic
  private ByteBuf requests; // bytes of requests not yet whole
  private final SchemaCache schemas = new SchemaCache();
  private final Map<Long, TakeInFlight> takes = new HashMap<>(); // by request id

  RequestHandler(BlockSource source, TrafficCounters traffic) {
    this.source = source;
    this.traffic = traffic;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    if (ctx.channel().remoteAddress() instanceof InetSocketAddress a) {
      client = a.getAddress();
    }
    super.channelActive(ctx);
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    requests = ctx.alloc().heapBuffer(WireFormat.REQUEST_BYTES * 16);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    // Takes the receiver never confirmed stay with the source; a block still being written is
    // given back by its write's failure.
    for (var it = takes.entrySet().iterator(); it.hasNext(); ) {
      TakeInFlight t = it.next().getValue();
      if (t.written != null) {
        it.remove();
        sent(t.blockId, false);
      } else {
        t.held = false;
      }
    }
    super.channelInactive(ctx);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    if (requests != null) {
      requests.release();
      requests = null;
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    ByteBuf in = (ByteBuf) msg;
    try {
      // Requests are small: gathering them costs nothing worth avoiding.
      requests.writeBytes(in);
    } finally {
      in.release();
    }
    decode(ctx, requests);
    requests.discardReadBytes();
  }

  private void decode(ChannelHandlerContext ctx, ByteBuf in) {
    // A closing transport starts no new answer: the requests left fail with the connection.
    while (in.readableBytes() >= WireFormat.PRELUDE_BYTES
        && ctx.channel().isActive()
        && !ctx.executor().isShuttingDown()) {
      String problem = WireFormat.preludeProblem(in);
      byte kind = WireFormat.kind(in);
      if (problem == null && kind != WireFormat.KIND_REQUEST && kind != WireFormat.KIND_RECEIVED) {
        problem = "unexpected frame kind " + kind + " from a client";
      }
      if (problem != null) {
        LOG.warn(
            "block transport: closing connection from {}: {}",
            ctx.channel().remoteAddress(),
            problem);
        in.skipBytes(in.readableBytes());
        ctx.writeAndFlush(WireFormat.error(ctx.alloc(), 0, WireFormat.ERROR_PROTOCOL, problem))
            .addListener(ChannelFutureListener.CLOSE);
        return;
      }
      if (kind == WireFormat.KIND_RECEIVED) {
        if (in.readableBytes() < WireFormat.RECEIVED_BYTES) {
          return;
        }
        in.skipBytes(WireFormat.PRELUDE_BYTES);
        long requestId = in.readLong();
        boolean held = in.readByte() != 0;
        TakeInFlight t = takes.get(requestId);
        if (t != null) {
          t.held = held;
          settle(ctx, requestId, t);
        }
        continue;
      }
      if (in.readableBytes() < WireFormat.REQUEST_BYTES) {
        return;
      }
      in.skipBytes(WireFormat.PRELUDE_BYTES);
      long requestId = in.readLong();
      long blockId = in.readLong();
      boolean take = (in.readByte() & WireFormat.FLAG_TAKE) != 0;
      serve(ctx, requestId, blockId, take);
    }
  }

  /**
   * A take whose block is being written or waits for the receiver's word: the source is told {@code
   * sent(block, true)} only when both the write succeeded and the receiver holds the block.
   */
  private static final class TakeInFlight {
    final long blockId;
    Boolean written; // null while writing
    Boolean held; // null until the receiver says

    TakeInFlight(long blockId) {
      this.blockId = blockId;
    }
  }

  /**
   * Settles a take once its write and the receiver's word are both in: the source drops a block the
   * receiver holds, and the receiver hears that it did (a dropped frame, see {@link WireFormat}).
   */
  private void settle(ChannelHandlerContext ctx, long requestId, TakeInFlight t) {
    if (Boolean.FALSE.equals(t.written)) {
      takes.remove(requestId);
      sent(t.blockId, false);
    } else if (t.written != null && t.held != null) {
      takes.remove(requestId);
      sent(t.blockId, t.held);
      if (t.held) {
        ctx.writeAndFlush(WireFormat.dropped(ctx.alloc(), requestId), ctx.voidPromise());
      }
    }
  }

  private void serve(ChannelHandlerContext ctx, long requestId, long blockId, boolean take) {
    Batch block;
    try {
      block = source.get(blockId);
    } catch (NoSuchElementException e) {
      answerError(ctx, requestId, WireFormat.ERROR_NOT_FOUND, messageOf(e));
      return;
    } catch (RuntimeException e) {
      answerError(
          ctx, requestId, WireFormat.ERROR_REMOTE, "its source failed: " + WireFormat.describe(e));
      return;
    }
    OutgoingBlock out;
    try {
      out = OutgoingBlock.encode(ctx.alloc(), requestId, block, schemas);
    } catch (RuntimeException e) {
      sent(blockId, false);
      answerError(
          ctx, requestId, WireFormat.ERROR_REMOTE, "cannot be encoded: " + WireFormat.describe(e));
      return;
    }
    ChannelPromise written = ctx.newPromise();
    List<ByteBuf> body = out.body();
    long bodyBytes = 0;
    for (ByteBuf piece : body) {
      bodyBytes += piece.readableBytes();
    }
    long counted = bodyBytes;
    if (body.isEmpty()) {
      ctx.write(out.header(), written);
    } else {
      ctx.write(out.header());
      for (int i = 0; i < body.size() - 1; i++) {
        ctx.write(body.get(i));
      }
      // Writes complete in order: once the last piece is written, all are (or all failed).
      ctx.write(body.get(body.size() - 1), written);
    }
    TakeInFlight t = take ? new TakeInFlight(blockId) : null;
    if (t != null) {
      takes.put(requestId, t);
    }
    written.addListener(
        f -> {
          out.close();
          if (f.isSuccess() && client != null) {
            traffic.sent(client, counted);
          }
          if (t == null) {
            sent(blockId, false);
          } else {
            t.written = f.isSuccess();
            if (takes.get(requestId) == t) {
              settle(ctx, requestId, t);
            }
          }
        });
    ctx.flush();
  }

  private void sent(long blockId, boolean take) {
    try {
      source.sent(blockId, take);
    } catch (RuntimeException e) {
      LOG.warn("block transport: the source failed on sent({}, {})", blockId, take, e);
    }
  }

  private static void answerError(
      ChannelHandlerContext ctx, long requestId, byte code, String text) {
    ctx.writeAndFlush(WireFormat.error(ctx.alloc(), requestId, code, text));
  }

  private static String messageOf(Throwable t) {
    return t.getMessage() != null ? t.getMessage() : t.getClass().getName();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    ctx.channel().config().setAutoRead(ctx.channel().isWritable());
    super.channelWritabilityChanged(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A client that went away mid-response: its connection closes and the writes fail, which
    // gives the blocks back to the source (sent without take).
    LOG.debug("block transport: connection from {} failed", ctx.channel().remoteAddress(), cause);
    ctx.close();
  }
}
