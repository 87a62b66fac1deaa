package dev.sluice.cluster.exec;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import dev.sluice.cluster.wire.ExecutionCodec;
import dev.sluice.cluster.wire.SpecCodec;
import java.io.DataInput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * What a trainer asks of the coordinator trainer about a shared streaming split ({@link
 * ClusterSplitExchange}): attach as a consumer, the next blocks (acknowledging those taken), and
 * leave. Serialized field by field in {@link WorkerCalls}' factory; replies in the {@link
 * ExecutionCodec} form, errors included.
 */
final class ShareCalls {
  static final int ATTACH = 20;
  static final int NEXT = 21;
  static final int CLOSE = 22;

  private ShareCalls() {}

  /** A call about one consumer of one split, answered by the coordinator's exchange. */
  abstract static class Call
      implements Callable<byte[]>, IdentifiedDataSerializable, HazelcastInstanceAware {
    String key;
    int index;
    private transient HazelcastInstance hazelcast;

    @Override
    public final void setHazelcastInstance(HazelcastInstance hazelcastInstance) {
      this.hazelcast = hazelcastInstance;
    }

    @Override
    public final int getFactoryId() {
      return WorkerCalls.FACTORY_ID;
    }

    @Override
    public final byte[] call() {
      try {
        return handle(ClusterSplitExchange.of(hazelcast));
      } catch (Throwable e) {
        return ExecutionCodec.failed(e);
      }
    }

    abstract byte[] handle(ClusterSplitExchange exchange) throws Exception;

    @Override
    public final void writeData(ObjectDataOutput out) throws IOException {
      out.writeByte(SpecCodec.VERSION);
      out.writeString(key);
      out.writeInt(index);
      writeFields(out);
    }

    @Override
    public final void readData(ObjectDataInput in) throws IOException {
      WorkerCalls.readVersion(in);
      key = in.readString();
      index = in.readInt();
      readFields(in);
    }

    abstract void writeFields(ObjectDataOutput out) throws IOException;

    abstract void readFields(ObjectDataInput in) throws IOException;
  }

  /** Attach as consumer {@code index}, waiting up to {@code waitMillis} for the split. */
  static final class Attach extends Call {
    List<String> fingerprint;
    String host;
    String member;
    long waitMillis;

    Attach() {}

    /**
     * @param member the attaching trainer's member id (the coordinator watches it: a trainer lost
     *     mid-epoch is a consumer lost)
     */
    Attach(
        String key,
        int index,
        List<String> fingerprint,
        String host,
        String member,
        long waitMillis) {
      this.key = key;
      this.index = index;
      this.fingerprint = fingerprint;
      this.host = host;
      this.member = member;
      this.waitMillis = waitMillis;
    }

    @Override
    byte[] handle(ClusterSplitExchange x) throws Exception {
      ClusterSplitExchange.Attached a =
          x.attachHere(key, index, fingerprint, host, member, waitMillis);
      return ExecutionCodec.ok(
          out -> {
            out.writeBoolean(a.hosted());
            out.writeUTF(a.plan());
            out.writeLong(a.memoryBudget());
          });
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      out.writeInt(fingerprint.size());
      for (String line : fingerprint) {
        out.writeString(line);
      }
      out.writeString(host);
      out.writeString(member);
      out.writeLong(waitMillis);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      int n = in.readInt();
      fingerprint = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        fingerprint.add(in.readString());
      }
      host = in.readString();
      member = in.readString();
      waitMillis = in.readLong();
    }

    @Override
    public int getClassId() {
      return ATTACH;
    }
  }

  static ClusterSplitExchange.Attached readAttached(DataInput in) throws IOException {
    return new ClusterSplitExchange.Attached(in.readBoolean(), in.readUTF(), in.readLong());
  }

  /** The next blocks for consumer {@code index}, acknowledging those it took. */
  static final class Next extends Call {
    long[] acknowledged;
    int max;
    long waitMillis;

    Next() {}

    Next(String key, int index, long[] acknowledged, int max, long waitMillis) {
      this.key = key;
      this.index = index;
      this.acknowledged = acknowledged;
      this.max = max;
      this.waitMillis = waitMillis;
    }

    @Override
    byte[] handle(ClusterSplitExchange x) throws Exception {
      ClusterSplitExchange.WirePoll p = x.nextHere(key, index, acknowledged, max, waitMillis);
      return ExecutionCodec.ok(
          out -> {
            out.writeBoolean(p.ended());
            out.writeInt(p.pieces().size());
            for (ClusterSplitExchange.WirePiece w : p.pieces()) {
              out.writeLong(w.id());
              out.writeUTF(w.address());
              out.writeInt(w.port());
              out.writeLong(w.blockId());
              out.writeInt(w.rows());
              out.writeLong(w.bytes());
              out.writeInt(w.hosts().size());
              for (String h : w.hosts()) {
                out.writeUTF(h);
              }
              out.writeBoolean(w.local());
            }
          });
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      out.writeLongArray(acknowledged);
      out.writeInt(max);
      out.writeLong(waitMillis);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      acknowledged = in.readLongArray();
      max = in.readInt();
      waitMillis = in.readLong();
    }

    @Override
    public int getClassId() {
      return NEXT;
    }
  }

  static ClusterSplitExchange.WirePoll readPoll(DataInput in) throws IOException {
    boolean ended = in.readBoolean();
    int n = in.readInt();
    List<ClusterSplitExchange.WirePiece> pieces = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      long id = in.readLong();
      String address = in.readUTF();
      int port = in.readInt();
      long blockId = in.readLong();
      int rows = in.readInt();
      long bytes = in.readLong();
      int h = in.readInt();
      List<String> hosts = new ArrayList<>(h);
      for (int j = 0; j < h; j++) {
        hosts.add(in.readUTF());
      }
      boolean local = in.readBoolean();
      pieces.add(
          new ClusterSplitExchange.WirePiece(
              id, address, port, blockId, rows, bytes, hosts, local));
    }
    return new ClusterSplitExchange.WirePoll(pieces, ended);
  }

  /** Consumer {@code index} leaves the split. */
  static final class Close extends Call {
    long[] acknowledged;

    Close() {}

    Close(String key, int index, long[] acknowledged) {
      this.key = key;
      this.index = index;
      this.acknowledged = acknowledged;
    }

    @Override
    byte[] handle(ClusterSplitExchange x) {
      x.closeHere(key, index, acknowledged);
      return ExecutionCodec.ok(out -> {});
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      out.writeLongArray(acknowledged);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      acknowledged = in.readLongArray();
    }

    @Override
    public int getClassId() {
      return CLOSE;
    }
  }
}
