package dev.sluice.cluster.exec;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializableFactory;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import dev.sluice.cluster.wire.ExecutionCodec;
import dev.sluice.cluster.wire.MemberStatsCodec;
import dev.sluice.cluster.wire.SpecCodec;
import dev.sluice.loader.runtime.RemoteExecution;
import dev.sluice.loader.runtime.TaskSpec;
import java.io.IOException;
import java.util.concurrent.Callable;

/**
 * What the scheduler, in a trainer, asks of a worker: each request a Hazelcast executor call sent
 * to one member, serialized field by field ({@link IdentifiedDataSerializable} with the fields in
 * the {@link SpecCodec} and {@link ExecutionCodec} forms; nothing by Java serialization). A call
 * finds its member's {@link WorkerService} in Hazelcast's user context and answers with a reply in
 * the {@link ExecutionCodec} form, an error included: a call never throws, so no exception object
 * ever crosses the wire.
 */
public final class WorkerCalls {
  /** The factory id of Sluice's calls in Hazelcast's serialization config. */
  public static final int FACTORY_ID = 0x51_1C_E0;

  private static final int OPEN = 1;
  private static final int RUN = 2;
  private static final int START_ACTOR = 3;
  private static final int CALL_ACTOR = 4;
  private static final int STOP_ACTOR = 5;
  private static final int CLOSE_READER = 6;
  private static final int RELEASE = 7;
  private static final int CLOSE = 8;
  private static final int STATS = 9;

  private WorkerCalls() {}

  /** Makes the calls from their class ids, for Hazelcast's serialization config. */
  public static DataSerializableFactory factory() {
    return id ->
        switch (id) {
          case STATS -> new Stats();
          case OPEN -> new Open();
          case RUN -> new Run();
          case START_ACTOR -> new StartActor();
          case CALL_ACTOR -> new CallActor();
          case STOP_ACTOR -> new StopActor();
          case CLOSE_READER -> new CloseReader();
          case RELEASE -> new Release();
          case CLOSE -> new Close();
          case ShareCalls.ATTACH -> new ShareCalls.Attach();
          case ShareCalls.NEXT -> new ShareCalls.Next();
          case ShareCalls.CLOSE -> new ShareCalls.Close();
          case SplitLeases.LEASE -> new SplitLeases.Lease();
          case SplitLeases.ADVANCE -> new SplitLeases.Advance();
          default -> null;
        };
  }

  /**
   * Reads the wire format a call was written in, refusing another: the members run different Sluice
   * versions. Every call of Sluice's factory ({@link ShareCalls} too) starts with it.
   */
  static void readVersion(ObjectDataInput in) throws IOException {
    int v = in.readByte() & 0xff;
    if (v != SpecCodec.VERSION) {
      throw new IOException(
          "a call in wire format "
              + v
              + ", this member reads format "
              + SpecCodec.VERSION
              + ": members of different Sluice versions");
    }
  }

  /** A call about one execution on one worker. */
  abstract static class Call
      implements Callable<byte[]>, IdentifiedDataSerializable, HazelcastInstanceAware {
    String execution;
    private transient HazelcastInstance hazelcast;

    @Override
    public final void setHazelcastInstance(HazelcastInstance hazelcastInstance) {
      this.hazelcast = hazelcastInstance;
    }

    @Override
    public final int getFactoryId() {
      return FACTORY_ID;
    }

    @Override
    public final byte[] call() {
      try {
        WorkerService service = WorkerService.of(hazelcast);
        return handle(service);
      } catch (Throwable e) {
        return ExecutionCodec.failed(e);
      }
    }

    /** Does the call on the worker; returns the reply. */
    abstract byte[] handle(WorkerService service) throws Exception;

    @Override
    public final void writeData(ObjectDataOutput out) throws IOException {
      out.writeByte(SpecCodec.VERSION);
      out.writeString(execution);
      writeFields(out);
    }

    @Override
    public final void readData(ObjectDataInput in) throws IOException {
      readVersion(in);
      execution = in.readString();
      readFields(in);
    }

    void writeFields(ObjectDataOutput out) throws IOException {}

    void readFields(ObjectDataInput in) throws IOException {}
  }

  /** Opens an execution: the worker builds its half and answers with nothing, or why not. */
  static final class Open extends Call {
    RemoteExecution ex;

    Open() {}

    Open(RemoteExecution ex) {
      this.execution = ex.id();
      this.ex = ex;
    }

    @Override
    byte[] handle(WorkerService s) {
      s.open(ex);
      return ExecutionCodec.ok(out -> {});
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      ExecutionCodec.writeExecution(out, ex);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      ex = ExecutionCodec.readExecution(in);
    }

    @Override
    public int getClassId() {
      return OPEN;
    }
  }

  /** Runs a task; answers with its outcome. */
  static final class Run extends Call {
    TaskSpec spec;

    Run() {}

    Run(String execution, TaskSpec spec) {
      this.execution = execution;
      this.spec = spec;
    }

    @Override
    byte[] handle(WorkerService s) throws Exception {
      var outcome = s.run(execution, spec);
      return ExecutionCodec.ok(out -> SpecCodec.writeOutcome(out, outcome));
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      SpecCodec.writeSpec(out, spec);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      spec = SpecCodec.readSpec(in);
    }

    @Override
    public int getClassId() {
      return RUN;
    }
  }

  /** Starts an actor of an actor pool; answers once it is built. */
  static final class StartActor extends Call {
    int operator;
    String name;

    StartActor() {}

    StartActor(String execution, int operator, String name) {
      this.execution = execution;
      this.operator = operator;
      this.name = name;
    }

    @Override
    byte[] handle(WorkerService s) throws Exception {
      s.startActor(execution, operator, name);
      return ExecutionCodec.ok(out -> {});
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      out.writeInt(operator);
      out.writeString(name);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      operator = in.readInt();
      name = in.readString();
    }

    @Override
    public int getClassId() {
      return START_ACTOR;
    }
  }

  /** Calls an actor; answers with the call's outcome. */
  static final class CallActor extends Call {
    String name;
    TaskSpec spec;

    CallActor() {}

    CallActor(String execution, String name, TaskSpec spec) {
      this.execution = execution;
      this.name = name;
      this.spec = spec;
    }

    @Override
    byte[] handle(WorkerService s) throws Exception {
      var outcome = s.callActor(execution, name, spec);
      return ExecutionCodec.ok(out -> SpecCodec.writeOutcome(out, outcome));
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      out.writeString(name);
      SpecCodec.writeSpec(out, spec);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      name = in.readString();
      TaskSpec s = SpecCodec.readSpec(in);
      if (s instanceof TaskSpec.ReadBlock) {
        throw new IOException("an actor call carries a map bundle or a remake, not " + s);
      }
      spec = s;
    }

    @Override
    public int getClassId() {
      return CALL_ACTOR;
    }
  }

  /** Stops an actor after its queued calls; answers once it is gone. */
  static final class StopActor extends Call {
    String name;

    StopActor() {}

    StopActor(String execution, String name) {
      this.execution = execution;
      this.name = name;
    }

    @Override
    byte[] handle(WorkerService s) throws Exception {
      s.stopActor(execution, name);
      return ExecutionCodec.ok(out -> {});
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      out.writeString(name);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      name = in.readString();
    }

    @Override
    public int getClassId() {
      return STOP_ACTOR;
    }
  }

  /** Closes the reader of a split ({@code -1}: every reader). */
  static final class CloseReader extends Call {
    int split;

    CloseReader() {}

    CloseReader(String execution, int split) {
      this.execution = execution;
      this.split = split;
    }

    @Override
    byte[] handle(WorkerService s) {
      s.closeReader(execution, split);
      return ExecutionCodec.ok(out -> {});
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      out.writeInt(split);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      split = in.readInt();
    }

    @Override
    public int getClassId() {
      return CLOSE_READER;
    }
  }

  /** Drops blocks whose last reader is done ({@code all}: every block of the execution). */
  static final class Release extends Call {
    long[] ids;
    boolean all;

    Release() {}

    Release(String execution, long[] ids, boolean all) {
      this.execution = execution;
      this.ids = ids;
      this.all = all;
    }

    @Override
    byte[] handle(WorkerService s) {
      s.release(execution, ids, all);
      return ExecutionCodec.ok(out -> {});
    }

    @Override
    void writeFields(ObjectDataOutput out) throws IOException {
      out.writeBoolean(all);
      out.writeLongArray(ids);
    }

    @Override
    void readFields(ObjectDataInput in) throws IOException {
      all = in.readBoolean();
      ids = in.readLongArray();
    }

    @Override
    public int getClassId() {
      return RELEASE;
    }
  }

  /** The execution is over on this worker: it drops what it holds of it. */
  static final class Close extends Call {
    Close() {}

    Close(String execution) {
      this.execution = execution;
    }

    @Override
    byte[] handle(WorkerService s) {
      s.close(execution);
      return ExecutionCodec.ok(out -> {});
    }

    @Override
    public int getClassId() {
      return CLOSE;
    }
  }

  /**
   * Asks a worker for its {@link dev.sluice.cluster.MemberStats}, about no execution (the id is
   * empty); answers with them in the {@link MemberStatsCodec} form.
   */
  static final class Stats extends Call {
    Stats() {
      this.execution = "";
    }

    @Override
    byte[] handle(WorkerService s) {
      var stats = s.stats();
      return ExecutionCodec.ok(out -> MemberStatsCodec.write(out, stats));
    }

    @Override
    public int getClassId() {
      return STATS;
    }
  }
}
