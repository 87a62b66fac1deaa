package dev.sluice.cluster.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.charset.StandardCharsets;

/**
 * The frames of the block transport, version {@value #VERSION}. Integers are big-endian.
 *
 * <p>Every frame starts with the same four bytes, whatever the version: the magic {@code 0x5342}
 * ("SB"), the protocol version, and the frame's kind. A peer of another version can therefore
 * always tell which version it met and say so, instead of misreading the rest.
 *
 * <pre>
 * request (client to server), {@value #REQUEST_BYTES} bytes:
 *   prelude | requestId: long | blockId: long | flags: byte (bit 0: take)
 * block (server to client):
 *   prelude | requestId: long | metaLength: int | bodyLength: long          ({@value #BLOCK_HEADER_BYTES} bytes)
 *   meta: schemaLength: int | schema (an Arrow IPC Schema message, flatbuffer)
 *       | batchLength: int | batch (an Arrow IPC RecordBatch message: nodes, buffer offsets, lengths)
 *       | sourceCount: int | sourceCount x (length: int | UTF-8 bytes)
 *   body: bodyLength bytes, the record batch's buffers at the offsets the batch message gives
 *         (8-aligned, zero padding between), exactly as in an Arrow IPC stream
 * error (server to client):
 *   prelude | requestId: long | code: byte | messageLength: int          ({@value #ERROR_HEADER_BYTES} bytes)
 *   message: UTF-8
 * received (client to server, after the block frame of a take), {@value #RECEIVED_BYTES} bytes:
 *   prelude | requestId: long | held: byte (1: the caller has the block, 0: it was refused)
 * dropped (server to client, after "received, held"), {@value #DROPPED_BYTES} bytes:
 *   prelude | requestId: long
 * </pre>
 *
 * <p>A take is settled by the receiver, not by the sender's write: the owner drops the block only
 * on "received, held". A block that was written out but could not be held (the receiving allocator
 * was full, the caller had cancelled) or whose connection was lost before the answer stays with its
 * owner, to be fetched again, so that a take never loses a block in flight. The owner answers
 * "received, held" with "dropped" once it has let go of the block: until then the receiver's side
 * counts the block's memory as the owner's (a scheduler placing work on the owner would otherwise
 * count on memory the block still takes there). Version 2 added the "dropped" frame.
 *
 * <p>Responses on a connection come in the order of its requests, but each names its request, so a
 * client never relies on the order. A server that meets another version answers with an error of
 * code {@link #ERROR_PROTOCOL} (request id 0) and closes the connection.
 */
final class WireFormat {
  static final short MAGIC = 0x5342;
  static final byte VERSION = 2;

  static final byte KIND_REQUEST = 1;
  static final byte KIND_BLOCK = 2;
  static final byte KIND_ERROR = 3;
  static final byte KIND_RECEIVED = 4;
  static final byte KIND_DROPPED = 5;

  static final int PRELUDE_BYTES = 4;
  static final int REQUEST_BYTES = PRELUDE_BYTES + 8 + 8 + 1;
  static final int BLOCK_HEADER_BYTES = PRELUDE_BYTES + 8 + 4 + 8;
  static final int ERROR_HEADER_BYTES = PRELUDE_BYTES + 8 + 1 + 4;
  static final int RECEIVED_BYTES = PRELUDE_BYTES + 8 + 1;
  static final int DROPPED_BYTES = PRELUDE_BYTES + 8;

  static final byte FLAG_TAKE = 1;

  /** The source does not hold the block. */
  static final byte ERROR_NOT_FOUND = 1;

  /** The source failed to give the block, or the block could not be encoded. */
  static final byte ERROR_REMOTE = 2;

  /** The request was not understood (another version, another protocol). */
  static final byte ERROR_PROTOCOL = 3;

  /** Frames larger than these are taken for garbage, not allocated for. */
  static final int MAX_META_BYTES = 64 << 20;

  static final int MAX_ERROR_BYTES = 1 << 20;

  private WireFormat() {}

  /**
   * Why the prelude at {@code in}'s reader index cannot be read by this version, or null when it
   * can. Needs {@link #PRELUDE_BYTES} readable bytes.
   */
  static String preludeProblem(ByteBuf in) {
    int at = in.readerIndex();
    short magic = in.getShort(at);
    if (magic != MAGIC) {
      return String.format(
          "not a Sluice block transport peer (frame starts with 0x%04x, expected 0x%04x)",
          magic & 0xffff, MAGIC);
    }
    byte version = in.getByte(at + 2);
    if (version != VERSION) {
      return "the peer speaks block transport protocol version "
          + version
          + ", this process speaks version "
          + VERSION;
    }
    return null;
  }

  /** The kind byte of the prelude at {@code in}'s reader index. */
  static byte kind(ByteBuf in) {
    return in.getByte(in.readerIndex() + 3);
  }

  static void writePrelude(ByteBuf out, byte kind) {
    out.writeShort(MAGIC).writeByte(VERSION).writeByte(kind);
  }

  /** A request frame. */
  static ByteBuf request(ByteBufAllocator alloc, long requestId, long blockId, boolean take) {
    ByteBuf out = alloc.buffer(REQUEST_BYTES);
    writePrelude(out, KIND_REQUEST);
    out.writeLong(requestId).writeLong(blockId).writeByte(take ? FLAG_TAKE : 0);
    return out;
  }

  /** A received frame: whether the block of take {@code requestId} is held by its caller. */
  static ByteBuf received(ByteBufAllocator alloc, long requestId, boolean held) {
    ByteBuf out = alloc.buffer(RECEIVED_BYTES);
    writePrelude(out, KIND_RECEIVED);
    out.writeLong(requestId).writeByte(held ? 1 : 0);
    return out;
  }

  /** A dropped frame: the owner has let go of the block of take {@code requestId}. */
  static ByteBuf dropped(ByteBufAllocator alloc, long requestId) {
    ByteBuf out = alloc.buffer(DROPPED_BYTES);
    writePrelude(out, KIND_DROPPED);
    out.writeLong(requestId);
    return out;
  }

  /** An error frame. */
  static ByteBuf error(ByteBufAllocator alloc, long requestId, byte code, String message) {
    byte[] text = message.getBytes(StandardCharsets.UTF_8);
    if (text.length > MAX_ERROR_BYTES) {
      text = java.util.Arrays.copyOf(text, MAX_ERROR_BYTES);
    }
    ByteBuf out = alloc.buffer(ERROR_HEADER_BYTES + text.length);
    writePrelude(out, KIND_ERROR);
    out.writeLong(requestId).writeByte(code).writeInt(text.length).writeBytes(text);
    return out;
  }

  /** "ExceptionClass: message" of a failure, for an error frame. */
  static String describe(Throwable t) {
    String m = t.getMessage();
    return m == null ? t.getClass().getName() : t.getClass().getSimpleName() + ": " + m;
  }
}
