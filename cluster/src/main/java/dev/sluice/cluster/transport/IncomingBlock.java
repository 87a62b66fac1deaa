package dev.sluice.cluster.transport;

import dev.sluice.loader.Batch;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.util.MemoryUtil;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.compression.NoCompressionCodec;
import org.apache.arrow.vector.ipc.message.ArrowFieldNode;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * A block being received: its metadata read, its body streaming into Arrow buffers of the receiving
 * allocator, by socket reads straight into them ({@link #readTarget}) or, for what comes in with
 * other bytes, by a copy from the read buffer.
 *
 * <p>Each Arrow buffer of the block gets an allocation of its own rather than one allocation for
 * the whole body: Arrow rounds an allocation up to a power of two, and a 4 MiB tensor column plus
 * its 128-byte validity in one body would be accounted as 8 MiB. So received blocks are accounted
 * as the same blocks built locally are.
 *
 * <p>Not thread-safe: lives on its connection's I/O thread. Until {@link #toBatch()} it owns its
 * buffers and {@link #close()} releases them.
 */
final class IncomingBlock implements AutoCloseable {

  /**
   * The metadata of a block frame.
   *
   * @param schema the columns (field metadata, and so tensor shapes, included)
   * @param rows the row count
   * @param nodes one per field, depth first (value and null counts)
   * @param offsets the offset of each Arrow buffer in the body
   * @param lengths the length of each Arrow buffer
   * @param variadicBufferCounts as the record batch message gives them
   * @param bodyLength the body's length as the record batch message gives it
   * @param sources the files the rows came from
   */
  record Meta(
      Schema schema,
      int rows,
      List<ArrowFieldNode> nodes,
      long[] offsets,
      long[] lengths,
      List<Long> variadicBufferCounts,
      long bodyLength,
      List<String> sources) {

    /**
     * Reads the metadata section of a block frame, its schema through the connection's cache.
     *
     * @throws IOException when it cannot be read, or describes a body this transport never sends
     *     (compressed, overlapping buffers)
     */
    static Meta read(ByteBuf meta, SchemaCache schemas) throws IOException {
      try {
        Schema schema = schemas.schemaOf(messageBytes(meta));
        Message batchMessage = message(meta, MessageHeader.RecordBatch);
        RecordBatch rb = (RecordBatch) batchMessage.header(new RecordBatch());
        if (rb.compression() != null) {
          throw new IOException("compressed record batch bodies are not supported");
        }
        if (rb.length() < 0 || rb.length() > Integer.MAX_VALUE) {
          throw new IOException("bad row count " + rb.length());
        }
        List<ArrowFieldNode> nodes = new ArrayList<>(rb.nodesLength());
        for (int i = 0; i < rb.nodesLength(); i++) {
          var node = rb.nodes(i);
          nodes.add(new ArrowFieldNode(node.length(), node.nullCount()));
        }
        long bodyLength = batchMessage.bodyLength();
        int n = rb.buffersLength();
        long[] offsets = new long[n];
        long[] lengths = new long[n];
        long end = 0;
        for (int i = 0; i < n; i++) {
          var b = rb.buffers(i);
          offsets[i] = b.offset();
          lengths[i] = b.length();
          if (offsets[i] < end || lengths[i] < 0 || offsets[i] + lengths[i] > bodyLength) {
            throw new IOException(
                "buffer "
                    + i
                    + " at "
                    + offsets[i]
                    + " of "
                    + lengths[i]
                    + " bytes does not fit a body of "
                    + bodyLength);
          }
          end = offsets[i] + lengths[i];
        }
        List<Long> variadic = new ArrayList<>(rb.variadicBufferCountsLength());
        for (int i = 0; i < rb.variadicBufferCountsLength(); i++) {
          variadic.add(rb.variadicBufferCounts(i));
        }
        int sourceCount = meta.readInt();
        if (sourceCount < 0 || sourceCount > meta.readableBytes() / 4) {
          throw new IOException("bad source count " + sourceCount);
        }
        List<String> sources = new ArrayList<>(sourceCount);
        for (int i = 0; i < sourceCount; i++) {
          int len = meta.readInt();
          if (len < 0 || len > meta.readableBytes()) {
            throw new IOException("bad source name length " + len);
          }
          sources.add(meta.readCharSequence(len, StandardCharsets.UTF_8).toString());
        }
        return new Meta(
            schema, (int) rb.length(), nodes, offsets, lengths, variadic, bodyLength, sources);
      } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
        throw new IOException("cannot read the block's metadata: " + e, e);
      }
    }

    // The bytes of one length-prefixed flatbuffer Message.
    private static byte[] messageBytes(ByteBuf meta) throws IOException {
      int len = meta.readInt();
      if (len < 0 || len > meta.readableBytes()) {
        throw new IOException("bad message length " + len);
      }
      byte[] bytes = new byte[len];
      meta.readBytes(bytes);
      return bytes;
    }

    // One length-prefixed flatbuffer Message of the expected header type.
    private static Message message(ByteBuf meta, byte headerType) throws IOException {
      Message m = Message.getRootAsMessage(ByteBuffer.wrap(messageBytes(meta)));
      if (m.headerType() != headerType) {
        throw new IOException(
            "expected an Arrow message of type "
                + MessageHeader.name(headerType)
                + ", got "
                + MessageHeader.name(m.headerType()));
      }
      return m;
    }
  }

  private final Meta meta;
  private final BufferAllocator into;
  private final ArrowBuf[] buffers;
  private long position;
  private int segment;
  private boolean handedOver;

  private IncomingBlock(Meta meta, BufferAllocator into, ArrowBuf[] buffers) {
    this.meta = meta;
    this.into = into;
    this.buffers = buffers;
  }

  /**
   * Allocates the block's buffers in {@code into}.
   *
   * @throws org.apache.arrow.memory.OutOfMemoryException when {@code into} cannot hold them (none
   *     stays allocated)
   */
  static IncomingBlock allocate(Meta meta, BufferAllocator into) {
    ArrowBuf[] buffers = new ArrowBuf[meta.offsets().length];
    try {
      for (int i = 0; i < buffers.length; i++) {
        long len = meta.lengths()[i];
        buffers[i] = len == 0 ? into.getEmpty() : into.buffer(len);
        buffers[i].writerIndex(len);
      }
    } catch (RuntimeException e) {
      for (ArrowBuf b : buffers) {
        if (b != null) {
          b.close();
        }
      }
      throw e;
    }
    return new IncomingBlock(meta, into, buffers);
  }

  /** Bytes of the body still to come. */
  long remaining() {
    return meta.bodyLength() - position;
  }

  /** Bytes of the body received so far. */
  long received() {
    return position;
  }

  /**
   * A buffer over the Arrow memory the next body bytes belong in, for a socket read to land there
   * ({@link BodyReadAllocator}): empty, writable up to {@code maxBytes} or the end of the Arrow
   * buffer, whichever comes first; it owns nothing (releasing it frees nothing). Null when the next
   * bytes are padding or fewer than {@code minBytes} remain in the Arrow buffer.
   */
  ByteBuf readTarget(int minBytes, int maxBytes) {
    long[] offsets = meta.offsets();
    long[] lengths = meta.lengths();
    int s = segment;
    while (s < offsets.length && position >= offsets[s] + lengths[s]) {
      s++;
    }
    if (s == offsets.length || position < offsets[s]) {
      return null;
    }
    long left = offsets[s] + lengths[s] - position;
    if (left < minBytes) {
      return null;
    }
    int n = (int) Math.min(left, maxBytes);
    return Unpooled.wrappedBuffer(buffers[s].nioBuffer(position - offsets[s], n)).clear();
  }

  /**
   * Takes as much of the body as {@code in} holds (up to its end) into the block's buffers: bytes
   * that a read put in place already ({@link #readTarget}) are only counted, others are copied.
   *
   * @return the bytes that were in place
   */
  long consume(ByteBuf in) {
    long inPlace = 0;
    long[] offsets = meta.offsets();
    long[] lengths = meta.lengths();
    while (in.isReadable() && position < meta.bodyLength()) {
      while (segment < offsets.length && position >= offsets[segment] + lengths[segment]) {
        segment++;
      }
      if (segment == offsets.length || position < offsets[segment]) {
        // Padding between buffers, or after the last.
        long gapEnd = segment == offsets.length ? meta.bodyLength() : offsets[segment];
        int skip = (int) Math.min(in.readableBytes(), gapEnd - position);
        in.skipBytes(skip);
        position += skip;
        continue;
      }
      long into = position - offsets[segment];
      int n = (int) Math.min(in.readableBytes(), lengths[segment] - into);
      ArrowBuf to = buffers[segment];
      long target = to.memoryAddress() + into;
      if (in.hasMemoryAddress() && in.memoryAddress() + in.readerIndex() == target) {
        inPlace += n;
      } else if (in.hasMemoryAddress()) {
        MemoryUtil.copyMemory(in.memoryAddress() + in.readerIndex(), target, n);
      } else {
        in.getBytes(in.readerIndex(), to.nioBuffer(into, n));
      }
      in.skipBytes(n);
      position += n;
    }
    return inPlace;
  }

  /**
   * The received block, its memory in the receiving allocator, owned by the caller. The buffers
   * move into it; this is spent.
   *
   * @throws RuntimeException when the body does not match the schema (and nothing stays allocated)
   */
  Batch toBatch() {
    VectorSchemaRoot root = VectorSchemaRoot.create(meta.schema(), into);
    // Our references to the buffers move into the record batch, and from it into the vectors,
    // which retain what they keep; closing the record batch then drops ours.
    handedOver = true;
    try (ArrowRecordBatch batch =
        new ArrowRecordBatch(
            meta.rows(),
            meta.nodes(),
            List.of(buffers),
            NoCompressionCodec.DEFAULT_BODY_COMPRESSION,
            meta.variadicBufferCounts(),
            /* alignBuffers */ true,
            /* retainBuffers */ false)) {
      new VectorLoader(root).load(batch);
    } catch (RuntimeException e) {
      root.close();
      throw e;
    }
    return new Batch(root, meta.sources());
  }

  /** Releases the buffers unless {@link #toBatch()} took them. Idempotent. */
  @Override
  public void close() {
    if (!handedOver) {
      handedOver = true;
      for (ArrowBuf b : buffers) {
        b.close();
      }
    }
  }
}
