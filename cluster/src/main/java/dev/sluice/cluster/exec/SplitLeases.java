package dev.sluice.cluster.exec;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import com.hazelcast.map.listener.EntryAddedListener;
import com.hazelcast.map.listener.EntryRemovedListener;
import com.hazelcast.map.listener.EntryUpdatedListener;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import dev.sluice.loader.runtime.AttemptSupersededException;
import dev.sluice.loader.runtime.LeaseLedger;
import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The split leases of the cluster's executions, kept in Hazelcast: an {@link IMap} ({@value #MAP},
 * one backup on another worker, so that a record outlives the member that holds it) from {@code
 * <trainer>/<execution>/<split>} to the attempt the split is read under and the node reading it. A
 * record changes only through {@link Advance}, an entry processor that keeps the higher attempt: a
 * stale lease never overwrites a newer one, whoever writes it and in whatever order the writes
 * arrive (the CP subsystem, which would give a fenced lock, is not in Hazelcast's open-source
 * edition).
 *
 * <p>A trainer records each lease its scheduler hands out ({@link LeaseLedger}, without waiting); a
 * worker follows the map with a listener and refuses to start, or to hand in, a read under an
 * attempt the record has superseded ({@link #fenced}): a worker the scheduler gave up while it
 * still ran (a stall, a refused call) stops spending its time on a split read elsewhere. The
 * scheduler's own fencing (it drops what a given-up node made) is the guarantee; this spares the
 * work and keeps the job's state outside the scheduler.
 */
public final class SplitLeases implements LeaseLedger, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SplitLeases.class);

  /** The map's name. */
  public static final String MAP = "sluice.split-leases";

  static final int LEASE = 30;
  static final int ADVANCE = 31;

  private final IMap<String, Lease> map;
  private final java.util.function.Supplier<String> prefix;
  private final Map<String, Set<String>> keysByExecution = new ConcurrentHashMap<>();
  private final Map<String, Lease> followed = new ConcurrentHashMap<>();

  private volatile UUID listener;

  private SplitLeases(HazelcastInstance hazelcast, java.util.function.Supplier<String> prefix) {
    this.map = hazelcast.getMap(MAP);
    this.prefix = prefix;
  }

  /**
   * Starts following the map, off the caller's thread: registering a listener and reading the
   * records already there are calls to the whole cluster, which a worker that joins mid-epoch must
   * not wait for before it takes work (the fence is advisory: until then it fences nothing).
   */
  private void follow() {
    follower =
        new Thread(
            () -> {
              try {
                UUID id = map.addEntryListener(new Follower(), true);
                synchronized (this) {
                  if (closed) {
                    map.removeEntryListener(id);
                    return;
                  }
                  listener = id;
                }
                for (Map.Entry<String, Lease> e : map.entrySet()) {
                  followed.merge(e.getKey(), e.getValue(), Lease::later);
                }
              } catch (RuntimeException e) {
                LOG.warn(
                    "following the split leases failed; reads are not fenced here: {}",
                    e.toString());
              }
            },
            "sluice-lease-follower");
    follower.setDaemon(true);
    follower.start();
  }

  /** Starts following the map; ends once it does (joined by {@link #close}). */
  private Thread follower;

  private boolean closed;

  /**
   * A trainer's ledger: its executions' keys start with its member id (read at each record: it
   * changes when the member merges back into the cluster after a split).
   */
  static SplitLeases forTrainer(
      HazelcastInstance hazelcast, java.util.function.Supplier<UUID> member) {
    return new SplitLeases(hazelcast, () -> member.get() + "/");
  }

  /** A worker's view, following the map (from a moment after this returns). */
  static SplitLeases forWorker(HazelcastInstance hazelcast) {
    SplitLeases l = new SplitLeases(hazelcast, () -> "");
    l.follow();
    return l;
  }

  @Override
  public void leased(String execution, int split, int attempt, String node) {
    record(execution, split, attempt, node);
  }

  /** As {@link #leased}: the write's outcome (whether the record took this lease). */
  java.util.concurrent.CompletionStage<Boolean> record(
      String execution, int split, int attempt, String node) {
    String key = prefix.get() + execution + "/" + split;
    keysByExecution.computeIfAbsent(execution, k -> ConcurrentHashMap.newKeySet()).add(key);
    return map.submitToKey(key, new Advance(attempt, node))
        .whenComplete(
            (applied, e) -> {
              if (e != null) {
                LOG.warn("recording lease {} (attempt {}, {}) failed: {}", key, attempt, node, e);
              } else if (!Boolean.TRUE.equals(applied)) {
                LOG.debug("lease {} attempt {} is stale: a higher one is recorded", key, attempt);
              }
            });
  }

  @Override
  public void ended(String execution) {
    Set<String> keys = keysByExecution.remove(execution);
    if (keys != null) {
      for (String k : keys) {
        map.removeAsync(k);
      }
    }
  }

  /**
   * Why a read of split {@code split} of {@code execution} (as a worker names it: {@code
   * <trainer>/<execution>}) under {@code attempt} is fenced off, or null when it is not (no higher
   * attempt is recorded, as far as this member has heard).
   */
  AttemptSupersededException fenced(String execution, int split, int attempt) {
    Lease l = followed.get(execution + "/" + split);
    if (l == null || l.attempt <= attempt) {
      return null;
    }
    return new AttemptSupersededException(
        "split "
            + split
            + " of execution "
            + execution
            + " is read under attempt "
            + l.attempt
            + " on node "
            + l.node
            + ": attempt "
            + attempt
            + " is fenced off");
  }

  /** The record of a lease now, read from the map (for tests and diagnostics). */
  Lease record(String execution, int split) {
    return map.get(prefix.get() + execution + "/" + split);
  }

  @Override
  public void close() {
    UUID id;
    synchronized (this) {
      closed = true;
      id = listener;
      listener = null;
    }
    if (id != null) {
      map.removeEntryListener(id);
    }
    Thread t = follower;
    if (t != null) {
      try {
        t.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private final class Follower
      implements EntryAddedListener<String, Lease>,
          EntryUpdatedListener<String, Lease>,
          EntryRemovedListener<String, Lease> {
    @Override
    public void entryAdded(com.hazelcast.core.EntryEvent<String, Lease> e) {
      followed.merge(e.getKey(), e.getValue(), Lease::later);
    }

    @Override
    public void entryUpdated(com.hazelcast.core.EntryEvent<String, Lease> e) {
      followed.merge(e.getKey(), e.getValue(), Lease::later);
    }

    @Override
    public void entryRemoved(com.hazelcast.core.EntryEvent<String, Lease> e) {
      followed.remove(e.getKey());
    }
  }

  /** A lease as recorded: the attempt and the node reading under it. */
  public static final class Lease implements IdentifiedDataSerializable {
    int attempt;
    String node;

    public Lease() {}

    Lease(int attempt, String node) {
      this.attempt = attempt;
      this.node = node;
    }

    public int attempt() {
      return attempt;
    }

    public String node() {
      return node;
    }

    static Lease later(Lease a, Lease b) {
      return b.attempt > a.attempt ? b : a;
    }

    @Override
    public int getFactoryId() {
      return WorkerCalls.FACTORY_ID;
    }

    @Override
    public int getClassId() {
      return LEASE;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
      out.writeInt(attempt);
      out.writeString(node);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
      attempt = in.readInt();
      node = in.readString();
    }

    @Override
    public String toString() {
      return "attempt " + attempt + " on " + node;
    }
  }

  /**
   * Sets a lease unless a higher attempt is recorded; answers whether it did. Run on the record's
   * owner and, the same way, on its backup.
   */
  public static final class Advance
      implements EntryProcessor<String, Lease, Boolean>, IdentifiedDataSerializable {
    private Lease lease = new Lease();

    public Advance() {}

    Advance(int attempt, String node) {
      this.lease = new Lease(attempt, node);
    }

    @Override
    public Boolean process(Map.Entry<String, Lease> entry) {
      Lease current = entry.getValue();
      if (current != null && current.attempt >= lease.attempt) {
        return false;
      }
      entry.setValue(lease);
      return true;
    }

    @Override
    public int getFactoryId() {
      return WorkerCalls.FACTORY_ID;
    }

    @Override
    public int getClassId() {
      return ADVANCE;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
      lease.writeData(out);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
      lease.readData(in);
    }
  }
}
