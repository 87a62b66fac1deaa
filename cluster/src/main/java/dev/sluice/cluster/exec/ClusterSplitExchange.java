package dev.sluice.cluster.exec;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.IExecutorService;
import dev.sluice.cluster.MemberInfo;
import dev.sluice.cluster.SluiceMember;
import dev.sluice.cluster.transport.BlockSource;
import dev.sluice.cluster.transport.BlockTransport;
import dev.sluice.cluster.transport.BlockTransportException;
import dev.sluice.cluster.wire.ExecutionCodec;
import dev.sluice.loader.Batch;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PlanFingerprint;
import dev.sluice.loader.runtime.SplitExchange;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainers' {@link SplitExchange}: the coordinator trainer hosts every shared split; another
 * trainer attaches to its consumer with Hazelcast executor calls to the coordinator ({@link
 * ShareCalls}: attach, next, close), and takes its blocks through its own {@link BlockTransport}
 * straight from the workers that made them. Rows the coordinator holds itself (cut from blocks to
 * even equal shares out, or repeated to pad them) are served by the coordinator's transport, which
 * this exchange is the {@link BlockSource} of.
 *
 * <p>The calls carry acknowledgements: a block a trainer took is settled at the host with its next
 * call after the block's owner said it let go of it ({@link TakenPieces}), and until then the host
 * still counts it against the execution's budget and the owner's memory.
 */
public final class ClusterSplitExchange implements SplitExchange, BlockSource {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterSplitExchange.class);
  private static final String KEY = "sluice.split-exchange";

  /** The longest one call waits at the host (a longer wait is several calls). */
  private static final long MAX_CALL_WAIT_MILLIS = 5_000;

  private final SluiceMember member;
  private final Duration fetchTimeout;
  private volatile BlockTransport transport;
  private final Map<String, HostedSplit> hosted = new ConcurrentHashMap<>();
  private final Object hostedChanged = new Object();
  private final Map<Long, Served> served = new ConcurrentHashMap<>();

  /** The member attached as each consumer of each hosted split: (split key, consumer) -> id. */
  private final Map<Consumer, String> attachedBy = new ConcurrentHashMap<>();

  private record Consumer(String key, int index) {}

  /**
   * Tells a hosted split that a trainer attached to it was lost (off Hazelcast's event thread: the
   * split may close its execution).
   */
  private final java.util.concurrent.ExecutorService reaper =
      java.util.concurrent.Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "sluice-share-reaper");
            t.setDaemon(true);
            return t;
          });

  private volatile Runnable stopListening = () -> {};
  private final AtomicLong servedIds = new AtomicLong();

  /**
   * Rows held here and handed to a consumer of another process, until it takes them. While the
   * transport writes them ({@code sending}), the write holds references to their buffers, so they
   * are closed only once it is done: a consumer that leaves (or a split that closes) waits for
   * those writes, else its execution's allocator would close under buffers still referenced.
   */
  private static final class Served {
    final String key;
    final int consumer;
    final Batch batch;
    int sending; // guarded by this
    boolean dropped; // guarded by this
    boolean closed; // guarded by this

    Served(String key, int consumer, Batch batch) {
      this.key = key;
      this.consumer = consumer;
      this.batch = batch;
    }

    /** Closes the rows once no write holds them; true when closed (now or before). */
    synchronized boolean closeIfIdle() {
      if (!closed && sending == 0) {
        closed = true;
        batch.close();
        notifyAll();
      }
      return closed;
    }
  }

  /**
   * @param member this trainer's member
   * @param fetchTimeout how long a consumer waits for one block it takes
   */
  ClusterSplitExchange(SluiceMember member, Duration fetchTimeout) {
    this.member = member;
    this.fetchTimeout = fetchTimeout;
  }

  /** Sets the transport (made after this exchange, whose blocks it serves) and answers calls. */
  void start(BlockTransport transport) {
    this.transport = transport;
    member.hazelcast().getUserContext().put(KEY, this);
    stopListening =
        member.addListener(
            new dev.sluice.cluster.ClusterListener() {
              @Override
              public void trainerLost(MemberInfo trainer) {
                reaper.execute(() -> consumersLost(trainer.id().toString(), trainer.describe()));
              }
            });
  }

  /** Stops answering calls; closes the rows still served (after the writes under way). */
  void close() {
    stopListening.run();
    reaper.shutdownNow();
    member.hazelcast().getUserContext().remove(KEY, this);
    dropServed(null, -1);
    try {
      if (!reaper.awaitTermination(30, TimeUnit.SECONDS)) {
        LOG.warn("the split exchange's reaper did not stop within 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A trainer ({@code id}, {@code who}) is gone: the splits it was attached to lose it. */
  private void consumersLost(String id, String who) {
    for (Map.Entry<Consumer, String> e : attachedBy.entrySet()) {
      Consumer c = e.getKey();
      if (!e.getValue().equals(id) || !attachedBy.remove(c, id)) {
        continue;
      }
      HostedSplit split = hosted.get(c.key());
      if (split == null) {
        continue; // over already
      }
      dropServed(c.key(), c.index());
      try {
        split.consumerLost(c.index(), who);
      } catch (RuntimeException failure) {
        LOG.error(
            "telling split {} that consumer {} was lost with {} failed",
            c.key(),
            c.index(),
            who,
            failure);
      }
    }
  }

  static ClusterSplitExchange of(HazelcastInstance hazelcast) {
    Object s = hazelcast.getUserContext().get(KEY);
    if (!(s instanceof ClusterSplitExchange x)) {
      throw new IllegalStateException(
          "member " + hazelcast.getCluster().getLocalMember() + " is not a Sluice trainer");
    }
    return x;
  }

  @Override
  public boolean hostsSplits() {
    return member.isCoordinator();
  }

  @Override
  public String hostLabel() {
    return member.self().host();
  }

  @Override
  public Runnable host(String key, HostedSplit split) {
    if (hosted.putIfAbsent(key, split) != null) {
      throw new IllegalStateException("a split is hosted under " + key + " already");
    }
    synchronized (hostedChanged) {
      hostedChanged.notifyAll();
    }
    LOG.debug("hosting split {} for {} consumers", key, split.consumers());
    return () -> {
      hosted.remove(key, split);
      attachedBy.keySet().removeIf(c -> c.key().equals(key));
      dropServed(key, -1);
    };
  }

  // ---- the host's side (ShareCalls)

  /** What an attaching consumer is told. */
  record Attached(boolean hosted, String plan, long memoryBudget) {}

  Attached attachHere(
      String key,
      int index,
      List<String> fingerprint,
      String host,
      String memberId,
      long waitMillis)
      throws InterruptedException {
    HostedSplit split = awaitHosted(key, waitMillis);
    if (split == null) {
      return new Attached(false, "", 0);
    }
    String mismatch =
        new PlanFingerprint(split.fingerprint()).firstDifference(new PlanFingerprint(fingerprint));
    if (mismatch != null) {
      throw new SluiceException(
          "the trainer on "
              + host
              + " iterates another plan than the coordinator "
              + member.self().describe()
              + " runs: "
              + mismatch
              + ". Every trainer must build its dataset from the same definition and parameters",
          null);
    }
    if (index < 0 || index >= split.consumers()) {
      throw new SluiceException(
          "consumer " + index + " is not among the split's " + split.consumers() + " consumers",
          null);
    }
    split.attached(index, host);
    attachedBy.put(new Consumer(key, index), memberId);
    if (!member.hazelcast().getCluster().getMembers().stream()
        .anyMatch(m -> m.getUuid().toString().equals(memberId))) {
      // Gone between its call and now: its loss may have been told before it was recorded.
      reaper.execute(() -> consumersLost(memberId, "trainer " + memberId + " on " + host));
    }
    return new Attached(true, split.plan(), split.memoryBudget());
  }

  private HostedSplit awaitHosted(String key, long waitMillis) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
    synchronized (hostedChanged) {
      while (true) {
        HostedSplit s = hosted.get(key);
        if (s != null) {
          return s;
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return null;
        }
        hostedChanged.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
  }

  /** A piece as it goes on the wire. */
  record WirePiece(
      long id,
      String address,
      int port,
      long blockId,
      int rows,
      long bytes,
      List<String> hosts,
      boolean local)
      implements RemotePiece {}

  /** What a poll gave, on the wire. */
  record WirePoll(List<WirePiece> pieces, boolean ended) {}

  WirePoll nextHere(String key, int index, long[] acknowledged, int max, long waitMillis)
      throws InterruptedException {
    HostedSplit split = hosted.get(key);
    if (split == null) {
      // Closed by its last consumer: this one had closed, or the split failed (it said so then).
      return new WirePoll(List.of(), true);
    }
    Poll p = split.next(index, acknowledged, max, Duration.ofMillis(waitMillis));
    List<WirePiece> out = new ArrayList<>();
    for (Piece piece : p.pieces()) {
      if (piece.ref() != null) {
        InetSocketAddress owner =
            WorkerService.transportOf(member.hazelcast(), piece.ref().owner());
        if (owner == null) {
          throw new SluiceException(
              "the worker holding " + piece.ref() + " has left the cluster", null);
        }
        out.add(
            new WirePiece(
                piece.id(),
                owner.getHostString(),
                owner.getPort(),
                piece.ref().id(),
                piece.rows(),
                piece.bytes(),
                piece.hosts(),
                piece.local()));
      } else {
        long id = serve(key, index, piece.batch());
        InetSocketAddress self = transport.address();
        out.add(
            new WirePiece(
                piece.id(),
                self.getHostString(),
                self.getPort(),
                id,
                piece.rows(),
                piece.bytes(),
                piece.hosts(),
                piece.local()));
      }
    }
    return new WirePoll(out, p.ended());
  }

  /** Holds rows for consumer {@code index} of split {@code key} until taken: their id. */
  long serve(String key, int index, Batch batch) {
    long id = servedIds.incrementAndGet();
    served.put(id, new Served(key, index, batch));
    return id;
  }

  void closeHere(String key, int index, long[] acknowledged) {
    attachedBy.remove(new Consumer(key, index));
    HostedSplit split = hosted.get(key);
    dropServed(key, index);
    if (split != null) {
      split.close(index, acknowledged);
    }
  }

  /**
   * Closes the rows served for a consumer (all of the split's for -1; every split's for a null key)
   * that nobody took, waiting (at most the fetch timeout) for the writes of those being sent.
   */
  private void dropServed(String key, int consumer) {
    List<Served> writing = new ArrayList<>();
    for (Map.Entry<Long, Served> e : served.entrySet()) {
      Served s = e.getValue();
      if ((key == null || s.key.equals(key)) && (consumer < 0 || s.consumer == consumer)) {
        synchronized (s) {
          s.dropped = true;
        }
        if (s.closeIfIdle()) {
          served.remove(e.getKey(), s);
        } else {
          writing.add(s); // sent() closes and removes it
        }
      }
    }
    long deadline = System.nanoTime() + fetchTimeout.toNanos();
    for (Served s : writing) {
      synchronized (s) {
        while (!s.closed) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            LOG.warn(
                "rows served to consumer {} of split {} are still being written after {}; their"
                    + " memory is returned when the write ends",
                s.consumer,
                s.key,
                fetchTimeout);
            break;
          }
          try {
            s.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }
  }

  // ---- BlockSource: rows held here

  @Override
  public Batch get(long blockId) {
    Served s = served.get(blockId);
    if (s != null) {
      synchronized (s) {
        if (!s.dropped) {
          s.sending++;
          return s.batch;
        }
      }
    }
    throw new NoSuchElementException("no rows " + blockId + " are served here");
  }

  @Override
  public void sent(long blockId, boolean take) {
    Served s = served.get(blockId);
    if (s == null) {
      return;
    }
    boolean drop;
    synchronized (s) {
      s.sending--;
      s.dropped |= take;
      drop = s.dropped;
    }
    // Taken, or dropped while this write was under way (its consumer left): closed now.
    if (drop && s.closeIfIdle()) {
      served.remove(blockId, s);
    }
  }

  // ---- the attaching consumer's side

  @Override
  public SplitShare attach(String key, int index, List<String> fingerprint, Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    while (true) {
      Member host = coordinator();
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      long callWait = Math.max(0, Math.min(left, MAX_CALL_WAIT_MILLIS));
      Attached a =
          call(
              host,
              new ShareCalls.Attach(
                  key, index, fingerprint, hostLabel(), member.self().id().toString(), callWait),
              ShareCalls::readAttached,
              callWait);
      if (a.hosted()) {
        LOG.info("attached as consumer {} of split {} hosted by {}", index, key, host.getAddress());
        return new Share(key, index, host, a);
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new SluiceException(
            "the coordinator trainer "
                + host.getAddress()
                + " did not start split "
                + key
                + " within "
                + wait
                + ": it has not reached this epoch (is it running the same job, and is it still"
                + " training?)",
            null);
      }
    }
  }

  private Member coordinator() {
    MemberInfo c =
        member
            .coordinator()
            .orElseThrow(() -> new SluiceException("the cluster has no coordinator trainer", null));
    for (Member m : member.hazelcast().getCluster().getMembers()) {
      if (m.getUuid().equals(c.id())) {
        return m;
      }
    }
    throw new SluiceException(
        "the coordinator trainer " + c.describe() + " left the cluster", null);
  }

  private <T> T call(
      Member host,
      java.util.concurrent.Callable<byte[]> c,
      ExecutionCodec.PayloadReader<T> reader,
      long waitMillis) {
    IExecutorService ex = member.hazelcast().getExecutorService(ClusterRuntime.EXECUTOR);
    String where = "the coordinator trainer " + host.getAddress();
    try {
      byte[] reply =
          ex.submitToMember(c, host)
              .get(waitMillis + fetchTimeout.toMillis(), TimeUnit.MILLISECONDS);
      return ExecutionCodec.read(reply, reader, where);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SluiceException("interrupted while asking " + where, e);
    } catch (TimeoutException e) {
      throw new SluiceException(where + " did not answer within " + fetchTimeout, e);
    } catch (ExecutionException e) {
      throw coordinatorFailure(host, where, e.getCause());
    } catch (RuntimeException e) {
      throw coordinatorFailure(host, where, e);
    } catch (IOException e) {
      throw new SluiceException("a bad reply from " + where + ": " + e, e);
    }
  }

  /**
   * The error of a call to the coordinator: that it left the cluster (killed, or stopped: its
   * shared splits end with it, and every trainer attached to them fails with this), or that the
   * call failed there.
   */
  private SluiceException coordinatorFailure(Member host, String where, Throwable cause) {
    if (cause instanceof com.hazelcast.core.MemberLeftException
        || cause instanceof com.hazelcast.spi.exception.TargetNotMemberException
        || !member.hazelcast().getCluster().getMembers().contains(host)) {
      return new SluiceException(
          where
              + " (member "
              + host.getUuid()
              + ") left the cluster: the epoch it coordinated is over for every trainer, and"
              + " this trainer's share of it cannot go on"
              + (cause == null ? "" : " (" + cause + ")"),
          cause);
    }
    return new SluiceException(where + " failed: " + cause, cause);
  }

  /** A consumer's end of a split hosted by the coordinator. */
  private final class Share implements SplitShare {
    private final String key;
    private final int index;
    private final Member host;
    private final Attached attached;
    private final TakenPieces taken = new TakenPieces();
    private boolean ended;
    private boolean closed;

    Share(String key, int index, Member host, Attached attached) {
      this.key = key;
      this.index = index;
      this.host = host;
      this.attached = attached;
    }

    @Override
    public String plan() {
      return attached.plan();
    }

    @Override
    public long memoryBudget() {
      return attached.memoryBudget();
    }

    @Override
    public synchronized List<RemotePiece> next(int max, Duration wait) {
      if (ended || closed) {
        return null;
      }
      long waitMillis = Math.min(wait.toMillis(), MAX_CALL_WAIT_MILLIS);
      WirePoll p =
          call(
              host,
              new ShareCalls.Next(key, index, taken.acknowledge(), max, waitMillis),
              ShareCalls::readPoll,
              waitMillis);
      ended = p.ended();
      if (ended && p.pieces().isEmpty()) {
        return null;
      }
      return new ArrayList<>(p.pieces());
    }

    @Override
    public Batch fetch(RemotePiece piece, org.apache.arrow.memory.BufferAllocator into)
        throws InterruptedException {
      WirePiece w = (WirePiece) piece;
      InetSocketAddress owner = new InetSocketAddress(w.address(), w.port());
      try {
        BlockTransport.Taken t = transport.take(owner, w.blockId(), into);
        Batch b = t.block().get(fetchTimeout.toMillis(), TimeUnit.MILLISECONDS);
        taken.taken(w.id(), t.dropped());
        return b;
      } catch (TimeoutException e) {
        throw new SluiceException(
            "no answer for " + fetchTimeout + " taking block " + w.blockId() + " from " + owner, e);
      } catch (ExecutionException e) {
        Throwable c = e.getCause();
        if (!member.hazelcast().getCluster().getMembers().contains(host)) {
          // The workers drop the executions of a trainer that left: that is why.
          throw coordinatorFailure(host, "the coordinator trainer " + host.getAddress(), c);
        }
        String why = c instanceof BlockTransportException t ? t.getMessage() : String.valueOf(c);
        throw new SluiceException(
            "taking block "
                + w.blockId()
                + " of split "
                + key
                + " from "
                + owner
                + " failed: "
                + why,
            c);
      }
    }

    @Override
    public synchronized void close() {
      if (closed) {
        return;
      }
      closed = true;
      try {
        // The owners' word on the last pieces taken is a round trip away: wait for it briefly,
        // rather than have the host release (through the cluster) blocks already let go of.
        if (!taken.awaitSettled(Duration.ofMillis(MAX_CALL_WAIT_MILLIS))) {
          LOG.debug("leaving split {} as consumer {} before every owner let go", key, index);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      try {
        call(host, new ShareCalls.Close(key, index, taken.acknowledge()), in -> null, 0);
      } catch (SluiceException e) {
        LOG.warn("leaving split {} as consumer {}: {}", key, index, e.getMessage());
      }
    }
  }
}
