package dev.sluice.cluster.transport;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.vector.ipc.message.IpcOption;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The last schema a connection sent or received, with its IPC bytes: blocks of one stream share
 * their schema, so it is encoded (flatbuffer building) or decoded (fields, metadata maps, strings)
 * once per change rather than once per block. Every frame still carries the schema's bytes, so a
 * frame stands alone; only the work of converting them is saved. One per connection side, used on
 * its I/O thread only.
 */
final class SchemaCache {
  private Schema schema;
  private byte[] bytes;

  /** The IPC Schema message of {@code s}, encoded again only when it differs from the last. */
  byte[] bytesOf(Schema s) {
    if (s != schema && !s.equals(schema)) {
      ByteBuffer b = MessageSerializer.serializeMetadata(s, IpcOption.DEFAULT);
      byte[] out = new byte[b.remaining()];
      b.get(out);
      schema = s;
      bytes = out;
    }
    return bytes;
  }

  /**
   * The schema of an IPC Schema message, decoded again only when its bytes differ from the last.
   */
  Schema schemaOf(byte[] message) {
    if (!Arrays.equals(message, bytes)) {
      Schema s =
          MessageSerializer.deserializeSchema(Message.getRootAsMessage(ByteBuffer.wrap(message)));
      schema = s;
      bytes = message;
    }
    return schema;
  }
}
