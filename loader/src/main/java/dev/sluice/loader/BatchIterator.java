package dev.sluice.loader;

import dev.sluice.loader.concurrent.Prefetcher;
import dev.sluice.loader.internal.exec.BlockStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * The consumer's end of an execution: batches in the shape {@link IterOptions} asks for.
 *
 * <p>Each batch returned by {@link #next()} belongs to the caller, who must close it; until closed
 * it counts against the memory budget, so a consumer that holds batches holds the pipeline back. An
 * error anywhere upstream is thrown from {@link #hasNext()} or {@link #next()} as a {@link
 * SluiceException} naming the operator, the file and the entry. {@link #close()} stops the
 * execution and releases everything not handed out; the iterator also closes itself at the end of
 * the data. Not thread-safe: one consumer thread (with its own prefetch thread inside).
 */
public final class BatchIterator implements Iterator<Batch>, AutoCloseable {
  private static final Object END = new Object();

  private final BlockStream executor;
  private final IterOptions options;
  private final Rebatcher rebatcher;
  private final Prefetcher<Batch> prefetcher;
  private Object lookahead;

  /** Whether the user waits on the prefetch queue (a prefetching iterator). */
  private final java.util.concurrent.atomic.AtomicBoolean userWaits =
      new java.util.concurrent.atomic.AtomicBoolean();

  private boolean closed;

  BatchIterator(BlockStream executor, IterOptions options, ShareShuffle shareShuffle, String name) {
    this(executor, options, shareShuffle, name, true);
  }

  /**
   * @param ordered whether batches must keep the rows in the order the blocks arrive; when not (the
   *     execution does not preserve order anyway), a block's tail that does not fill a batch waits
   *     aside for others like it instead of being joined with the next block's head, so that most
   *     batches are slices of one block rather than copies
   */
  BatchIterator(
      BlockStream executor,
      IterOptions options,
      ShareShuffle shareShuffle,
      String name,
      boolean ordered) {
    this.executor = executor;
    this.options = options;
    boolean rebatch = options.batchSize() > 0;
    if (shareShuffle != null && !rebatch) {
      throw new IllegalArgumentException("a shuffled share needs a batch size");
    }
    this.rebatcher = rebatch ? new Rebatcher(executor, options, shareShuffle, ordered) : null;
    if (rebatch) {
      // What re-batching allocates in one go: the batch it copies rows into. Everything else the
      // consumer holds (blocks, slices of them, copies made before) is counted as it is held.
      executor.consumerHolds(options.batchSize());
    }
    if (rebatch && options.prefetchBatches() > 0) {
      executor.measureConsumerWaitOutside();
      // The user, if waiting, is served from each hand-over on: said before the batch shows, so
      // that the execution does not run ahead for a user that already has its batch.
      prefetcher =
          new Prefetcher<>(
              "sluice-prefetch-" + name,
              options.prefetchBatches(),
              out -> {
                for (Batch b; (b = rebatcher.next()) != null; ) {
                  if (!out.put(b)) {
                    return;
                  }
                }
              },
              Batch::close,
              this::userServed,
              BatchIterator::asThrown);
    } else {
      prefetcher = null;
    }
  }

  /** A failure of the prefetch thread as the consumer gets it: as thrown, if unchecked. */
  private static RuntimeException asThrown(Throwable t) {
    return t instanceof RuntimeException re
        ? re
        : new SluiceException("re-batching failed: " + t, t);
  }

  /** Says, once per wait, that the waiting user has (or is about to have) its batch. */
  private void userServed() {
    if (userWaits.getAndSet(false)) {
      executor.userWaiting(false);
    }
  }

  private Object fetch() {
    if (prefetcher != null) {
      Batch b;
      if (prefetcher.hasReady()) {
        b = prefetcher.take();
      } else {
        long t0 = System.nanoTime();
        userWaits.set(true);
        executor.userWaiting(true);
        try {
          b = prefetcher.take();
        } finally {
          userServed();
        }
        executor.addConsumerWait(System.nanoTime() - t0);
      }
      return b == null ? END : b;
    }
    try {
      Batch b = rebatcher != null ? rebatcher.next() : executor.take();
      return b == null ? END : b;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new SluiceException("interrupted while waiting for data", e);
    }
  }

  @Override
  public boolean hasNext() {
    if (closed) {
      return false;
    }
    if (lookahead == null) {
      try {
        lookahead = fetch();
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }
    if (lookahead == END) {
      close();
      return false;
    }
    return true;
  }

  @Override
  public Batch next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    Batch b = (Batch) lookahead;
    lookahead = null;
    return b;
  }

  /**
   * Batches this iterator made by copying rows so far: joined from several blocks, or drawn by a
   * shuffle. The others were whole blocks or slices sharing a block's memory. Thread-safe.
   */
  public long batchesCopied() {
    return rebatcher == null ? 0 : rebatcher.copied;
  }

  /** Statistics of the execution so far. */
  public DatasetStats stats() {
    return executor.stats();
  }

  /**
   * For a consumer of a {@linkplain Dataset#streamingSplit(int, SplitOptions) streaming split}, the
   * blocks and rows handed to it so far that came from its own host and from elsewhere; {@link
   * Locality#NONE} for other iterators. Thread-safe.
   */
  public Locality locality() {
    return executor.locality();
  }

  /** The execution allocator's peak so far. */
  public long peakMemory() {
    return executor.peakMemory();
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (lookahead instanceof Batch b) {
      b.close();
    }
    lookahead = null;
    if (prefetcher != null) {
      prefetcher.close(); // waits for the thread, which holds batches until it ends
    }
    if (rebatcher != null) {
      rebatcher.close();
    }
    executor.close();
  }

  /**
   * Cuts the executor's blocks into batches of exactly {@code batchSize} rows (the last may be
   * smaller unless dropped), optionally drawing rows at random from a shuffle buffer, or handing
   * rows on in the order of a share's deterministic local shuffle. Copies into the consumer
   * allocator, which counts against the budget.
   */
  private static final class Rebatcher {
    private final BlockStream executor;
    private final IterOptions options;
    private final boolean ordered;

    /** Batches made by copying rows (joined across blocks, shuffled); written by one thread. */
    private volatile long copied;

    /** The block batches are being cut from, and where the next one starts. */
    private Batch current;

    private int currentOffset;
    private final ShareShuffle shareShuffle;

    /** The share's rows in shuffled order, as (block, row) references into {@link #pool}. */
    private Iterator<RowRef> shuffledRows;

    private final BufferAllocator allocator;

    /** The batch being built by copying rows, or null. */
    private Batch.Appender building;

    private final SplittableRandom random;
    private boolean ended;
    // Shuffle buffer: the rows still to draw, as (block, row) pairs over a list of open blocks.
    private final List<Batch> pool = new ArrayList<>();
    private final List<Integer> remainingPerBlock = new ArrayList<>();
    private int[] entryBlock = new int[0];
    private int[] entryRow = new int[0];
    private int entries;

    Rebatcher(
        BlockStream executor, IterOptions options, ShareShuffle shareShuffle, boolean ordered) {
      this.ordered = ordered;
      this.executor = executor;
      this.options = options;
      this.shareShuffle = shareShuffle;
      this.allocator = executor.consumerAllocator();
      this.random = new SplittableRandom(options.shuffleSeed());
    }

    Batch next() throws InterruptedException {
      if (shareShuffle != null) {
        return nextFromShareShuffle();
      }
      if (options.localShuffleBufferSize() > 0) {
        return nextShuffled();
      }
      return ordered ? nextInOrder() : nextUnordered();
    }

    /**
     * The next batch in the order of the share's {@link dev.sluice.sharding.LocalShuffle}: rows are
     * fed to it one by one in arrival (share) order, as references into the open blocks; a block is
     * closed once all its rows have been handed on.
     */
    private Batch nextFromShareShuffle() throws InterruptedException {
      int size = options.batchSize();
      int[] blockOf = new int[size];
      int[] rowOf = new int[size];
      int n = 0;
      try {
        if (shuffledRows == null) {
          shuffledRows = shareShuffle.apply(new RowInput());
        }
        while (n < size && shuffledRows.hasNext()) {
          RowRef r = shuffledRows.next();
          blockOf[n] = r.block();
          rowOf[n] = r.row();
          n++;
        }
      } catch (InterruptedRead e) {
        throw e.getCause();
      } catch (IllegalStateException e) {
        // LocalShuffle.resume checks that the remainder holds exactly the rows the position leaves.
        throw new SluiceException(
            "the shuffled share does not hold the rows its assignment says (are rows filtered or"
                + " added after the read?): "
                + e.getMessage(),
            e);
      }
      if (n == 0 || (n < size && options.dropLast())) {
        return null;
      }
      if (n < size) {
        blockOf = java.util.Arrays.copyOf(blockOf, n);
        rowOf = java.util.Arrays.copyOf(rowOf, n);
      }
      return gatherAndRelease(blockOf, rowOf);
    }

    /**
     * A new batch of the given (block, row) pairs of {@link #pool}, in order (one copy); blocks
     * whose last row it took are closed.
     */
    private Batch gatherAndRelease(int[] blockOf, int[] rowOf) {
      Batch out = appending(() -> gather(blockOf, rowOf), blockOf.length);
      copied++;
      for (int b : blockOf) {
        int left = remainingPerBlock.get(b) - 1;
        remainingPerBlock.set(b, left);
        if (left == 0) {
          pool.get(b).close();
        }
      }
      return out;
    }

    /** One row of an open block of {@link #pool}. */
    private record RowRef(int block, int row) {}

    /** Wraps an interruption while the shuffle pulls rows (iterators cannot throw it). */
    private static final class InterruptedRead extends RuntimeException {
      private static final long serialVersionUID = 1L;

      InterruptedRead(InterruptedException cause) {
        super(cause);
      }

      @Override
      public synchronized InterruptedException getCause() {
        return (InterruptedException) super.getCause();
      }
    }

    /** The share's rows in arrival order, taking blocks from the stream as the shuffle asks. */
    private final class RowInput implements Iterator<RowRef> {
      private int block = -1;
      private int row;
      private int rows;

      @Override
      public boolean hasNext() {
        while (block < 0 || row >= rows) {
          Batch b;
          try {
            b = takeBlock();
          } catch (InterruptedException e) {
            throw new InterruptedRead(e);
          }
          if (b == null) {
            return false;
          }
          block = pool.size();
          pool.add(b);
          remainingPerBlock.add(b.rowCount());
          row = 0;
          rows = b.rowCount();
        }
        return true;
      }

      @Override
      public RowRef next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        return new RowRef(block, row++);
      }
    }

    /** The next block with rows, or null at the end of the stream (then {@link #ended} is set). */
    private Batch takeBlock() throws InterruptedException {
      while (!ended) {
        Batch b = executor.take();
        if (b == null) {
          ended = true;
        } else if (b.rowCount() == 0) {
          b.close();
        } else {
          return b;
        }
      }
      return null;
    }

    private Batch nextInOrder() throws InterruptedException {
      return nextFromBlocks();
    }

    private Batch nextUnordered() throws InterruptedException {
      return nextFromBlocks();
    }

    /**
     * The next batch cut from the blocks as they come. Where a block holds a whole batch from the
     * current row on, the batch is that block or a slice sharing its memory (no copy). Other rows
     * are copied into the batch being built, and a block is closed as soon as its rows are out, so
     * the consumer holds one batch being built and one block, never all the blocks of a batch. In
     * order, the batch being built takes the next block's head; out of order, only blocks' tails
     * (fewer rows than a batch) go into it, and the blocks' other rows are sliced.
     */
    private Batch nextFromBlocks() throws InterruptedException {
      int size = options.batchSize();
      while (true) {
        if (current == null) {
          current = takeBlock();
          currentOffset = 0;
          if (current == null) {
            return finishBuilding(size);
          }
        }
        int left = current.rowCount() - currentOffset;
        if (left >= size && (building == null || !ordered)) {
          Batch out;
          if (currentOffset == 0 && left == size) {
            out = current;
            current = null;
          } else {
            out = current.sliceShared(allocator, currentOffset, size);
            currentOffset += size;
            if (currentOffset == current.rowCount()) {
              current.close();
              current = null;
            }
          }
          return out;
        }
        if (building == null) {
          building = appending(() -> Batch.appender(allocator, current, size), size);
        }
        int take = Math.min(left, size - building.rows());
        Batch.Appender into = building;
        Batch from = current;
        int at = currentOffset;
        appending(
            () -> {
              into.append(from, at, take);
              return into;
            },
            size);
        currentOffset += take;
        if (currentOffset == current.rowCount()) {
          current.close();
          current = null;
        }
        if (building.rows() == size) {
          Batch out = building.build();
          building = null;
          copied++;
          return out;
        }
      }
    }

    /** The batch being built at the end of the stream, if it is to be handed on; else null. */
    private Batch finishBuilding(int size) {
      if (building == null
          || building.rows() == 0
          || (building.rows() < size && options.dropLast())) {
        if (building != null) {
          building.close();
          building = null;
        }
        return null;
      }
      Batch out = building.build();
      building = null;
      copied++;
      return out;
    }

    /**
     * Runs a step that copies rows into the consumer's allocator, turning the allocator's refusal
     * (the execution's hard limit) into an error that says what to change.
     */
    private <T> T appending(java.util.function.Supplier<T> step, int size) {
      try {
        return step.get();
      } catch (org.apache.arrow.memory.OutOfMemoryException e) {
        throw executor.consumerOutOfMemory(size, e);
      }
    }

    private Batch nextShuffled() throws InterruptedException {
      int size = options.batchSize();
      int target = Math.max(options.localShuffleBufferSize(), size);
      for (Batch b; entries < target && (b = takeBlock()) != null; ) {
        addToPool(b);
      }
      if (entries == 0 || (ended && entries < size && options.dropLast())) {
        return null;
      }
      int take = Math.min(size, entries);
      int[] blockOf = new int[take];
      int[] rowOf = new int[take];
      for (int i = 0; i < take; i++) {
        int pick = random.nextInt(entries);
        blockOf[i] = entryBlock[pick];
        rowOf[i] = entryRow[pick];
        entries--;
        entryBlock[pick] = entryBlock[entries];
        entryRow[pick] = entryRow[entries];
      }
      return gatherAndRelease(blockOf, rowOf);
    }

    private void addToPool(Batch b) {
      int id = pool.size();
      pool.add(b);
      remainingPerBlock.add(b.rowCount());
      if (entries + b.rowCount() > entryBlock.length) {
        int cap = Math.max(entries + b.rowCount(), entryBlock.length * 2);
        entryBlock = java.util.Arrays.copyOf(entryBlock, cap);
        entryRow = java.util.Arrays.copyOf(entryRow, cap);
      }
      for (int r = 0; r < b.rowCount(); r++) {
        entryBlock[entries] = id;
        entryRow[entries] = r;
        entries++;
      }
    }

    private Batch gather(int[] blockOf, int[] rowOf) {
      Batch first = pool.get(blockOf[0]);
      VectorSchemaRoot out = VectorSchemaRoot.create(first.schema(), allocator);
      try {
        List<String> sources = new ArrayList<>();
        for (int c = 0; c < first.schema().getFields().size(); c++) {
          FieldVector to = out.getVector(c);
          long varBytes = 0;
          for (int i = 0; i < blockOf.length; i++) {
            FieldVector from = pool.get(blockOf[i]).root().getVector(c);
            if (from instanceof org.apache.arrow.vector.BaseVariableWidthVector v
                && !v.isNull(rowOf[i])) {
              varBytes += v.getValueLength(rowOf[i]);
            }
          }
          Batch.allocate(to, blockOf.length, varBytes);
          for (int i = 0; i < blockOf.length; i++) {
            to.copyFromSafe(rowOf[i], i, pool.get(blockOf[i]).root().getVector(c));
          }
          to.setValueCount(blockOf.length);
        }
        for (int i = 0; i < blockOf.length; i++) {
          for (String s : pool.get(blockOf[i]).sources()) {
            if (!sources.contains(s)) {
              sources.add(s);
            }
          }
        }
        out.setRowCount(blockOf.length);
        return new Batch(out, sources);
      } catch (RuntimeException e) {
        out.close();
        throw e;
      }
    }

    void close() {
      if (current != null) {
        current.close();
        current = null;
      }
      if (building != null) {
        building.close();
        building = null;
      }
      for (int i = 0; i < pool.size(); i++) {
        if (remainingPerBlock.get(i) > 0) {
          pool.get(i).close();
        }
      }
      pool.clear();
      entries = 0;
    }
  }
}
