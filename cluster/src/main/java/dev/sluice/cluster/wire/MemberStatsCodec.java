package dev.sluice.cluster.wire;

import dev.sluice.cluster.MemberStats;
import dev.sluice.cluster.MemberStats.PeerTraffic;
import dev.sluice.cluster.Role;
import dev.sluice.cluster.transport.TransportTraffic.Flow;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The wire form of a member's {@link MemberStats}, the payload of a worker's answer to a stats
 * call: a format byte of its own (so the figures can grow without touching the calls' format), then
 * the fields in order. A reader refuses a format it does not know.
 */
public final class MemberStatsCodec {
  /** The format written. */
  public static final int FORMAT = 1;

  private MemberStatsCodec() {}

  /** Writes {@code s} in format {@link #FORMAT}. */
  public static void write(DataOutput out, MemberStats s) throws IOException {
    out.writeByte(FORMAT);
    out.writeLong(s.id().getMostSignificantBits());
    out.writeLong(s.id().getLeastSignificantBits());
    out.writeUTF(s.role().attributeValue());
    out.writeUTF(s.host());
    out.writeUTF(s.address());
    out.writeDouble(s.cpus());
    out.writeBoolean(s.unanswered() != null);
    if (s.unanswered() != null) {
      ExecutionCodec.writeLongString(out, s.unanswered());
    }
    out.writeLong(s.cpuNanos());
    out.writeLong(s.upNanos());
    out.writeDouble(s.cpuShare());
    out.writeLong(s.memoryInUse());
    out.writeLong(s.memoryPeak());
    out.writeLong(s.memoryBudget());
    writeFlow(out, s.sent());
    writeFlow(out, s.received());
    out.writeLong(s.localBytes());
    out.writeLong(s.movedBytes());
    out.writeInt(s.peers().size());
    for (PeerTraffic p : s.peers()) {
      out.writeUTF(p.peer());
      out.writeBoolean(p.host() != null);
      if (p.host() != null) {
        out.writeUTF(p.host());
      }
      out.writeBoolean(p.local());
      writeFlow(out, p.sent());
      writeFlow(out, p.received());
    }
  }

  /** Reads what {@link #write} wrote. */
  public static MemberStats read(DataInput in) throws IOException {
    int format = in.readUnsignedByte();
    if (format != FORMAT) {
      throw new IOException(
          "member stats in format "
              + format
              + ", this member reads format "
              + FORMAT
              + ": members of different Sluice versions");
    }
    try {
      UUID id = new UUID(in.readLong(), in.readLong());
      Role role = Role.fromAttribute(in.readUTF());
      String host = in.readUTF();
      String address = in.readUTF();
      double cpus = in.readDouble();
      String unanswered = in.readBoolean() ? ExecutionCodec.readLongString(in) : null;
      long cpuNanos = in.readLong();
      long upNanos = in.readLong();
      double cpuShare = in.readDouble();
      long inUse = in.readLong();
      long peak = in.readLong();
      long budget = in.readLong();
      Flow sent = readFlow(in);
      Flow received = readFlow(in);
      long local = in.readLong();
      long moved = in.readLong();
      int n = in.readInt();
      if (n < 0 || n > SpecCodec.MAX_LIST) {
        throw new IOException("bad peer count " + n);
      }
      List<PeerTraffic> peers = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        String peer = in.readUTF();
        String peerHost = in.readBoolean() ? in.readUTF() : null;
        boolean isLocal = in.readBoolean();
        peers.add(new PeerTraffic(peer, peerHost, isLocal, readFlow(in), readFlow(in)));
      }
      return new MemberStats(
          id,
          role,
          host,
          address,
          cpus,
          unanswered,
          cpuNanos,
          upNanos,
          cpuShare,
          inUse,
          peak,
          budget,
          sent,
          received,
          local,
          moved,
          peers);
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new IOException("malformed member stats: " + e.getMessage(), e);
    }
  }

  private static void writeFlow(DataOutput out, Flow f) throws IOException {
    out.writeLong(f.blocks());
    out.writeLong(f.bytes());
  }

  private static Flow readFlow(DataInput in) throws IOException {
    return new Flow(in.readLong(), in.readLong());
  }
}
