package dev.sluice.cluster.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelConfig;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.util.UncheckedBooleanSupplier;
import java.util.function.IntFunction;

/**
 * Where a client connection reads into: while a block's body is coming, straight into the block's
 * Arrow buffer; otherwise into buffers of Netty's adaptive sizing.
 *
 * <p>Why: a socket read into a Netty buffer followed by a copy into the Arrow buffer costs the
 * receiver a second pass over every byte, about a third of its CPU in the {@code transport}
 * benchmark (a plain socket reads into the Arrow buffer at once). Netty's read loop asks this
 * allocator for the buffer of each read; during a body it gets a buffer that wraps (and owns
 * nothing of) the part of the Arrow buffer the next bytes belong in, and the decoder, finding the
 * bytes already where they go, copies nothing. Padding between Arrow buffers, headers and metadata,
 * and the last few bytes of a buffer (under {@code minDirectBytes}) are read as before.
 *
 * <p>One per channel: it answers for its channel's decoder. Netty calls it on the channel's I/O
 * thread only, as it calls the decoder.
 */
final class BodyReadAllocator implements RecvByteBufAllocator {
  private final RecvByteBufAllocator sizing;
  private final IntFunction<ByteBuf> bodyTarget;

  /**
   * @param sizing the allocator of every read that is not into a body (adaptive sizing); its
   *     handles must be {@link ExtendedHandle}s, as Netty's own are
   * @param bodyTarget given the most bytes the next read may take, a buffer over the Arrow memory
   *     they belong in, or null when the next bytes are not a body's (see {@link
   *     ResponseDecoder#bodyTarget})
   */
  BodyReadAllocator(RecvByteBufAllocator sizing, IntFunction<ByteBuf> bodyTarget) {
    this.sizing = sizing;
    this.bodyTarget = bodyTarget;
  }

  @Override
  public Handle newHandle() {
    return new BodyHandle((ExtendedHandle) sizing.newHandle());
  }

  // Netty's handle in all but the buffer of a body's read.
  private final class BodyHandle implements ExtendedHandle {
    private final ExtendedHandle sized;

    BodyHandle(ExtendedHandle sized) {
      this.sized = sized;
    }

    @Override
    public ByteBuf allocate(ByteBufAllocator alloc) {
      ByteBuf target = bodyTarget.apply(sized.guess());
      return target != null ? target : sized.allocate(alloc);
    }

    @Override
    public int guess() {
      return sized.guess();
    }

    @Override
    public void reset(ChannelConfig config) {
      sized.reset(config);
    }

    @Override
    public void incMessagesRead(int numMessages) {
      sized.incMessagesRead(numMessages);
    }

    @Override
    public void lastBytesRead(int bytes) {
      sized.lastBytesRead(bytes);
    }

    @Override
    public int lastBytesRead() {
      return sized.lastBytesRead();
    }

    @Override
    public void attemptedBytesRead(int bytes) {
      sized.attemptedBytesRead(bytes);
    }

    @Override
    public int attemptedBytesRead() {
      return sized.attemptedBytesRead();
    }

    @Override
    public boolean continueReading() {
      return sized.continueReading();
    }

    @Override
    public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
      return sized.continueReading(maybeMoreDataSupplier);
    }

    @Override
    public void readComplete() {
      sized.readComplete();
    }
  }
}
