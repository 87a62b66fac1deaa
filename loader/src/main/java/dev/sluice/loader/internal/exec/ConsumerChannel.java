package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.batch.BatchHosts;
import dev.sluice.loader.runtime.BlockLostException;
import dev.sluice.loader.runtime.BlockRef;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The consumer's end of one execution: a bounded channel of references to delivered blocks (offer
 * returns false when it holds {@code capacity} blocks, and the block stays with its operator, whose
 * memory still counts it), then the end or the failure; a block leaves its store when the consumer
 * takes it, with its reference's hosts written on it; and what the consumer holds and says it will
 * allocate, which the scheduler plans for. The scheduling thread offers; any thread takes and
 * closes.
 */
final class ConsumerChannel {
  /** Items in the channel besides blocks. */
  private enum Marker {
    END
  }

  private record Failure(SluiceException error) {}

  private final int capacity;
  private final BlockDirectory blocks;
  private final BufferAllocator consumerAllocator;
  private final Runnable wake;
  private final Runnable allClosed;
  private final java.util.function.Consumer<BlockRef> remake;
  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private final AtomicInteger waitingBlocks = new AtomicInteger();
  private final AtomicInteger outstanding = new AtomicInteger();

  /** Bytes of delivered blocks not yet closed (they stay in their operator's allocator). */
  private final AtomicLong outstandingBytes = new AtomicLong();

  /** Rows the consumers said they may allocate in one go (the batch each re-batches into). */
  private final AtomicLong claimedRows = new AtomicLong();

  private final AtomicInteger consumersWaiting = new AtomicInteger();

  /** Users of prefetching consumers waiting for a batch (see {@link #userWaiting}). */
  private final AtomicInteger usersWaiting = new AtomicInteger();

  private final AtomicLong waitNanos = new AtomicLong();
  private final long startNanos = System.nanoTime();
  private volatile boolean countWaitInTake = true;
  private volatile long firstBlockNanos = -1;
  private volatile long rowsDelivered;
  private long bytesDelivered;
  private boolean closed;

  /**
   * @param capacity blocks the channel holds before {@link #offer} refuses
   * @param blocks where delivered blocks are held
   * @param consumerAllocator where the consumer re-batches
   * @param wake wakes the scheduler (the consumer took a block from a full channel, closed one, or
   *     started waiting)
   * @param allClosed called when the last delivered block is closed
   */
  ConsumerChannel(
      int capacity,
      BlockDirectory blocks,
      BufferAllocator consumerAllocator,
      Runnable wake,
      Runnable allClosed) {
    this(capacity, blocks, consumerAllocator, wake, allClosed, ref -> {});
  }

  /**
   * @param remake asks the scheduler to make a lost block again (any thread; once is enough however
   *     often it is asked)
   */
  ConsumerChannel(
      int capacity,
      BlockDirectory blocks,
      BufferAllocator consumerAllocator,
      Runnable wake,
      Runnable allClosed,
      java.util.function.Consumer<BlockRef> remake) {
    this.remake = remake;
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1: " + capacity);
    }
    this.capacity = capacity;
    this.blocks = blocks;
    this.consumerAllocator = consumerAllocator;
    this.wake = wake;
    this.allClosed = allClosed;
  }

  // ---- the scheduling thread

  /** Whether {@link #offer} would take a block now. */
  boolean hasRoom() {
    return !closed && waitingBlocks.get() < capacity;
  }

  /**
   * Delivers a block unless the channel is full or has ended (then it stays with the caller). Once
   * delivered, the block is the consumer's: it may be taken and closed at once.
   */
  boolean offer(BlockRef ref) {
    if (closed || waitingBlocks.get() >= capacity) {
      return false;
    }
    if (firstBlockNanos < 0) {
      firstBlockNanos = System.nanoTime() - startNanos;
    }
    rowsDelivered += ref.rows();
    long bytes = ref.bytes();
    bytesDelivered += bytes;
    outstanding.incrementAndGet();
    outstandingBytes.addAndGet(bytes);
    waitingBlocks.incrementAndGet();
    queue.add(ref);
    return true;
  }

  /** A delivered block, taken out of its store, and its reference (its name and origin). */
  record Delivered(BlockRef ref, Batch batch) {}

  /**
   * Takes a delivered block out of its store, for the consumer, with its hosts; counted as held
   * until the consumer closes it.
   */
  private Delivered open(BlockRef ref) {
    Batch b = blocks.take(ref, consumerAllocator);
    BatchHosts.set(b, ref.hosts());
    long bytes = ref.bytes();
    b.onClose(() -> closedOne(bytes));
    return new Delivered(ref, b);
  }

  private void closedOne(long bytes) {
    outstandingBytes.addAndGet(-bytes);
    wake.run();
    if (outstanding.decrementAndGet() == 0) {
      allClosed.run();
    }
  }

  /** The end: every later {@link #take()} returns null. Once. */
  void end() {
    if (!closed) {
      closed = true;
      queue.add(Marker.END);
    }
  }

  /** The failure: blocks not yet taken are closed, every later {@link #take()} throws it. Once. */
  void fail(SluiceException error) {
    if (closed) {
      return;
    }
    closed = true;
    closeWaiting();
    queue.add(new Failure(error));
  }

  /** Closes the blocks no consumer took. */
  void closeWaiting() {
    for (Object o; (o = queue.poll()) != null; ) {
      if (o instanceof BlockRef ref) {
        waitingBlocks.decrementAndGet();
        blocks.release(ref);
        closedOne(ref.bytes());
      } else {
        queue.add(o); // the end or the failure stays
        return;
      }
    }
  }

  /**
   * Whether the consumer will free memory or take a block without the scheduler doing anything: it
   * holds delivered blocks or copies and is not stuck waiting for more. (A prefetching consumer
   * waits for more while its user still holds a batch: that is not stuck; it is when its user waits
   * too.)
   */
  boolean consumerWillProgress() {
    if (waitingBlocks.get() > 0) {
      return true;
    }
    boolean holds = outstanding.get() > 0 || consumerAllocator.getAllocatedMemory() > 0;
    boolean stuck = consumersWaiting.get() > 0 && (countWaitInTake || usersWaiting.get() > 0);
    return holds && !stuck;
  }

  /** References to the blocks delivered and not yet taken, in order (a snapshot). */
  java.util.List<BlockRef> waitingRefs() {
    java.util.List<BlockRef> refs = new java.util.ArrayList<>();
    for (Object o : queue) {
      if (o instanceof BlockRef r) {
        refs.add(r);
      }
    }
    return refs;
  }

  /** Delivered blocks not yet closed. */
  int outstanding() {
    return outstanding.get();
  }

  /** Bytes of delivered blocks not yet closed. */
  long outstandingBytes() {
    return outstandingBytes.get();
  }

  long rowsDelivered() {
    return rowsDelivered;
  }

  /** Bytes per delivered row so far, or -1 before the first delivery. */
  double bytesPerRowDelivered() {
    long rows = rowsDelivered;
    return rows > 0 ? bytesDelivered / (double) rows : -1;
  }

  /** Nanoseconds from the channel's creation to its first block, or -1. */
  long firstBlockNanos() {
    return firstBlockNanos;
  }

  long waitNanos() {
    return waitNanos.get();
  }

  /**
   * The memory the consumer side claims: what it holds now (its re-batched copies and the delivered
   * blocks it has not closed), plus what it said it may allocate in one go, at the bytes per row
   * delivered so far ({@code perRowBeforeDelivery} before any delivery).
   */
  long claim(double perRowBeforeDelivery) {
    long held = consumerAllocator.getAllocatedMemory() + outstandingBytes.get();
    double perRow = rowsDelivered > 0 ? bytesPerRowDelivered() : Math.max(0, perRowBeforeDelivery);
    return held + (long) Math.ceil(claimedRows.get() * perRow);
  }

  // ---- the consumer (any thread)

  /**
   * How long the consumer waits, when a block it takes cannot be fetched from its node, for the
   * runtime to declare the node lost (then the block is made again): a process killed is heard of
   * within a second when its connections are refused, a host gone silent after the runtime's
   * failure detection time. After this the consumer fails instead of hanging.
   */
  static final long NODE_LOSS_WAIT_NANOS = TimeUnit.SECONDS.toNanos(120);

  /** The next block, waiting for it; null at the end. Throws the execution's failure. */
  Delivered take() throws InterruptedException {
    BlockRef ref = takeRef(true);
    if (ref == null) {
      return null;
    }
    try {
      return openSurviving(ref);
    } finally {
      opening.decrementAndGet();
      wake.run(); // the execution may be over now that the consumer holds every block
    }
  }

  /** Blocks the consumer has taken from the queue and is taking out of their nodes. */
  private final java.util.concurrent.atomic.AtomicInteger opening =
      new java.util.concurrent.atomic.AtomicInteger();

  /**
   * Whether every block delivered has been taken out of its node by the consumer (or released):
   * until then a block may still be lost with its node and need making again.
   */
  boolean allTaken() {
    return waitingBlocks.get() == 0 && opening.get() == 0;
  }

  /**
   * Takes a block out of its store; if its node is gone (the block cannot be fetched), waits until
   * the runtime declares the node lost, has the block made again and takes that.
   */
  private Delivered openSurviving(BlockRef ref) throws InterruptedException {
    for (int tries = 1; ; tries++) {
      try {
        return open(ref);
      } catch (BlockLostException e) {
        if (!e.nodeLost() || tries > 3) {
          releaseLost(ref);
          throw e;
        }
        if (!blocks.awaitNotHeld(ref, NODE_LOSS_WAIT_NANOS)) {
          releaseLost(ref);
          throw new SluiceException(
              "a block could not be fetched from its node, which the runtime still counts as"
                  + " alive after "
                  + TimeUnit.NANOSECONDS.toSeconds(NODE_LOSS_WAIT_NANOS)
                  + " s: "
                  + e.getMessage(),
              e);
        }
        // The scheduler may have heard of the loss after the block left the queue: ask it to make
        // the block again, if it still waits then (it may be made already, and taken).
        awaitingRemake.add(ref);
        try {
          remake.accept(ref);
          awaitRemade(ref);
        } finally {
          awaitingRemake.remove(ref);
        }
      }
    }
  }

  /** Blocks the consumer waits to be made again (lost as it took them). */
  private final java.util.Set<BlockRef> awaitingRemake =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * Whether the consumer still waits for {@code ref} to be made again: a request it made is
   * answered only then (once the consumer has the block, a late request would make a copy nobody
   * takes).
   */
  boolean awaitsRemake(BlockRef ref) {
    return awaitingRemake.contains(ref);
  }

  private void releaseLost(BlockRef ref) {
    blocks.release(ref);
    closedOne(ref.bytes());
  }

  /**
   * The next delivered block's reference, waiting for it and, if it was lost with its node, for it
   * to be made again; null at the end. Throws the execution's failure. The block stays in its
   * store, delivered: the caller {@linkplain #openRef opens} it, {@linkplain #handedOff hands it
   * off} or {@linkplain #releaseRef releases} it.
   */
  BlockRef takeRef() throws InterruptedException {
    return takeRef(false);
  }

  /**
   * As {@link #takeRef()}; {@code opening}: counted as being opened from the moment it is taken.
   */
  private BlockRef takeRef(boolean opening) throws InterruptedException {
    long t0 = System.nanoTime();
    Object o = queue.poll();
    if (o == null) {
      consumersWaiting.incrementAndGet();
      wake.run();
      try {
        o = queue.take();
      } finally {
        consumersWaiting.decrementAndGet();
      }
    }
    try {
      if (o instanceof BlockRef ref) {
        if (opening) {
          this.opening.incrementAndGet(); // before the queue's count drops: never both zero
        }
        tookBlock();
        if (!blocks.ready(ref)) {
          awaitRemade(ref);
        }
        return ref;
      }
    } finally {
      if (countWaitInTake) {
        waitNanos.addAndGet(System.nanoTime() - t0);
      }
    }
    // The end and failures stay in the channel so that every later call sees them too.
    queue.add(o);
    if (o instanceof Failure f) {
      throw SluiceException.rethrown(f.error());
    }
    return null;
  }

  /**
   * Takes a block whose reference {@link #takeRef} gave out of its store, for the consumer (waiting
   * for it to be made again if its node is lost meanwhile).
   */
  Delivered openRef(BlockRef ref) throws InterruptedException {
    return openSurviving(ref);
  }

  /**
   * A block whose reference {@link #takeRef} gave was taken from its node by a consumer in another
   * process: it is forgotten here without a word to the node, and no longer counts as held.
   */
  void handedOff(BlockRef ref) {
    blocks.handedOff(ref);
    closedOne(ref.bytes());
  }

  /** A block whose reference {@link #takeRef} gave is not wanted after all: its node drops it. */
  void releaseRef(BlockRef ref) {
    blocks.release(ref);
    closedOne(ref.bytes());
  }

  /** Waits, in the block's turn, for a block lost with its node to be made again. */
  private void awaitRemade(BlockRef ref) throws InterruptedException {
    consumersWaiting.incrementAndGet();
    wake.run();
    try {
      blocks.awaitReady(ref);
    } catch (InterruptedException | RuntimeException e) {
      blocks.release(ref);
      closedOne(ref.bytes());
      throw e;
    } finally {
      consumersWaiting.decrementAndGet();
    }
  }

  /**
   * The next block if one waits, else null (also at the end or after a failure, which stay). For a
   * caller that must not block: a test stepping the execution on its only thread.
   */
  Delivered poll() {
    if (!(queue.peek() instanceof BlockRef head) || !blocks.ready(head)) {
      return null;
    }
    BlockRef ref = (BlockRef) queue.poll();
    tookBlock();
    return open(ref);
  }

  /** Counts a block taken; wakes the scheduler if the channel had been full. */
  private void tookBlock() {
    if (waitingBlocks.getAndDecrement() == capacity) {
      wake.run(); // more may be delivered now
    }
  }

  void addWait(long nanos) {
    waitNanos.addAndGet(nanos);
  }

  void measureWaitOutside() {
    countWaitInTake = false;
  }

  void userWaiting(boolean waiting) {
    if (waiting) {
      usersWaiting.incrementAndGet();
      wake.run();
    } else {
      usersWaiting.decrementAndGet();
    }
  }

  void claimRows(long rows) {
    if (rows < 0) {
      throw new IllegalArgumentException("rows must be >= 0: " + rows);
    }
    claimedRows.addAndGet(rows);
    wake.run();
  }
}
