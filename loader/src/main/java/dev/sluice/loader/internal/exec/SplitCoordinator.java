package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.Locality;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.concurrent.Uninterruptibly;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.SplitExchange;
import dev.sluice.sharding.RemainderPolicy;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Splits one execution's output among {@code n} consumers (Ray Data's output splitter).
 *
 * <p><b>Routing.</b> A router thread ({@code sluice-split-router-N}) takes blocks from the
 * execution into a small staging area and hands each to a consumer whose queue has room (at most
 * {@code bufferBlocks} blocks): first to a consumer whose locality hint is among the block's
 * {@linkplain Batch#hosts() hosts} (the one with the fewest rows among those), otherwise, once the
 * staging area is full, the oldest staged block to the consumer with room and the fewest rows. A
 * consumer whose queue runs empty takes a staged block itself (a local one if there is one). So
 * hints are preferences, as in Ray Data: a block never waits for its preferred consumer while
 * another one has room or is idle. Without hints the staging area holds one block, and routing is
 * "fewest rows among those with room". Each consumer counts the blocks it got that were local to it
 * ({@link Locality}).
 *
 * <p><b>Equal shares.</b> Before the end, a consumer may read only up to the smallest number of
 * rows any open consumer has been given, so a fast consumer runs ahead of the slowest by at most
 * its buffer and waits beyond that; every row above that line is still queued. At the end the
 * queued rows are redistributed so that every open consumer gets exactly its target ({@code R} rows
 * among {@code k} open consumers): {@code floor(R/k)} under {@link RemainderPolicy#DROP} (the
 * {@code R mod k} rows left over are dropped), {@code ceil(R/k)} under {@link RemainderPolicy#PAD}
 * (the missing rows repeat, cyclically, the first rows the split received, copied aside as they
 * passed), and {@code floor(R/k)} or one more under {@link RemainderPolicy#UNEVEN} (every row
 * once). The outcome is logged, never silent. A consumer that stops must close its iterator, which
 * takes it out of the reckoning.
 *
 * <p>All shared state is guarded by one lock; consumers and the router wait on it, never sleep. The
 * coordinator owns the execution and closes it when every consumer has closed its end.
 */
public final class SplitCoordinator {
  private static final Logger LOG = LoggerFactory.getLogger(SplitCoordinator.class);
  private static final AtomicInteger SPLITS = new AtomicInteger();

  private final StreamingExecutor executor;
  private final boolean equal;
  private final RemainderPolicy policy;
  private boolean hinted;

  /** Whether the hints were given (else a shared split learns them as consumers attach). */
  private final boolean givenHints;

  /** Whether consumers' hosts are learned as they attach (locality routing on). */
  private volatile boolean learnHosts = true;

  /** Ignores the consumers' hosts from now on (locality routing off); given hints still hold. */
  public void ignoreHosts() {
    learnHosts = false;
  }

  /**
   * When every consumer must have attached ({@link System#nanoTime()}), or {@link Long#MAX_VALUE}
   * when none is expected to (guarded by the lock).
   */
  private long attachBy = Long.MAX_VALUE;

  private java.time.Duration attachWait;

  /**
   * For a split shared with other processes: consumer {@code local} is this process's, and every
   * other must attach within {@code within}, or the split fails with an error naming those that did
   * not (their trainers are gone, or run another job): the others stop instead of waiting for them
   * without end.
   */
  public void expectAttached(int local, java.time.Duration within) {
    synchronized (lock) {
      consumers.get(local).attached = true;
      attachWait = within;
      attachBy = System.nanoTime() + within.toNanos();
      lock.notifyAll();
    }
  }

  /** Fails the split if a consumer has not attached by its deadline (under the lock). */
  private void checkAttached() {
    if (attachBy == Long.MAX_VALUE || failure != null) {
      return;
    }
    List<Integer> missing = new ArrayList<>();
    for (Consumer c : consumers) {
      if (!c.attached && !c.closed) {
        missing.add(c.index);
      }
    }
    if (missing.isEmpty()) {
      attachBy = Long.MAX_VALUE;
      return;
    }
    if (System.nanoTime() - attachBy < 0) {
      return;
    }
    failure =
        new SluiceException(
            "streaming share: consumer"
                + (missing.size() == 1 ? " " : "s ")
                + missing
                + " of "
                + consumers.size()
                + " (the trainers of "
                + (missing.size() == 1 ? "that index" : "those indices")
                + ") did not attach within "
                + attachWait
                + "; the split stops rather than wait for them without end. Is every trainer"
                + " running the same job with the same number of trainers, and still alive?",
            (Throwable) null);
    for (int i : missing) {
      Consumer c = consumers.get(i);
      c.closed = true;
      for (Item b : c.queue) {
        bufferedBytes -= b.bytes();
        b.discard();
      }
      c.queue.clear();
      open--;
    }
    LOG.warn(failure.getMessage());
    lock.notifyAll();
  }

  /** What the split does when a consumer's process is lost (a shared split). */
  private volatile dev.sluice.loader.SplitOptions.TrainerLoss whenConsumerLost =
      dev.sluice.loader.SplitOptions.TrainerLoss.FAIL;

  /** Sets what the split does when a consumer's process is lost (see {@link #consumerLost}). */
  public void whenConsumerLost(dev.sluice.loader.SplitOptions.TrainerLoss loss) {
    this.whenConsumerLost = Objects.requireNonNull(loss, "loss");
  }

  /**
   * The process of consumer {@code index} is gone without closing its end ({@code trainer} names
   * it): under {@link dev.sluice.loader.SplitOptions.TrainerLoss#FAIL} the split fails for every
   * consumer with an error naming it; under {@code CONTINUE} the consumer leaves (the blocks queued
   * for it or given to it and not confirmed are dropped) and the others go on. Either way the
   * consumer is closed, which closes the execution if it was the last one.
   */
  public void consumerLost(int index, String trainer) {
    Consumer c = consumers.get(index);
    synchronized (lock) {
      if (c.closed) {
        return; // it had left already
      }
      c.lostWith = trainer;
      boolean fail = whenConsumerLost == dev.sluice.loader.SplitOptions.TrainerLoss.FAIL;
      String what =
          trainer
              + " (consumer "
              + index
              + " of the "
              + consumers.size()
              + " of a shared split) was lost mid-epoch";
      executor.event(
          dev.sluice.loader.ExecutionEvent.Kind.CONSUMER_LOST,
          "",
          what + (fail ? "; the split fails" : "; the others go on"));
      if (fail) {
        if (failure == null) {
          failure =
              new SluiceException(
                  what
                      + ": the epoch stops for every trainer (with"
                      + " SplitOptions.whenTrainerLost(CONTINUE) the others go on with their"
                      + " shares)",
                  (Throwable) null);
        }
        LOG.warn(failure.getMessage());
      } else {
        LOG.warn(
            "{}; the other trainers go on with their shares ({} blocks queued for it are dropped)",
            what,
            c.queue.size() + c.given.size());
      }
      lock.notifyAll();
    }
    c.close();
  }

  /** Run once the execution is closed (the last consumer closed). */
  private volatile Runnable onClosed = () -> {};

  private final int bufferBlocks;
  private final int stagingCapacity;
  private final Object lock = new Object();
  private final List<Consumer> consumers = new ArrayList<>();

  /** Blocks taken from the execution and not yet given to a consumer, oldest first. */
  private final List<Item> staging = new ArrayList<>();

  /**
   * Whether the blocks stay in their makers' stores until a consumer takes them (a split shared
   * with consumers of other processes, which take their blocks straight from the makers), rather
   * than being taken out by the router.
   */
  private final boolean shared;

  private long pieces;

  private final Thread router;
  private boolean ended;
  private SluiceException failure;
  private long bufferedBytes;
  private long peakBufferedBytes;
  private int open;
  private boolean executorClosed;

  /** Under PAD: a copy of the first rows received (at most n - 1), repeated to pad short shares. */
  private Batch padReserve;

  /**
   * A block on its way to a consumer: still in its maker's store ({@code ref}, in a shared split)
   * or held here ({@code batch}).
   */
  private final class Item {
    BlockRef ref;
    Batch batch;
    final int rows;
    final List<String> hosts;

    /**
     * A block left with its maker: local to its maker's host, where it is taken from (to the hosts
     * its rows were read from when the maker's is unknown).
     */
    Item(BlockRef ref) {
      this.ref = ref;
      this.rows = ref.rows();
      String maker = executor.resources().hostOf(ref.owner());
      this.hosts = maker == null ? ref.hosts() : List.of(maker);
    }

    Item(Batch batch) {
      this.batch = batch;
      this.rows = batch.rowCount();
      this.hosts = batch.hosts();
    }

    long bytes() {
      return ref != null ? ref.bytes() : batch.sizeInBytes();
    }

    /** The rows themselves, taken out of the maker's store if still there (counted as held). */
    Batch rows() {
      if (ref != null) {
        long before = ref.bytes();
        batch = executor.open(ref);
        ref = null;
        bufferedBytes += batch.sizeInBytes() - before;
      }
      return batch;
    }

    /** The rows of an item no longer buffered (given to a consumer): taken out of the store. */
    Batch open() {
      if (ref != null) {
        batch = executor.open(ref);
        ref = null;
      }
      return batch;
    }

    /** Drops the block unread. */
    void discard() {
      if (ref != null) {
        executor.releaseRef(ref);
        ref = null;
      } else {
        batch.close();
      }
    }
  }

  /**
   * Starts routing the output of a started execution to {@code n} consumers, without hints,
   * dropping the remainder.
   */
  public SplitCoordinator(StreamingExecutor executor, int n, boolean equal, int bufferBlocks) {
    this(executor, n, equal, RemainderPolicy.DROP, List.of(), bufferBlocks);
  }

  /**
   * Starts routing the output of a started execution to {@code n} consumers.
   *
   * @param policy with {@code equal}, what happens to the rows that do not divide evenly
   * @param localityHints empty, or one host per consumer (null for no preference)
   */
  public SplitCoordinator(
      StreamingExecutor executor,
      int n,
      boolean equal,
      RemainderPolicy policy,
      List<String> localityHints,
      int bufferBlocks) {
    this(executor, n, equal, policy, localityHints, bufferBlocks, false);
  }

  /**
   * Starts routing the output of a started execution to {@code n} consumers, some of which may be
   * in other processes ({@code shared}: blocks stay with their makers until taken, and {@link
   * #hosted} serves the remote consumers).
   */
  public SplitCoordinator(
      StreamingExecutor executor,
      int n,
      boolean equal,
      RemainderPolicy policy,
      List<String> localityHints,
      int bufferBlocks,
      boolean shared) {
    if (n < 1 || bufferBlocks < 1) {
      throw new IllegalArgumentException("need n >= 1 consumers and bufferBlocks >= 1");
    }
    if (!localityHints.isEmpty() && localityHints.size() != n) {
      throw new IllegalArgumentException(
          "need one locality hint per consumer: "
              + n
              + " consumers, "
              + localityHints.size()
              + " hints");
    }
    this.executor = executor;
    this.equal = equal;
    this.policy = Objects.requireNonNull(policy, "policy");
    this.bufferBlocks = bufferBlocks;
    this.shared = shared;
    boolean anyHint = false;
    for (int i = 0; i < n; i++) {
      String hint = localityHints.isEmpty() ? null : localityHints.get(i);
      hint = hint == null || hint.isEmpty() ? null : hint;
      anyHint |= hint != null;
      consumers.add(new Consumer(i, hint));
    }
    this.hinted = anyHint;
    this.givenHints = anyHint;
    // With hints, a few blocks may wait for their host's consumer to make room: one per consumer.
    // A shared split learns its consumers' hosts as they attach.
    this.stagingCapacity = anyHint || shared ? n : 1;
    this.open = n;
    this.router = new Thread(this::route, "sluice-split-router-" + SPLITS.incrementAndGet());
    this.router.setDaemon(true);
    this.router.start();
  }

  /**
   * Sets consumer {@code i}'s host, unless the split was given hints: the blocks read there go to
   * it first.
   */
  public void learnHost(int i, String host) {
    if (givenHints || !learnHosts || host == null || host.isEmpty()) {
      return;
    }
    synchronized (lock) {
      consumers.get(i).hint = host;
      hinted = true;
    }
  }

  /** Runs {@code action} once the execution is closed (after the last consumer closed). */
  public void onClosed(Runnable action) {
    this.onClosed = action;
  }

  /** Consumer {@code i}'s end. */
  public BlockStream consumer(int i) {
    return consumers.get(i);
  }

  /** The most bytes held in the consumers' queues and the staging area at once. */
  public long peakBufferedBytes() {
    synchronized (lock) {
      return peakBufferedBytes;
    }
  }

  /** Rows handed to each consumer so far. */
  public long[] rowsDelivered() {
    synchronized (lock) {
      long[] out = new long[consumers.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = consumers.get(i).released;
      }
      return out;
    }
  }

  /** Consumer {@code i}'s local and remote deliveries so far. */
  public Locality locality(int i) {
    return consumers.get(i).locality();
  }

  private void route() {
    try {
      while (true) {
        Item item;
        if (shared) {
          BlockRef ref = executor.takeRef();
          item = ref == null ? null : new Item(ref);
        } else {
          Batch b = executor.take();
          item = b == null ? null : new Item(b);
        }
        if (item == null) {
          finish();
          return;
        }
        if (!stage(item)) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (SluiceException e) {
      synchronized (lock) {
        failure = e;
        lock.notifyAll();
      }
    } catch (RuntimeException e) {
      synchronized (lock) {
        failure = new SluiceException("streaming split failed: " + e, e);
        lock.notifyAll();
      }
    }
  }

  /**
   * Stages a block and dispatches what can go; waits while the staging area is full and nobody has
   * room. False when every consumer has gone.
   */
  private boolean stage(Item b) throws InterruptedException {
    synchronized (lock) {
      if (open == 0) {
        b.discard();
        return false;
      }
      if (b.rows == 0) {
        b.discard();
        return true;
      }
      staging.add(b);
      bufferedBytes += b.bytes();
      peakBufferedBytes = Math.max(peakBufferedBytes, bufferedBytes);
      keepForPadding(b);
      peakBufferedBytes = Math.max(peakBufferedBytes, bufferedBytes);
      while (true) {
        if (open == 0) {
          return false; // the last consumer to close releases what is staged
        }
        dispatchLocal();
        if (staging.size() < stagingCapacity) {
          return true;
        }
        if (!dispatchOldest()) {
          lock.wait();
        }
      }
    }
  }

  /** Gives every staged block that is local to a consumer with room to that consumer. */
  private void dispatchLocal() {
    if (!hinted) {
      return;
    }
    for (Iterator<Item> it = staging.iterator(); it.hasNext(); ) {
      Item b = it.next();
      Consumer target = null;
      for (Consumer c : consumers) {
        if (!c.closed
            && c.queue.size() < bufferBlocks
            && c.isLocal(b)
            && (target == null || c.assigned < target.assigned)) {
          target = c;
        }
      }
      if (target != null) {
        it.remove();
        target.enqueue(b);
      }
    }
  }

  /**
   * Gives the oldest staged block to the consumer with room and the fewest rows; false if nobody
   * has room.
   */
  private boolean dispatchOldest() {
    Consumer target = null;
    for (Consumer c : consumers) {
      if (!c.closed
          && c.queue.size() < bufferBlocks
          && (target == null || c.assigned < target.assigned)) {
        target = c;
      }
    }
    if (target == null || staging.isEmpty()) {
      return false;
    }
    target.enqueue(staging.remove(0));
    return true;
  }

  private void keepForPadding(Item item) {
    int want = consumers.size() - 1;
    int have = padReserve == null ? 0 : padReserve.rowCount();
    if (!equal || policy != RemainderPolicy.PAD || have >= want) {
      return;
    }
    Batch b = item.rows();
    Batch head = b.slice(executor.consumerAllocator(), 0, Math.min(want - have, b.rowCount()));
    if (padReserve == null) {
      padReserve = head;
      return;
    }
    try (Batch old = padReserve;
        head) {
      padReserve = Batch.concat(executor.consumerAllocator(), List.of(old, head));
    }
  }

  private void finish() {
    synchronized (lock) {
      if (equal) {
        // Everything goes to a consumer now (its host's if possible), so that the shares can be
        // evened out.
        while (!staging.isEmpty()) {
          Item b = staging.remove(0);
          Consumer target = null;
          for (Consumer c : consumers) {
            if (!c.closed && (target == null || better(c, target, b))) {
              target = c;
            }
          }
          if (target == null) {
            bufferedBytes -= b.bytes();
            b.discard();
          } else {
            target.enqueue(b);
          }
        }
        rebalance();
        if (padReserve != null) {
          padReserve.close();
          padReserve = null;
        }
      } else {
        dispatchLocal();
      }
      ended = true;
      lock.notifyAll();
    }
  }

  private static boolean better(Consumer c, Consumer than, SplitCoordinator.Item b) {
    boolean local = c.isLocal(b);
    if (local != than.isLocal(b)) {
      return local;
    }
    return c.assigned < than.assigned;
  }

  /**
   * Moves queued rows between open consumers so that each gets exactly its target (equal mode, at
   * the end).
   */
  private void rebalance() {
    List<Consumer> live = new ArrayList<>();
    long total = 0;
    for (Consumer c : consumers) {
      if (!c.closed) {
        live.add(c);
        total += c.assigned;
      }
    }
    if (live.isEmpty()) {
      return;
    }
    int k = live.size();
    long base = total / k;
    long extra = total % k;
    for (Consumer c : live) {
      c.target = policy == RemainderPolicy.PAD && extra > 0 ? base + 1 : base;
    }
    if (policy == RemainderPolicy.UNEVEN) {
      // The consumers already holding the most rows keep the extra row each: the fewest rows move.
      List<Consumer> byRows = new ArrayList<>(live);
      byRows.sort(
          Comparator.comparingLong((Consumer c) -> -c.assigned).thenComparingInt(c -> c.index));
      for (int i = 0; i < extra; i++) {
        byRows.get(i).target = base + 1;
      }
    }
    BufferAllocator alloc = executor.consumerAllocator();
    ArrayDeque<Item> surplus = new ArrayDeque<>();
    long moved = 0;
    for (Consumer c : live) {
      if (c.assigned > c.target) {
        moved += c.assigned - c.target;
        c.cutTo(c.target, surplus, alloc);
      }
    }
    long padded = 0;
    int padCursor = 0;
    for (Consumer c : live) {
      long need = c.target - c.assigned;
      while (need > 0 && !surplus.isEmpty()) {
        Item head = surplus.poll();
        if (head.rows <= need) {
          c.enqueue(head);
          need -= head.rows;
        } else {
          Batch whole = head.rows();
          bufferedBytes -= whole.sizeInBytes();
          try (whole) {
            Batch part = whole.slice(alloc, 0, (int) need);
            Batch rest = whole.slice(alloc, (int) need, whole.rowCount() - (int) need);
            bufferedBytes += part.sizeInBytes() + rest.sizeInBytes();
            surplus.addFirst(new Item(rest));
            c.enqueue(new Item(part));
            need = 0;
          }
        }
      }
      if (need > 0) {
        // Only PAD asks for more rows than there are; repeat the first rows received, cyclically.
        int[] rows = new int[(int) need];
        for (int i = 0; i < rows.length; i++) {
          rows[i] = padCursor++ % padReserve.rowCount();
        }
        Batch pad = padReserve.select(alloc, rows);
        bufferedBytes += pad.sizeInBytes();
        c.enqueue(new Item(pad));
        padded += need;
      }
    }
    long dropped = 0;
    for (Item b : surplus) {
      dropped += b.rows;
      bufferedBytes -= b.bytes();
      b.discard();
    }
    LOG.info(
        "streamingSplit(equal, {}): {} rows among {} consumers; each gets {}; {} rows moved between consumers, "
            + "{} rows of the tail dropped, {} rows repeated to pad",
        policy,
        total,
        k,
        policy == RemainderPolicy.UNEVEN && extra > 0
            ? base + " or " + (base + 1)
            : String.valueOf(live.get(0).target),
        moved - dropped,
        dropped,
        padded);
  }

  private long minAssigned() {
    long min = Long.MAX_VALUE;
    for (Consumer c : consumers) {
      if (!c.closed) {
        min = Math.min(min, c.assigned);
      }
    }
    return min == Long.MAX_VALUE ? 0 : min;
  }

  /**
   * This split as the {@link SplitExchange} serves it to consumers of other processes (a split
   * started {@code shared}).
   *
   * @param fingerprint the plan's fingerprint lines, which an attaching consumer's must equal
   */
  public SplitExchange.HostedSplit hosted(List<String> fingerprint) {
    if (!shared) {
      throw new IllegalStateException("this split keeps its blocks in this process");
    }
    List<String> lines = List.copyOf(fingerprint);
    return new SplitExchange.HostedSplit() {
      @Override
      public List<String> fingerprint() {
        return lines;
      }

      @Override
      public int consumers() {
        return consumers.size();
      }

      @Override
      public String plan() {
        return executor.stats().plan();
      }

      @Override
      public long memoryBudget() {
        return executor.stats().memoryBudget();
      }

      @Override
      public void attached(int consumer, String host) {
        synchronized (lock) {
          if (failure != null) {
            throw SluiceException.rethrown(failure);
          }
          Consumer c = consumers.get(consumer);
          if (c.lostWith != null) {
            throw new SluiceException(
                "consumer "
                    + consumer
                    + " of this split left it when its trainer "
                    + c.lostWith
                    + " was lost; a trainer started again takes up its share at the next epoch"
                    + " (a static share, Dataset.share, resumes mid-epoch from its position)",
                (Throwable) null);
          }
          if (c.attached) {
            throw new IllegalStateException(
                "consumer " + consumer + " of this split is attached already");
          }
          c.attached = true;
        }
        learnHost(consumer, host);
      }

      @Override
      public SplitExchange.Poll next(int consumer, long[] acknowledged, int max, Duration wait)
          throws InterruptedException {
        return consumers.get(consumer).poll(acknowledged, max, wait);
      }

      @Override
      public void close(int consumer, long[] acknowledged) {
        Consumer c = consumers.get(consumer);
        synchronized (lock) {
          c.settle(acknowledged);
        }
        c.close();
      }

      @Override
      public void consumerLost(int consumer, String trainer) {
        SplitCoordinator.this.consumerLost(consumer, trainer);
      }
    };
  }

  /** One consumer's end: its queue and counts. */
  private final class Consumer implements BlockStream {
    final int index;
    String hint;
    boolean attached;

    /** The trainer this consumer was lost with (null unless lost). */
    String lostWith;

    ArrayDeque<Item> queue = new ArrayDeque<>();

    /** Blocks given to this consumer in another process and not yet acknowledged, by piece id. */
    final Map<Long, Item> given = new HashMap<>();

    long assigned;
    long released;
    long target;
    boolean closed;
    long waitNanos;
    boolean waitOutside;
    long localBlocks;
    long remoteBlocks;
    long localRows;
    long remoteRows;

    Consumer(int index, String hint) {
      this.index = index;
      this.hint = hint;
    }

    boolean isLocal(Item b) {
      return hint != null && b.hosts.contains(hint);
    }

    /** Takes a block into the queue (its bytes are already counted as buffered). */
    void enqueue(Item b) {
      queue.add(b);
      assigned += b.rows;
      lock.notifyAll();
    }

    /**
     * Keeps the first {@code target - released} queued rows; the rest goes to {@code surplus}, in
     * order.
     */
    void cutTo(long target, ArrayDeque<Item> surplus, BufferAllocator alloc) {
      long keep = target - released;
      ArrayDeque<Item> kept = new ArrayDeque<>();
      long rows = 0;
      for (Item b : queue) {
        if (rows + b.rows <= keep) {
          kept.add(b);
          rows += b.rows;
        } else if (rows < keep) {
          int head = (int) (keep - rows);
          Batch whole = b.rows();
          try (whole) {
            bufferedBytes -= whole.sizeInBytes();
            Batch first = whole.slice(alloc, 0, head);
            Batch rest = whole.slice(alloc, head, whole.rowCount() - head);
            bufferedBytes += first.sizeInBytes() + rest.sizeInBytes();
            kept.add(new Item(first));
            surplus.add(new Item(rest));
          }
          rows = keep;
        } else {
          surplus.add(b);
        }
      }
      queue = kept;
      assigned = target;
    }

    @Override
    public Batch take() throws InterruptedException {
      long t0 = System.nanoTime();
      Item item;
      try {
        synchronized (lock) {
          item = awaitHead(Long.MAX_VALUE);
          if (item == null) {
            return null;
          }
          pop();
        }
      } finally {
        if (!waitOutside) {
          waitNanos += System.nanoTime() - t0;
        }
      }
      return item.open();
    }

    /**
     * Waits, under the lock, until the head of the queue may go to this consumer; null at the end
     * (or when {@code deadline}, in {@link System#nanoTime()}, has passed: see {@link #ended}).
     */
    private Item awaitHead(long deadline) throws InterruptedException {
      while (true) {
        checkAttached();
        if (failure != null) {
          throw SluiceException.rethrown(failure);
        }
        if (closed) {
          return null;
        }
        if (queue.isEmpty() && !staging.isEmpty()) {
          enqueue(takeStaged());
        }
        Item head = queue.peek();
        if (head != null) {
          if (!equal || ended || head.rows <= minAssigned() - released) {
            return head;
          }
        } else if (ended) {
          return null;
        }
        long now = System.nanoTime();
        if (deadline != Long.MAX_VALUE && now - deadline >= 0) {
          return null;
        }
        long until = deadline;
        if (attachBy != Long.MAX_VALUE && (until == Long.MAX_VALUE || attachBy - until < 0)) {
          until = attachBy; // wake to fail the split if a consumer has not attached by then
        }
        if (until == Long.MAX_VALUE) {
          lock.wait();
        } else {
          lock.wait(Math.max(1, (until - now) / 1_000_000));
        }
      }
    }

    /** Whether this consumer has nothing more coming. */
    private boolean ended() {
      return closed || (ended && queue.isEmpty() && (equal || staging.isEmpty()));
    }

    /** A staged block for an idle consumer: a local one if there is one, else the oldest. */
    private Item takeStaged() {
      for (int i = 0; i < staging.size(); i++) {
        if (isLocal(staging.get(i))) {
          return staging.remove(i);
        }
      }
      return staging.remove(0);
    }

    /** Takes the head off the queue and counts it as this consumer's. */
    private Item pop() {
      Item b = queue.poll();
      released += b.rows;
      bufferedBytes -= b.bytes();
      if (isLocal(b)) {
        localBlocks++;
        localRows += b.rows;
      } else {
        remoteBlocks++;
        remoteRows += b.rows;
      }
      lock.notifyAll();
      return b;
    }

    /** For a consumer of another process: see {@link SplitExchange.HostedSplit#next}. */
    SplitExchange.Poll poll(long[] acknowledged, int max, Duration wait)
        throws InterruptedException {
      List<SplitExchange.Piece> out = new ArrayList<>();
      long deadline = System.nanoTime() + wait.toNanos();
      synchronized (lock) {
        settle(acknowledged);
        while (out.size() < max) {
          Item head = awaitHead(out.isEmpty() ? deadline : System.nanoTime());
          if (head == null) {
            break;
          }
          pop();
          if (head.ref != null && !executor.isRemote(head.ref)) {
            head.open(); // held by this process: served from here
          }
          long id = ++pieces;
          if (head.ref != null) {
            given.put(id, head);
            out.add(
                new SplitExchange.Piece(
                    id,
                    executor.where(head.ref),
                    null,
                    head.rows,
                    head.ref.bytes(),
                    head.ref.hosts(),
                    isLocal(head)));
          } else {
            // Rows held here: the exchange serves them and closes them once taken.
            out.add(
                new SplitExchange.Piece(
                    id,
                    null,
                    head.batch,
                    head.rows,
                    head.batch.sizeInBytes(),
                    head.batch.hosts(),
                    isLocal(head)));
          }
        }
        return new SplitExchange.Poll(out, ended());
      }
    }

    /** The blocks given to this consumer in another process that it took (under the lock). */
    void settle(long[] acknowledged) {
      for (long id : acknowledged) {
        Item item = given.remove(id);
        if (item != null) {
          executor.handedOff(item.ref);
        }
      }
    }

    @Override
    public Locality locality() {
      synchronized (lock) {
        return new Locality(localBlocks, remoteBlocks, localRows, remoteRows);
      }
    }

    @Override
    public BufferAllocator consumerAllocator() {
      return executor.consumerAllocator();
    }

    @Override
    public void addConsumerWait(long nanos) {
      synchronized (lock) {
        waitNanos += nanos;
      }
    }

    @Override
    public void measureConsumerWaitOutside() {
      waitOutside = true;
    }

    @Override
    public void consumerHolds(long rows) {
      executor.consumerHolds(rows);
    }

    @Override
    public SluiceException consumerOutOfMemory(
        int batchRows, org.apache.arrow.memory.OutOfMemoryException e) {
      return executor.consumerOutOfMemory(batchRows, e);
    }

    @Override
    public DatasetStats stats() {
      DatasetStats s = executor.stats();
      long wait;
      long rows;
      synchronized (lock) {
        wait = waitNanos;
        rows = released;
      }
      String mode = (equal ? ", equal " + policy : "") + (hinted ? ", hint " + hint : "");
      return new DatasetStats(
          s.plan() + " -> StreamingSplit[" + consumers.size() + mode + "]#" + index,
          s.operators(),
          s.wallNanos(),
          s.firstBatchNanos(),
          wait,
          rows,
          s.memoryBudget(),
          s.peakMemory(),
          s.badRecords(),
          s.consumerPeakMemory(),
          s.events());
    }

    @Override
    public long peakMemory() {
      return executor.peakMemory();
    }

    @Override
    public void close() {
      boolean last;
      synchronized (lock) {
        if (closed) {
          return;
        }
        closed = true;
        for (Item b : queue) {
          bufferedBytes -= b.bytes();
          b.discard();
        }
        queue.clear();
        for (Item b : given.values()) {
          b.discard(); // given to a consumer of another process, which did not take it
        }
        given.clear();
        open--;
        last = open == 0 && !executorClosed;
        if (last) {
          executorClosed = true;
        }
        lock.notifyAll();
      }
      if (last) {
        router.interrupt();
        Uninterruptibly.join(router); // it moves batches until it ends
        synchronized (lock) {
          for (Item b : staging) {
            bufferedBytes -= b.bytes();
            b.discard();
          }
          staging.clear();
          if (padReserve != null) {
            padReserve.close();
            padReserve = null;
          }
        }
        try {
          executor.close();
        } finally {
          onClosed.run();
        }
      }
    }
  }
}
