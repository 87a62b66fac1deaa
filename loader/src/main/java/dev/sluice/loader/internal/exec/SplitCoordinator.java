package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.Locality;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.concurrent.Uninterruptibly;
import dev.sluice.sharding.RemainderPolicy;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
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
  private final boolean hinted;
  private final int bufferBlocks;
  private final int stagingCapacity;
  private final Object lock = new Object();
  private final List<Consumer> consumers = new ArrayList<>();

  /** Blocks taken from the execution and not yet given to a consumer, oldest first. */
  private final List<Batch> staging = new ArrayList<>();

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
    boolean anyHint = false;
    for (int i = 0; i < n; i++) {
      String hint = localityHints.isEmpty() ? null : localityHints.get(i);
      hint = hint == null || hint.isEmpty() ? null : hint;
      anyHint |= hint != null;
      consumers.add(new Consumer(i, hint));
    }
    this.hinted = anyHint;
    // With hints, a few blocks may wait for their host's consumer to make room: one per consumer.
    this.stagingCapacity = anyHint ? n : 1;
    this.open = n;
    this.router = new Thread(this::route, "sluice-split-router-" + SPLITS.incrementAndGet());
    this.router.setDaemon(true);
    this.router.start();
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
        Batch b = executor.take();
        if (b == null) {
          finish();
          return;
        }
        if (!stage(b)) {
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
  private boolean stage(Batch b) throws InterruptedException {
    synchronized (lock) {
      if (open == 0) {
        b.close();
        return false;
      }
      if (b.rowCount() == 0) {
        b.close();
        return true;
      }
      keepForPadding(b);
      staging.add(b);
      bufferedBytes += b.sizeInBytes();
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
    for (Iterator<Batch> it = staging.iterator(); it.hasNext(); ) {
      Batch b = it.next();
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

  private void keepForPadding(Batch b) {
    int want = consumers.size() - 1;
    int have = padReserve == null ? 0 : padReserve.rowCount();
    if (!equal || policy != RemainderPolicy.PAD || have >= want) {
      return;
    }
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
          Batch b = staging.remove(0);
          Consumer target = null;
          for (Consumer c : consumers) {
            if (!c.closed && (target == null || better(c, target, b))) {
              target = c;
            }
          }
          if (target == null) {
            bufferedBytes -= b.sizeInBytes();
            b.close();
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

  private static boolean better(Consumer c, Consumer than, Batch b) {
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
    ArrayDeque<Batch> surplus = new ArrayDeque<>();
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
        Batch head = surplus.poll();
        bufferedBytes -= head.sizeInBytes();
        if (head.rowCount() <= need) {
          c.enqueue(head);
          need -= head.rowCount();
        } else {
          try (head) {
            Batch part = head.slice(alloc, 0, (int) need);
            Batch rest = head.slice(alloc, (int) need, head.rowCount() - (int) need);
            bufferedBytes += part.sizeInBytes() + rest.sizeInBytes();
            surplus.addFirst(rest);
            c.enqueue(part);
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
        c.enqueue(pad);
        padded += need;
      }
    }
    long dropped = 0;
    for (Batch b : surplus) {
      dropped += b.rowCount();
      bufferedBytes -= b.sizeInBytes();
      b.close();
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

  /** One consumer's end: its queue and counts. */
  private final class Consumer implements BlockStream {
    final int index;
    final String hint;
    ArrayDeque<Batch> queue = new ArrayDeque<>();
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

    boolean isLocal(Batch b) {
      return hint != null && b.hosts().contains(hint);
    }

    /** Takes a block into the queue (its bytes are already counted as buffered). */
    void enqueue(Batch b) {
      queue.add(b);
      assigned += b.rowCount();
      lock.notifyAll();
    }

    /**
     * Keeps the first {@code target - released} queued rows; the rest goes to {@code surplus}, in
     * order.
     */
    void cutTo(long target, ArrayDeque<Batch> surplus, BufferAllocator alloc) {
      long keep = target - released;
      ArrayDeque<Batch> kept = new ArrayDeque<>();
      long rows = 0;
      for (Batch b : queue) {
        if (rows + b.rowCount() <= keep) {
          kept.add(b);
          rows += b.rowCount();
        } else if (rows < keep) {
          int head = (int) (keep - rows);
          try (b) {
            bufferedBytes -= b.sizeInBytes();
            Batch first = b.slice(alloc, 0, head);
            Batch rest = b.slice(alloc, head, b.rowCount() - head);
            bufferedBytes += first.sizeInBytes() + rest.sizeInBytes();
            kept.add(first);
            surplus.add(rest);
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
      try {
        synchronized (lock) {
          while (true) {
            if (failure != null) {
              throw SluiceException.rethrown(failure);
            }
            if (closed) {
              return null;
            }
            if (queue.isEmpty() && !staging.isEmpty()) {
              enqueue(takeStaged());
            }
            Batch head = queue.peek();
            if (head != null) {
              if (!equal || ended || head.rowCount() <= minAssigned() - released) {
                return pop();
              }
            } else if (ended) {
              return null;
            }
            lock.wait();
          }
        }
      } finally {
        if (!waitOutside) {
          waitNanos += System.nanoTime() - t0;
        }
      }
    }

    /** A staged block for an idle consumer: a local one if there is one, else the oldest. */
    private Batch takeStaged() {
      for (int i = 0; i < staging.size(); i++) {
        if (isLocal(staging.get(i))) {
          return staging.remove(i);
        }
      }
      return staging.remove(0);
    }

    private Batch pop() {
      Batch b = queue.poll();
      released += b.rowCount();
      bufferedBytes -= b.sizeInBytes();
      if (isLocal(b)) {
        localBlocks++;
        localRows += b.rowCount();
      } else {
        remoteBlocks++;
        remoteRows += b.rowCount();
      }
      lock.notifyAll();
      return b;
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
          s.consumerPeakMemory());
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
        for (Batch b : queue) {
          bufferedBytes -= b.sizeInBytes();
          b.close();
        }
        queue.clear();
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
          for (Batch b : staging) {
            bufferedBytes -= b.sizeInBytes();
            b.close();
          }
          staging.clear();
          if (padReserve != null) {
            padReserve.close();
            padReserve = null;
          }
        }
        executor.close();
      }
    }
  }
}
