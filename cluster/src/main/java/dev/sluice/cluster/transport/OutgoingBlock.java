package dev.sluice.cluster.transport;

import dev.sluice.loader.Batch;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.message.ArrowBuffer;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A block frame ready to be written (see {@link WireFormat}): its header and metadata in one small
 * buffer, and its body as buffers that <em>wrap</em> the block's Arrow memory, so that the bytes go
 * from the block to the socket without a copy in user space.
 *
 * <p>It holds a reference to every Arrow buffer of the block ({@link VectorUnloader} retains them)
 * until {@link #close()}: the memory stays valid while the socket reads it even if the block's
 * owner closes the block meanwhile (another reader's take). Close it once the write has completed,
 * whether it succeeded or failed.
 */
final class OutgoingBlock implements AutoCloseable {
  // Larger Arrow buffers are wrapped in pieces: a ByteBuffer holds at most 2 GiB.
  private static final int MAX_PIECE = 1 << 30;
  private static final ByteBuf ZEROS =
      Unpooled.unreleasableBuffer(Unpooled.wrappedBuffer(new byte[8]).asReadOnly());

  private final ArrowRecordBatch batch;
  private final ByteBuf header;
  private final List<ByteBuf> body;
  private boolean closed;

  private OutgoingBlock(ArrowRecordBatch batch, ByteBuf header, List<ByteBuf> body) {
    this.batch = batch;
    this.header = header;
    this.body = body;
  }

  /**
   * Encodes {@code block} as the answer to request {@code requestId}. The block stays its owner's;
   * its buffers are retained until {@link #close()}. The schema's bytes come from {@code schemas}
   * (the connection's last schema).
   *
   * @throws IllegalArgumentException when the block cannot be sent (a dictionary-encoded column)
   */
  static OutgoingBlock encode(
      ByteBufAllocator alloc, long requestId, Batch block, SchemaCache schemas) {
    Schema schema = block.schema();
    for (Field f : schema.getFields()) {
      checkNoDictionary(f);
    }
    ArrowRecordBatch batch = new VectorUnloader(block.root()).getRecordBatch();
    ByteBuf header = null;
    try {
      byte[] schemaBytes = schemas.bytesOf(schema);
      byte[] batchBytes = bytes(MessageSerializer.serializeMetadata(batch, IpcOption.DEFAULT));
      List<byte[]> sources = new ArrayList<>();
      int metaLength = 4 + schemaBytes.length + 4 + batchBytes.length + 4;
      for (String s : block.sources()) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        sources.add(b);
        metaLength += 4 + b.length;
      }
      if (metaLength > WireFormat.MAX_META_BYTES) {
        throw new IllegalArgumentException(
            "the block's metadata takes " + metaLength + " bytes, over the frame limit");
      }
      long bodyLength = batch.computeBodyLength();
      header = alloc.buffer(WireFormat.BLOCK_HEADER_BYTES + metaLength);
      WireFormat.writePrelude(header, WireFormat.KIND_BLOCK);
      header.writeLong(requestId).writeInt(metaLength).writeLong(bodyLength);
      header.writeInt(schemaBytes.length).writeBytes(schemaBytes);
      header.writeInt(batchBytes.length).writeBytes(batchBytes);
      header.writeInt(sources.size());
      for (byte[] s : sources) {
        header.writeInt(s.length).writeBytes(s);
      }
      return new OutgoingBlock(batch, header, body(batch, bodyLength));
    } catch (RuntimeException e) {
      if (header != null) {
        header.release();
      }
      batch.close();
      throw e;
    }
  }

  // The buffers at the offsets of the batch's layout, zero padding between, padded to bodyLength.
  private static List<ByteBuf> body(ArrowRecordBatch batch, long bodyLength) {
    List<ArrowBuf> buffers = batch.getBuffers();
    List<ArrowBuffer> layout = batch.getBuffersLayout();
    List<ByteBuf> pieces = new ArrayList<>(buffers.size() * 2 + 1);
    long at = 0;
    for (int i = 0; i < buffers.size(); i++) {
      ArrowBuf buf = buffers.get(i);
      ArrowBuffer place = layout.get(i);
      pad(pieces, place.getOffset() - at);
      long size = place.getSize();
      for (long done = 0; done < size; ) {
        int n = (int) Math.min(MAX_PIECE, size - done);
        pieces.add(Unpooled.wrappedBuffer(buf.nioBuffer(buf.readerIndex() + done, n)));
        done += n;
      }
      at = place.getOffset() + size;
    }
    pad(pieces, bodyLength - at);
    return pieces;
  }

  private static void pad(List<ByteBuf> pieces, long n) {
    if (n < 0 || n >= ZEROS.capacity()) {
      throw new IllegalStateException("unexpected gap of " + n + " bytes in an Arrow body layout");
    }
    if (n > 0) {
      pieces.add(ZEROS.slice(0, (int) n));
    }
  }

  private static void checkNoDictionary(Field f) {
    if (f.getDictionary() != null) {
      throw new IllegalArgumentException(
          "column '" + f.getName() + "' is dictionary-encoded, which the transport does not send");
    }
    for (Field c : f.getChildren()) {
      checkNoDictionary(c);
    }
  }

  private static byte[] bytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
  }

  /** The frame's header and metadata; the writer releases it (as Netty does once written). */
  ByteBuf header() {
    return header;
  }

  /**
   * The body's pieces, in order: wrappers of the block's memory (and zero padding) that own
   * nothing, so releasing them frees nothing.
   */
  List<ByteBuf> body() {
    return body;
  }

  /** Releases the references to the block's buffers. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      batch.close();
    }
  }
}
