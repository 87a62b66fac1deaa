package dev.sluice.cluster.wire;

import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The wire form of what the scheduler and a node say to each other: task specs, block references
 * with their lineage, and task outcomes. Written field by field with {@link DataOutput} (so
 * Hazelcast's {@code ObjectDataOutput} carries it as it is), never by Java serialization: nothing
 * but these values can be read back, whatever the bytes say.
 *
 * <p>Each top-level value starts with {@link #VERSION}; a reader refuses another version with an
 * error naming both, so two members of different Sluice versions fail at the first message instead
 * of misreading each other. Lineages nest (a derived block's inputs); a reader refuses a nesting
 * deeper than {@link #MAX_DEPTH} or a list longer than {@link #MAX_LIST} rather than trusting a
 * length from the wire.
 */
public final class SpecCodec {
  /** The format's version: one more on every incompatible change. */
  public static final int VERSION = 1;

  /** The deepest lineage a reader accepts (a plan of that many operators). */
  public static final int MAX_DEPTH = 256;

  /** The longest list a reader accepts (inputs of a task, hosts of a block). */
  public static final int MAX_LIST = 1 << 20;

  private static final byte READ_BLOCK = 1;
  private static final byte MAP_BUNDLE = 2;
  private static final byte REMAKE = 3;
  private static final byte LINEAGE_READ = 1;
  private static final byte LINEAGE_DERIVED = 2;

  private SpecCodec() {}

  // ---- task specs

  /** Writes a task spec, with the version. */
  public static void writeSpec(DataOutput out, TaskSpec spec) throws IOException {
    out.writeByte(VERSION);
    if (spec instanceof TaskSpec.ReadBlock r) {
      out.writeByte(READ_BLOCK);
      out.writeInt(r.operator());
      out.writeInt(r.split());
      out.writeInt(r.attempt());
      out.writeLong(r.sequence());
      out.writeLong(r.fromRow());
      out.writeDouble(r.bytesOutPerRow());
    } else if (spec instanceof TaskSpec.MapBundle m) {
      out.writeByte(MAP_BUNDLE);
      out.writeInt(m.operator());
      out.writeInt(m.inputs().size());
      for (TaskSpec.Input in : m.inputs()) {
        writeRefBody(out, in.block());
        out.writeInt(in.from());
        out.writeInt(in.to());
      }
    } else {
      TaskSpec.Remake r = (TaskSpec.Remake) spec;
      out.writeByte(REMAKE);
      out.writeInt(r.operator());
      writeLineage(out, r.lineage(), 0);
      writeStrings(out, r.hosts());
    }
  }

  /** Reads a task spec written by {@link #writeSpec}. */
  public static TaskSpec readSpec(DataInput in) throws IOException {
    checkVersion(in, "task spec");
    try {
      return readSpecBody(in);
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IOException("a malformed task spec: " + e.getMessage(), e);
    }
  }

  private static TaskSpec readSpecBody(DataInput in) throws IOException {
    byte kind = in.readByte();
    switch (kind) {
      case READ_BLOCK:
        return new TaskSpec.ReadBlock(
            in.readInt(),
            in.readInt(),
            in.readInt(),
            in.readLong(),
            in.readLong(),
            in.readDouble());
      case MAP_BUNDLE:
        {
          int operator = in.readInt();
          int n = length(in, "task inputs");
          List<TaskSpec.Input> inputs = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            BlockRef ref = readRefBody(in);
            inputs.add(new TaskSpec.Input(ref, in.readInt(), in.readInt()));
          }
          return new TaskSpec.MapBundle(operator, inputs);
        }
      case REMAKE:
        {
          int operator = in.readInt();
          Lineage lineage = readLineage(in, 0);
          return new TaskSpec.Remake(operator, lineage, readStrings(in));
        }
      default:
        throw new IOException("unknown task spec kind " + kind);
    }
  }

  // ---- block references

  /** Writes a block reference, with the version. */
  public static void writeRef(DataOutput out, BlockRef ref) throws IOException {
    out.writeByte(VERSION);
    writeRefBody(out, ref);
  }

  /** Reads a block reference written by {@link #writeRef}. */
  public static BlockRef readRef(DataInput in) throws IOException {
    checkVersion(in, "block reference");
    try {
      return readRefBody(in);
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IOException("a malformed block reference: " + e.getMessage(), e);
    }
  }

  private static void writeRefBody(DataOutput out, BlockRef ref) throws IOException {
    out.writeLong(ref.id());
    out.writeUTF(ref.owner());
    writeLineage(out, ref.lineage(), 0);
    out.writeInt(ref.rows());
    out.writeLong(ref.bytes());
    writeStrings(out, ref.hosts());
  }

  private static BlockRef readRefBody(DataInput in) throws IOException {
    long id = in.readLong();
    String owner = in.readUTF();
    Lineage lineage = readLineage(in, 0);
    int rows = in.readInt();
    long bytes = in.readLong();
    return new BlockRef(id, owner, lineage, rows, bytes, readStrings(in));
  }

  // ---- outcomes

  /** Writes a task outcome, with the version. */
  public static void writeOutcome(DataOutput out, TaskOutcome o) throws IOException {
    out.writeByte(VERSION);
    out.writeBoolean(o.output() != null);
    if (o.output() != null) {
      writeRefBody(out, o.output());
    }
    out.writeLong(o.rowsIn());
    out.writeLong(o.bytesIn());
    out.writeLong(o.peakBytes());
    out.writeLong(o.wallNanos());
    out.writeLong(o.cpuNanos());
    out.writeBoolean(o.exhausted());
  }

  /** Reads a task outcome written by {@link #writeOutcome}. */
  public static TaskOutcome readOutcome(DataInput in) throws IOException {
    checkVersion(in, "task outcome");
    try {
      BlockRef output = in.readBoolean() ? readRefBody(in) : null;
      return new TaskOutcome(
          output,
          in.readLong(),
          in.readLong(),
          in.readLong(),
          in.readLong(),
          in.readLong(),
          in.readBoolean());
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IOException("a malformed task outcome: " + e.getMessage(), e);
    }
  }

  // ---- lineage

  private static void writeLineage(DataOutput out, Lineage lineage, int depth) throws IOException {
    if (depth > MAX_DEPTH) {
      throw new IOException("lineage deeper than " + MAX_DEPTH + ": " + lineage.dedupKey());
    }
    if (lineage instanceof Lineage.Read r) {
      out.writeByte(LINEAGE_READ);
      out.writeInt(r.operator());
      out.writeUTF(r.chain());
      out.writeInt(r.split());
      out.writeInt(r.attempt());
      out.writeLong(r.sequence());
      out.writeLong(r.fromRow());
      out.writeLong(r.toRow());
    } else {
      Lineage.Derived d = (Lineage.Derived) lineage;
      out.writeByte(LINEAGE_DERIVED);
      out.writeInt(d.operator());
      out.writeUTF(d.chain());
      out.writeInt(d.inputs().size());
      for (Lineage.Slice s : d.inputs()) {
        writeLineage(out, s.block(), depth + 1);
        out.writeInt(s.from());
        out.writeInt(s.to());
        out.writeInt(s.rows());
      }
    }
  }

  private static Lineage readLineage(DataInput in, int depth) throws IOException {
    if (depth > MAX_DEPTH) {
      throw new IOException("lineage deeper than " + MAX_DEPTH);
    }
    byte kind = in.readByte();
    if (kind == LINEAGE_READ) {
      return new Lineage.Read(
          in.readInt(),
          in.readUTF(),
          in.readInt(),
          in.readInt(),
          in.readLong(),
          in.readLong(),
          in.readLong());
    }
    if (kind != LINEAGE_DERIVED) {
      throw new IOException("unknown lineage kind " + kind);
    }
    int operator = in.readInt();
    String chain = in.readUTF();
    int n = length(in, "lineage inputs");
    List<Lineage.Slice> slices = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Lineage block = readLineage(in, depth + 1);
      slices.add(new Lineage.Slice(block, in.readInt(), in.readInt(), in.readInt()));
    }
    return new Lineage.Derived(operator, chain, slices);
  }

  // ---- helpers

  private static void writeStrings(DataOutput out, List<String> strings) throws IOException {
    out.writeInt(strings.size());
    for (String s : strings) {
      out.writeUTF(s);
    }
  }

  private static List<String> readStrings(DataInput in) throws IOException {
    int n = length(in, "strings");
    List<String> strings = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      strings.add(in.readUTF());
    }
    return strings;
  }

  private static int length(DataInput in, String what) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > MAX_LIST) {
      throw new IOException("bad length of " + what + ": " + n);
    }
    return n;
  }

  private static void checkVersion(DataInput in, String what) throws IOException {
    int v = in.readUnsignedByte();
    if (v != VERSION) {
      throw new IOException(
          "a "
              + what
              + " in wire format "
              + v
              + ", this member reads format "
              + VERSION
              + ": members of different Sluice versions");
    }
  }
}
