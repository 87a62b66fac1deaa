package dev.sluice.cluster.internal;

import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.StreamSerializer;
import java.io.IOException;

/**
 * A Hazelcast serializer whose every value starts with a format version byte (Flink's {@code
 * SimpleVersionedSerializer}, in Hazelcast's shape). A writer always writes the newest format; a
 * reader reads every format it knows and refuses any other with an error naming the type and both
 * versions, instead of misreading the bytes: members of two Sluice versions fail loudly.
 *
 * @param <T> the type written
 */
public abstract class VersionedSerializer<T> implements StreamSerializer<T> {
  private final Class<T> type;
  private final int typeId;
  private final int version;

  /**
   * @param type the type written, for error messages
   * @param typeId its fixed id, from {@link SluiceTypeIds}
   * @param version the newest format, written by {@link #write}, 1 to 127
   */
  protected VersionedSerializer(Class<T> type, int typeId, int version) {
    if (version < 1 || version > Byte.MAX_VALUE) {
      throw new IllegalArgumentException("format version must be 1..127: " + version);
    }
    this.type = type;
    this.typeId = typeId;
    this.version = version;
  }

  /** The type this serializer writes. */
  public Class<T> type() {
    return type;
  }

  /** The newest format, the one written. */
  public int version() {
    return version;
  }

  @Override
  public final int getTypeId() {
    return typeId;
  }

  @Override
  public final void write(ObjectDataOutput out, T value) throws IOException {
    out.writeByte(version);
    writeBody(out, value);
  }

  @Override
  public final T read(ObjectDataInput in) throws IOException {
    int found = in.readByte();
    if (found < 1 || found > version) {
      throw new IOException(
          "cannot read "
              + type.getSimpleName()
              + " written in format "
              + found
              + ": this Sluice reads formats 1 to "
              + version
              + " (do all members run the same Sluice version?)");
    }
    return readBody(in, found);
  }

  /** Writes the value's fields in the newest format. */
  protected abstract void writeBody(ObjectDataOutput out, T value) throws IOException;

  /** Reads a value written in format {@code version} (1 to {@link #version()}). */
  protected abstract T readBody(ObjectDataInput in, int version) throws IOException;
}
