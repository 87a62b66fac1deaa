package dev.sluice.cluster.wire;

import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.PipelineRef;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.runtime.AttemptSupersededException;
import dev.sluice.loader.runtime.BlockLostException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.RemoteExecution;
import dev.sluice.loader.runtime.Resources;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The wire form of an execution opened on a worker ({@link RemoteExecution}: the pipeline's
 * definition and parameters, the epoch, the options, the plan's fingerprint) and of a worker's
 * replies: a payload, or an error that the trainer raises again as what it was (a {@link
 * SluiceException} with its operator, source and entry; a {@link BlockLostException} with its
 * block; anything else by its class name and message). Errors cross as these fields, never as
 * serialized Java objects. Versioned as {@link SpecCodec}.
 */
public final class ExecutionCodec {
  private static final byte OK = 0;
  private static final byte FAILED = 1;
  private static final byte SLUICE = 1;
  private static final byte BLOCK_LOST = 2;
  private static final byte OTHER = 3;
  private static final byte SUPERSEDED = 4;

  private ExecutionCodec() {}

  // ---- executions

  /** Writes an execution to open, with the version. */
  public static void writeExecution(DataOutput out, RemoteExecution ex) throws IOException {
    out.writeByte(SpecCodec.VERSION);
    out.writeUTF(ex.id());
    out.writeUTF(ex.definition().className());
    out.writeInt(ex.definition().parameters().size());
    for (Map.Entry<String, String> e : ex.definition().parameters().entrySet()) {
      out.writeUTF(e.getKey());
      writeLongString(out, e.getValue());
    }
    out.writeInt(ex.definition().reorders().size());
    for (String r : ex.definition().reorders()) {
      out.writeUTF(r);
    }
    out.writeInt(ex.epoch());
    writeOptions(out, ex.options());
    out.writeInt(ex.fingerprint().size());
    for (String line : ex.fingerprint()) {
      writeLongString(out, line);
    }
    out.writeUTF(ex.splits());
  }

  /** Reads an execution written by {@link #writeExecution}. */
  public static RemoteExecution readExecution(DataInput in) throws IOException {
    checkVersion(in);
    try {
      String id = in.readUTF();
      String className = in.readUTF();
      int n = length(in);
      Map<String, String> params = new LinkedHashMap<>();
      for (int i = 0; i < n; i++) {
        params.put(in.readUTF(), readLongString(in));
      }
      int reorderCount = length(in);
      List<String> reorders = new ArrayList<>(reorderCount);
      for (int i = 0; i < reorderCount; i++) {
        reorders.add(in.readUTF());
      }
      int epoch = in.readInt();
      ExecutionOptions options = readOptions(in);
      int lines = length(in);
      List<String> fingerprint = new ArrayList<>(lines);
      for (int i = 0; i < lines; i++) {
        fingerprint.add(readLongString(in));
      }
      String splits = in.readUTF();
      return new RemoteExecution(
          id, new PipelineRef(className, params, reorders), epoch, options, fingerprint, splits);
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IOException("a malformed execution: " + e.getMessage(), e);
    }
  }

  private static void writeOptions(DataOutput out, ExecutionOptions o) throws IOException {
    out.writeLong(o.memoryBudget());
    out.writeDouble(o.reservedShare());
    out.writeDouble(o.hardLimitFactor());
    out.writeByte(o.mode().ordinal());
    out.writeBoolean(o.preserveOrder());
    out.writeLong(o.badRecordAllowance());
    out.writeInt(o.targetBlockRows());
    out.writeLong(o.targetBlockBytes());
    out.writeBoolean(o.resources() != null);
    if (o.resources() != null) {
      out.writeDouble(o.resources().cpus());
      out.writeDouble(o.resources().gpus());
    }
    out.writeBoolean(o.locality());
  }

  private static ExecutionOptions readOptions(DataInput in) throws IOException {
    long budget = in.readLong();
    double reserved = in.readDouble();
    double hardLimit = in.readDouble();
    int mode = in.readUnsignedByte();
    if (mode >= ExecutionOptions.Mode.values().length) {
      throw new IOException("unknown execution mode " + mode);
    }
    boolean order = in.readBoolean();
    long allowance = in.readLong();
    int rows = in.readInt();
    long bytes = in.readLong();
    Resources resources = in.readBoolean() ? new Resources(in.readDouble(), in.readDouble()) : null;
    boolean locality = in.readBoolean();
    // A worker draws no progress line: the trainer's is the execution's.
    return new ExecutionOptions(
        budget,
        reserved,
        hardLimit,
        ExecutionOptions.Mode.values()[mode],
        order,
        allowance,
        rows,
        bytes,
        resources,
        ExecutionOptions.Progress.OFF,
        false,
        locality);
  }

  // ---- replies

  /** What a reply payload is written with. */
  @FunctionalInterface
  public interface PayloadWriter {
    void write(DataOutput out) throws IOException;
  }

  /** What a reply payload is read with. */
  @FunctionalInterface
  public interface PayloadReader<T> {
    T read(DataInput in) throws IOException;
  }

  /** A reply carrying {@code payload}. */
  public static byte[] ok(PayloadWriter payload) {
    return bytes(
        out -> {
          out.writeByte(SpecCodec.VERSION);
          out.writeByte(OK);
          payload.write(out);
        });
  }

  /** A reply carrying an error, by its fields. */
  public static byte[] failed(Throwable error) {
    return bytes(
        out -> {
          out.writeByte(SpecCodec.VERSION);
          out.writeByte(FAILED);
          Throwable e = unwrap(error);
          if (e instanceof BlockLostException lost && lost.ref() != null) {
            out.writeByte(BLOCK_LOST);
            out.writeBoolean(lost.getMessage().contains("lost with node"));
            SpecCodec.writeRef(out, lost.ref());
          } else if (e instanceof AttemptSupersededException superseded) {
            out.writeByte(SUPERSEDED);
            writeLongString(out, String.valueOf(superseded.getMessage()));
          } else if (e instanceof SluiceException s) {
            out.writeByte(SLUICE);
            writeLongString(out, s.reason());
            writeNullable(out, s.operator());
            writeNullable(out, s.source());
            writeNullable(out, s.entry());
            writeLongString(out, causeOf(s));
          } else {
            out.writeByte(OTHER);
            writeLongString(out, e.getClass().getName());
            writeLongString(out, String.valueOf(e.getMessage()));
          }
        });
  }

  /**
   * Reads a reply: its payload, or the error it carries, raised again as what it was on the worker
   * ({@code where} names the worker in errors that do not name their place).
   */
  public static <T> T read(byte[] reply, PayloadReader<T> payload, String where)
      throws IOException {
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(reply));
    checkVersion(in);
    byte status = in.readByte();
    if (status == OK) {
      return payload.read(in);
    }
    if (status != FAILED) {
      throw new IOException("unknown reply status " + status);
    }
    byte kind = in.readByte();
    switch (kind) {
      case BLOCK_LOST:
        {
          boolean nodeLost = in.readBoolean();
          BlockRef ref = SpecCodec.readRef(in);
          throw new BlockLostException(ref, nodeLost);
        }
      case SLUICE:
        {
          String reason = readLongString(in);
          String operator = readNullable(in);
          String source = readNullable(in);
          String entry = readNullable(in);
          String cause = readLongString(in);
          throw new SluiceException(
              reason,
              operator,
              source,
              entry,
              cause.isEmpty() ? null : new RemoteFailure(where + ": " + cause));
        }
      case SUPERSEDED:
        throw new AttemptSupersededException(where + ": " + readLongString(in));
      case OTHER:
        {
          String type = readLongString(in);
          String message = readLongString(in);
          throw new SluiceException(
              "failed on " + where + ": " + type + ": " + message,
              new RemoteFailure(type + ": " + message));
        }
      default:
        throw new IOException("unknown error kind " + kind);
    }
  }

  /** An error raised on another member, known by its description only. */
  public static final class RemoteFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RemoteFailure(String description) {
      super(description, null, false, false);
    }
  }

  // ---- helpers

  private static Throwable unwrap(Throwable e) {
    Throwable t = e;
    while ((t instanceof java.util.concurrent.CompletionException
            || t instanceof java.util.concurrent.ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static String causeOf(SluiceException s) {
    Throwable c = s.getCause();
    return c == null ? "" : c.getClass().getName() + ": " + c.getMessage();
  }

  @FunctionalInterface
  private interface Body {
    void write(DataOutputStream out) throws IOException;
  }

  private static byte[] bytes(Body body) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(b)) {
      body.write(out);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a byte array does not fail
    }
    return b.toByteArray();
  }

  /** A string of any length (writeUTF stops at 64 KiB; a message or a path may not). */
  static void writeLongString(DataOutput out, String s) throws IOException {
    byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    out.writeInt(b.length);
    out.write(b);
  }

  static String readLongString(DataInput in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > SpecCodec.MAX_LIST) {
      throw new IOException("bad string length " + n);
    }
    byte[] b = new byte[n];
    in.readFully(b);
    return new String(b, java.nio.charset.StandardCharsets.UTF_8);
  }

  private static void writeNullable(DataOutput out, String s) throws IOException {
    out.writeBoolean(s != null);
    if (s != null) {
      writeLongString(out, s);
    }
  }

  private static String readNullable(DataInput in) throws IOException {
    return in.readBoolean() ? readLongString(in) : null;
  }

  private static int length(DataInput in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > SpecCodec.MAX_LIST) {
      throw new IOException("bad length " + n);
    }
    return n;
  }

  private static void checkVersion(DataInput in) throws IOException {
    int v = in.readUnsignedByte();
    if (v != SpecCodec.VERSION) {
      throw new IOException(
          "a message in wire format "
              + v
              + ", this member reads format "
              + SpecCodec.VERSION
              + ": members of different Sluice versions");
    }
  }
}
