package dev.sluice.loader;

import dev.sluice.loader.internal.exec.ExecutionObserver;
import dev.sluice.loader.internal.exec.StreamingExecutor;
import dev.sluice.loader.internal.plan.FunctionIdentity;
import dev.sluice.loader.internal.plan.LogicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.Planner;
import dev.sluice.loader.sink.ArrowIpcSink;
import dev.sluice.loader.sink.BatchSink;
import dev.sluice.loader.sink.CsvSink;
import dev.sluice.loader.sink.JsonLinesSink;
import dev.sluice.loader.sink.ParquetSink;
import dev.sluice.loader.sink.SinkFactory;
import dev.sluice.loader.sink.WriteOptions;
import dev.sluice.loader.source.InMemorySource;
import dev.sluice.loader.source.ShareSource;
import dev.sluice.loader.source.Source;
import dev.sluice.sharding.EpochPlan;
import dev.sluice.sharding.RemainderPolicy;
import dev.sluice.sharding.ShareAssignment;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A lazy dataset: a read followed by transformations. Nothing runs until the dataset is consumed
 * ({@link #iterBatches}, {@link #count}, {@link #materialize}, the writes); each consumption is a
 * fresh execution by the streaming executor. Immutable and thread-safe: every transformation
 * returns a new dataset.
 */
public final class Dataset {
  private static final AtomicInteger ITERATIONS = new AtomicInteger();

  static {
    dev.sluice.loader.internal.plan.DatasetPlans.register(ds -> Planner.plan(ds.ops));
  }

  private final Sluice sluice;
  private final List<LogicalOp> ops;
  private final ExecutionOptions options;

  /**
   * Set on a share read through its consumer's local shuffle; iterations hand rows on through it.
   */
  private final ShareShuffle shareShuffle;

  /** The epoch executions run as: the seeded shuffles draw from (seed, epoch). */
  private final int epoch;

  /**
   * Where executions are recorded for {@link #stats()}: shared with the datasets that are this one
   * read another way (other options, another epoch, a shuffled read order), so that a DL4J iterator
   * running {@code ds.shuffleFiles(seed).forEpoch(e)} still reports to {@code ds}.
   */
  private final ExecutionRecord record;

  private volatile dev.sluice.loader.internal.exec.SplitCoordinator lastSplit;

  /** Calls of {@link #streamingShare} so far: the k-th joins the k-th split of this plan. */
  private final AtomicInteger shareCalls = new AtomicInteger();

  /**
   * The definition that built this dataset as it is (null when built otherwise, or transformed
   * after): what lets a cluster's workers build the same plan.
   */
  private final PipelineRef definition;

  /** The latest execution of a dataset and of those read the same way. */
  private static final class ExecutionRecord {
    volatile StreamingExecutor lastExecution;
  }

  private Dataset(
      Sluice sluice,
      List<LogicalOp> ops,
      ExecutionOptions options,
      ShareShuffle shareShuffle,
      int epoch,
      ExecutionRecord record,
      PipelineRef definition) {
    this.record = record;
    this.definition = definition;
    this.sluice = sluice;
    this.ops = List.copyOf(ops);
    this.options = options;
    this.shareShuffle = shareShuffle;
    this.epoch = epoch;
  }

  static Dataset read(Sluice sluice, Source source, MapOptions options) {
    if (options.batchSize() != 0 || options.name() != null) {
      throw new IllegalArgumentException(
          "a read takes CPUs, GPUs and a concurrency cap only (it is named by its source and cuts"
              + " blocks by the execution's block targets): "
              + options);
    }
    return new Dataset(
        sluice,
        List.of(
            new LogicalOp.Read(
                Objects.requireNonNull(source), options.resources(), options.concurrency())),
        sluice.defaultOptions(),
        null,
        0,
        new ExecutionRecord(),
        null);
  }

  private Dataset with(LogicalOp op) {
    List<LogicalOp> next = new ArrayList<>(ops);
    next.add(op);
    boolean sameRows =
        op instanceof LogicalOp.ShuffleFiles || op instanceof LogicalOp.RandomizeBlockOrder;
    // A change of read order is one every member can make the same way: the definition holds.
    PipelineRef still =
        definition == null
            ? null
            : op instanceof LogicalOp.ShuffleFiles f
                ? definition.thenShuffleFiles(f.seed())
                : op instanceof LogicalOp.RandomizeBlockOrder r
                    ? definition.thenRandomizeBlockOrder(r.seed())
                    : null;
    return new Dataset(
        sluice,
        next,
        options,
        shareShuffle,
        epoch,
        sameRows ? record : new ExecutionRecord(),
        still);
  }

  /** The same dataset executed with other options. */
  public Dataset withOptions(ExecutionOptions options) {
    return new Dataset(
        sluice, ops, Objects.requireNonNull(options), shareShuffle, epoch, record, definition);
  }

  /** The execution options. */
  public ExecutionOptions options() {
    return options;
  }

  /**
   * Applies a stateless function to every batch, as tasks (one CPU each by default). The function
   * object is shared by concurrent tasks and must be thread-safe. Neighbouring stateless maps with
   * equal resources are fused into one task.
   */
  public Dataset mapBatches(BatchFunction fn) {
    return mapBatches(fn, MapOptions.DEFAULT);
  }

  /** Applies a stateless function with the given options. */
  public Dataset mapBatches(BatchFunction fn, MapOptions options) {
    Objects.requireNonNull(fn);
    String name = options.name() != null ? options.name() : functionName(fn.getClass());
    return with(new LogicalOp.MapTask(name, fn, options));
  }

  /**
   * Applies a stateful function in a pool of actors: each actor builds one instance with the
   * class's no-argument constructor, once, and calls it one batch at a time; an instance that is
   * {@link AutoCloseable} is closed when its actor stops.
   */
  public Dataset mapBatches(
      Class<? extends BatchFunction> type, ActorPool pool, MapOptions options) {
    Objects.requireNonNull(type);
    String name = options.name() != null ? options.name() : type.getSimpleName();
    return with(new LogicalOp.MapActor(name, new ClassFactory(type), pool, options));
  }

  /** Applies a stateful function in a pool of actors, each instance built by {@code factory}. */
  public Dataset mapBatches(
      Supplier<? extends BatchFunction> factory, ActorPool pool, MapOptions options) {
    Objects.requireNonNull(factory);
    String name = options.name() != null ? options.name() : "Actor";
    return with(new LogicalOp.MapActor(name, new SupplierFactory(factory), pool, options));
  }

  /** An actor's function built with its class's no-argument constructor; known by the class. */
  private record ClassFactory(Class<? extends BatchFunction> type)
      implements Callable<BatchFunction>, FunctionIdentity {
    @Override
    public BatchFunction call() throws Exception {
      Constructor<? extends BatchFunction> c = type.getDeclaredConstructor();
      c.setAccessible(true);
      return c.newInstance();
    }

    @Override
    public Class<?> identity() {
      return type;
    }
  }

  /** An actor's function built by the user's supplier; known by the supplier's class. */
  private record SupplierFactory(Supplier<? extends BatchFunction> supplier)
      implements Callable<BatchFunction>, FunctionIdentity {
    @Override
    public BatchFunction call() {
      return supplier.get();
    }

    @Override
    public Class<?> identity() {
      return supplier.getClass();
    }
  }

  /** Keeps the rows for which {@code predicate} holds (a stateless map, fused like one). */
  public Dataset filter(RowPredicate predicate) {
    BatchFunction fn =
        (in, ctx) -> {
          int[] keep = new int[in.rowCount()];
          int n = 0;
          for (int r = 0; r < in.rowCount(); r++) {
            if (predicate.test(in, r)) {
              keep[n++] = r;
            }
          }
          return n == in.rowCount()
              ? in
              : in.select(ctx.allocator(), java.util.Arrays.copyOf(keep, n));
        };
    return with(new LogicalOp.MapTask("Filter", fn, MapOptions.DEFAULT));
  }

  /**
   * Keeps the first {@code rows} rows that arrive (in order when order is preserved) and stops
   * reading.
   */
  public Dataset limit(long rows) {
    if (rows < 0) {
      throw new IllegalArgumentException("limit must be >= 0");
    }
    return with(new LogicalOp.Limit(rows));
  }

  /**
   * Reads the source's splits in an order permuted by ({@code seed}, {@linkplain #forEpoch epoch}),
   * so that blocks come in a random order, another one each epoch, without materialising anything
   * (Ray Data's {@code randomize_block_order}, done at the read). Rows within a block keep their
   * order: combine with {@link #shuffleFiles} for sources of one sample per file, or with a local
   * shuffle in {@link IterOptions}, for row-level randomness.
   */
  public Dataset randomizeBlockOrder(long seed) {
    checkReadsShuffleable();
    return with(new LogicalOp.RandomizeBlockOrder(seed));
  }

  /**
   * Reads the source's files in an order permuted by ({@code seed}, {@linkplain #forEpoch epoch}),
   * another one each epoch (Ray Data's {@code shuffle="files"}). A source of one sample per file
   * ({@link dev.sluice.loader.source.SupportsFileShuffle}: an image folder, binary files) permutes
   * its files before grouping them into splits, so every block mixes files from across the dataset,
   * a folder sorted by class included; other sources (tar shards, Arrow files) have their splits
   * permuted. The splits are read in a permuted order too (by {@code seed}, unless {@link
   * #randomizeBlockOrder} gives another). Costs nothing at run time: the order is planned before
   * the first read. Rows within a shard keep their order: add a local shuffle ({@link
   * IterOptions#withLocalShuffle}) for sources of many samples per file.
   */
  public Dataset shuffleFiles(long seed) {
    checkReadsShuffleable();
    return with(new LogicalOp.ShuffleFiles(seed));
  }

  /**
   * Whether the read's order may be shuffled ({@link #shuffleFiles}, {@link #randomizeBlockOrder}):
   * false for a share ({@link Sluice#readShare}), whose order its assignment sets (that order is
   * what makes its positions resumable).
   */
  public boolean readsShuffleable() {
    return !(((LogicalOp.Read) ops.get(0)).source() instanceof ShareSource);
  }

  private void checkReadsShuffleable() {
    if (!readsShuffleable()) {
      throw new IllegalStateException(
          "a share is read in the order its assignment gives (seeded by the"
              + " assignment's seed and epoch); shuffle it through readShare's local shuffle instead");
    }
  }

  /**
   * The same dataset, executed as epoch {@code epoch} (from 0; datasets start at 0): the seeded
   * shuffles ({@link #shuffleFiles}, {@link #randomizeBlockOrder} and the local shuffle of {@link
   * #iterBatches}) draw from (seed, epoch), so each epoch has its own order and the same (seed,
   * epoch) always the same one. With {@linkplain ExecutionOptions#preserveOrder() order preserved},
   * the batches of an epoch are then the same rows in the same order from run to run, whatever the
   * threads do and however many cores the loader has.
   *
   * @throws IllegalArgumentException if {@code epoch < 0}
   */
  public Dataset forEpoch(int epoch) {
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
    }
    return new Dataset(sluice, ops, options, shareShuffle, epoch, record, definition);
  }

  /** The epoch this dataset's executions run as (0 unless {@link #forEpoch} said otherwise). */
  public int epoch() {
    return epoch;
  }

  /**
   * The same dataset, known to be what {@code definition} builds (see {@link Sluice#pipeline(Class,
   * java.util.Map)}).
   */
  Dataset builtBy(PipelineRef definition) {
    return new Dataset(
        sluice, ops, options, shareShuffle, epoch, record, Objects.requireNonNull(definition));
  }

  /**
   * The definition that built this dataset as it is, if any: a dataset transformed after its
   * definition built it has none, since the workers of a cluster could not build it.
   */
  public java.util.Optional<PipelineRef> definition() {
    return java.util.Optional.ofNullable(definition);
  }

  /** The physical plan in one line, fusion applied. */
  public String explain() {
    return Planner.describe(Planner.plan(ops));
  }

  /**
   * The same dataset, its rows handed on through a share's local shuffle (see {@link
   * Sluice#readShare}).
   */
  Dataset withShareShuffle(ShareShuffle shuffle) {
    return new Dataset(sluice, ops, options, shuffle, epoch, record, definition);
  }

  /**
   * Starts an execution and returns its consumer end. Close it (or drain it) to end the execution.
   *
   * <p>Batches of {@code batchSize} rows are cut from the blocks as they come: a whole block of
   * that size is handed on as it is, rows within one block become a slice sharing its memory, and
   * only rows spanning blocks are copied ({@link BatchIterator#batchesCopied()}). When the
   * execution does not preserve order ({@link ExecutionOptions#preserveOrder()} false, the
   * default), a block's rows that do not fill a batch wait for other such tails instead of being
   * joined with the next block's head, so that most batches are slices whatever the block size.
   *
   * <p>On a shuffled share ({@link Sluice#readShare(Source, ShareAssignment, int, int)}) the rows
   * go through the share's local shuffle: in batches of {@code batchSize} rows, or of the
   * execution's target block rows when {@code iterOptions} asks for blocks as they come.
   *
   * @throws IllegalArgumentException on a shuffled share, if {@code iterOptions} asks for a local
   *     shuffle of its own (two shuffles would make positions meaningless)
   */
  public BatchIterator iterBatches(IterOptions iterOptions) {
    IterOptions chosen = iterOptions;
    if (shareShuffle != null) {
      if (iterOptions.localShuffleBufferSize() > 0) {
        throw new IllegalArgumentException(
            "this share is already shuffled by its consumer's LocalShuffle (buffer "
                + shareShuffle.shuffle().bufferSize()
                + " rows); iterate it without a local shuffle of its own");
      }
      if (iterOptions.batchSize() == 0) {
        chosen = new IterOptions(options.targetBlockRows(), 0, 0, 0, false);
      }
    }
    chosen = forThisEpoch(chosen);
    StreamingExecutor ex = start();
    return new BatchIterator(
        ex,
        chosen,
        shareShuffle,
        Integer.toString(ITERATIONS.incrementAndGet()),
        options.preserveOrder());
  }

  /**
   * Splits one execution among {@code n} consumers, each iterating its own share on its own thread
   * (or handing it to its own trainer): disjoint shares whose union is the dataset (less any
   * remainder dropped for equality, plus any rows repeated to pad). Without {@code equal}, blocks
   * go to whichever consumer has room, so a slow consumer never holds the others up. With {@code
   * equal}, every consumer gets exactly the same number of rows, the remainder treated as {@link
   * SplitOptions#remainder()} says (logged), and a consumer runs ahead of the slowest by at most
   * {@code bufferBlocks} blocks. With {@linkplain SplitOptions#localityHints() locality hints}, a
   * block read from a split held on a consumer's host preferably goes to that consumer, but only
   * when it has room: a preference, never a stall ({@link BatchIterator#locality()} counts what was
   * local). Each iterator must be drained or closed; the execution ends when all are closed. One
   * epoch per call.
   *
   * @throws IllegalArgumentException if there are hints but not one per consumer
   * @throws IllegalStateException on a shuffled share ({@link Sluice#readShare(Source,
   *     ShareAssignment, int, int)}), whose shuffle belongs to one consumer
   */
  public List<BatchIterator> streamingSplit(int n, SplitOptions split) {
    if (shareShuffle != null) {
      throw new IllegalStateException(
          "a shuffled share is iterated by its one consumer; streamingSplit does not apply");
    }
    if (!split.localityHints().isEmpty() && split.localityHints().size() != n) {
      throw new IllegalArgumentException(
          "need one locality hint per consumer: "
              + n
              + " consumers, "
              + split.localityHints().size()
              + " hints");
    }
    StreamingExecutor ex = start();
    dev.sluice.loader.internal.exec.SplitCoordinator coordinator =
        new dev.sluice.loader.internal.exec.SplitCoordinator(
            ex, n, split.equal(), split.remainder(), split.localityHints(), split.bufferBlocks());
    List<BatchIterator> out = new ArrayList<>();
    int id = ITERATIONS.incrementAndGet();
    for (int i = 0; i < n; i++) {
      out.add(
          new BatchIterator(
              coordinator.consumer(i),
              forThisEpoch(split.iterOptions()),
              null,
              id + "-" + i,
              options.preserveOrder()));
    }
    lastSplit = coordinator;
    return out;
  }

  /**
   * This process's share of a streaming split among {@code n} consumers in {@code n} processes: the
   * trainers of a cluster, each calling this with its own {@code index} once per epoch, on a
   * dataset built from the same definition ({@link Sluice#pipeline(Class, java.util.Map)}). It is
   * {@link #streamingSplit(int, SplitOptions)} across processes: one execution, run by the host
   * (the cluster's coordinator trainer), whose blocks go to the consumers as {@code split} says
   * (disjoint shares; equal ones by choice, the remainder dropped, padded or left uneven, always
   * logged; a slow consumer holds back only its own queue, or, with equal shares, the others by at
   * most their buffers). The other trainers take their blocks straight from the workers that made
   * them, at most {@code split.bufferBlocks()} ahead. Without hints, each consumer is given the
   * blocks read on its own host first. The {@code k}-th call on this dataset joins the {@code k}-th
   * split of this plan: every trainer calls once per epoch.
   *
   * <p>There is no barrier to hang on: the host starts the epoch's split when its own trainer asks
   * for it, and a trainer that asks first waits for that at most {@code attachTimeout}, then fails
   * naming the host; a trainer that has not attached {@code attachTimeout} after the host started
   * fails the split for every trainer, with an error naming its index. A consumer that stops early
   * must close its iterator. A trainer that dies mid-epoch (its process killed, or gone from the
   * cluster) fails the others' {@code next()} with an error naming it, or, with {@link
   * SplitOptions#whenTrainerLost} {@code CONTINUE}, leaves the split while the others go on with
   * their shares; it takes part again from the next epoch.
   *
   * @throws IllegalStateException when the runtime is not shared by several processes (in one
   *     process, use {@link #streamingSplit(int, SplitOptions)})
   * @throws SluiceException when the host does not start the split within {@code attachTimeout}, or
   *     runs another plan (the message names the first difference)
   */
  public BatchIterator streamingShare(
      int n, int index, SplitOptions split, java.time.Duration attachTimeout) {
    if (index < 0 || index >= n) {
      throw new IllegalArgumentException("index " + index + " is not among " + n + " consumers");
    }
    if (shareShuffle != null) {
      throw new IllegalStateException(
          "a shuffled share is iterated by its one consumer; streamingShare does not apply");
    }
    dev.sluice.loader.runtime.SplitExchange exchange = sluice.runtime().splitExchange();
    if (exchange == null) {
      throw new IllegalStateException(
          "streamingShare needs a runtime shared by several processes (a cluster trainer's);"
              + " in one process, use streamingSplit");
    }
    if (!split.localityHints().isEmpty() && split.localityHints().size() != n) {
      throw new IllegalArgumentException(
          "need one locality hint per consumer: "
              + n
              + " consumers, "
              + split.localityHints().size()
              + " hints");
    }
    List<PhysicalOp> plan = Planner.plan(ops);
    dev.sluice.loader.internal.plan.PlanFingerprint planPrint =
        dev.sluice.loader.internal.plan.PlanFingerprint.of(plan);
    List<String> fingerprint = planPrint.lines();
    String key =
        planPrint.hash() + "/epoch-" + epoch + "/n-" + n + "/" + shareCalls.getAndIncrement();
    String name = "StreamingShare[" + n + "]#" + index;
    IterOptions iter = forThisEpoch(split.iterOptions());
    String id = ITERATIONS.incrementAndGet() + "-" + index;
    if (exchange.hostsSplits()) {
      StreamingExecutor ex = start();
      dev.sluice.loader.internal.exec.SplitCoordinator coordinator =
          new dev.sluice.loader.internal.exec.SplitCoordinator(
              ex,
              n,
              split.equal(),
              split.remainder(),
              split.localityHints(),
              split.bufferBlocks(),
              true);
      if (!options.locality()) {
        coordinator.ignoreHosts();
      }
      coordinator.learnHost(index, exchange.hostLabel());
      coordinator.whenConsumerLost(split.whenTrainerLost());
      coordinator.expectAttached(index, attachTimeout);
      Runnable withdraw = exchange.host(key, coordinator.hosted(fingerprint));
      coordinator.onClosed(withdraw);
      lastSplit = coordinator;
      return new BatchIterator(
          coordinator.consumer(index), iter, null, id, options.preserveOrder());
    }
    dev.sluice.loader.runtime.SplitExchange.SplitShare share =
        exchange.attach(key, index, fingerprint, attachTimeout);
    org.apache.arrow.memory.BufferAllocator alloc;
    try {
      // The blocks this trainer takes and its batches: bounded as an execution's memory is.
      long limit =
          (long) Math.min(Long.MAX_VALUE / 2, options.memoryBudget() * options.hardLimitFactor());
      alloc = sluice.allocator().newChildAllocator("share-" + id, 0, limit);
    } catch (RuntimeException e) {
      share.close();
      throw e;
    }
    return new BatchIterator(
        new dev.sluice.loader.internal.exec.RemoteShareStream(
            share, alloc, split.bufferBlocks(), name),
        iter,
        null,
        id,
        options.preserveOrder());
  }

  /**
   * {@link #streamingSplit(int, SplitOptions)} with equal shares dropping the remainder (when
   * {@code equal}), no locality hints, {@code bufferBlocks} blocks of buffer per consumer and the
   * given iteration options.
   */
  public List<BatchIterator> streamingSplit(
      int n, boolean equal, int bufferBlocks, IterOptions iterOptions) {
    return streamingSplit(n, equal, List.of(), bufferBlocks, iterOptions);
  }

  /**
   * {@link #streamingSplit(int, SplitOptions)} with one locality hint (a host name, or null for no
   * preference) per consumer; equal shares drop the remainder.
   */
  public List<BatchIterator> streamingSplit(
      int n, boolean equal, List<String> localityHints, int bufferBlocks, IterOptions iterOptions) {
    SplitOptions split =
        (equal ? SplitOptions.equal(RemainderPolicy.DROP) : SplitOptions.unequal())
            .withLocalityHints(localityHints)
            .withBufferBlocks(bufferBlocks)
            .withIterOptions(iterOptions);
    return streamingSplit(n, split);
  }

  /**
   * {@link #streamingSplit(int, boolean, List, int, IterOptions)} with two blocks of buffer and
   * blocks as they come.
   */
  public List<BatchIterator> streamingSplit(int n, boolean equal, List<String> localityHints) {
    return streamingSplit(n, equal, localityHints, 2, IterOptions.blocks());
  }

  /**
   * {@link #streamingSplit(int, boolean, int, IterOptions)} with two blocks of buffer and blocks as
   * they come.
   */
  public List<BatchIterator> streamingSplit(int n, boolean equal) {
    return streamingSplit(n, equal, 2, IterOptions.blocks());
  }

  /** The most bytes the latest streaming split held in its consumers' queues at once, or -1. */
  public long lastSplitPeakBufferedBytes() {
    dev.sluice.loader.internal.exec.SplitCoordinator s = lastSplit;
    return s == null ? -1 : s.peakBufferedBytes();
  }

  /** Blocks as they come. */
  public BatchIterator iterBatches() {
    return iterBatches(IterOptions.blocks());
  }

  /** The options with the local shuffle's seed drawn from (seed, epoch) after the first epoch. */
  private IterOptions forThisEpoch(IterOptions o) {
    return o.localShuffleBufferSize() > 0 && epoch > 0
        ? o.withLocalShuffle(
            o.localShuffleBufferSize(), EpochPlan.epochSeed(o.shuffleSeed(), epoch))
        : o;
  }

  private StreamingExecutor start() {
    List<PhysicalOp> plan = Planner.plan(ops);
    ExecutionObserver observer = ProgressLine.forOptions(options, Planner.describe(plan));
    StreamingExecutor ex =
        new StreamingExecutor(
            plan, definition, options, epoch, sluice.runtime(), sluice.allocator(), observer);
    ex.start();
    record.lastExecution = ex;
    return ex;
  }

  /** Counts the rows (runs the pipeline). */
  public long count() {
    long n = 0;
    try (BatchIterator it = iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          n += b.rowCount();
        }
      }
    }
    return n;
  }

  /**
   * Runs the pipeline and keeps every resulting block in memory (outside the streaming budget, in
   * the block store). The result reads those blocks; close it to free them.
   */
  public MaterializedDataset materialize() {
    List<Batch> held = new ArrayList<>();
    org.apache.arrow.memory.BufferAllocator alloc =
        sluice
            .allocator()
            .newChildAllocator("materialized-" + ITERATIONS.incrementAndGet(), 0, Long.MAX_VALUE);
    try (BatchIterator it = iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          held.add(b.slice(alloc, 0, b.rowCount()));
        }
      }
    } catch (RuntimeException e) {
      held.forEach(Batch::close);
      alloc.close();
      throw e;
    }
    Dataset ds =
        new Dataset(
            sluice,
            List.of(new LogicalOp.Read(new InMemorySource("materialized", held))),
            options,
            null,
            0,
            new ExecutionRecord(),
            null);
    return new MaterializedDataset(ds, held, alloc);
  }

  /**
   * Writes every row to Arrow IPC files {@code part-NNNNN.arrow} in {@code dir}, with {@link
   * WriteOptions#defaults()} (existing output refused).
   */
  public void writeArrow(Path dir) {
    writeArrow(dir, WriteOptions.defaults());
  }

  /**
   * Writes every row to Arrow IPC files {@code part-NNNNN.arrow} in {@code dir} ({@link
   * ArrowIpcSink}).
   */
  public void writeArrow(Path dir, WriteOptions options) {
    write(() -> new ArrowIpcSink(dir, options));
  }

  /**
   * Writes every row as JSON lines {@code part-NNNNN.jsonl} in {@code dir}, with {@link
   * WriteOptions#defaults()} (existing output refused).
   */
  public void writeJson(Path dir) {
    writeJson(dir, WriteOptions.defaults());
  }

  /**
   * Writes every row as JSON lines {@code part-NNNNN.jsonl} in {@code dir} ({@link JsonLinesSink}).
   */
  public void writeJson(Path dir, WriteOptions options) {
    write(() -> new JsonLinesSink(dir, options));
  }

  /** The same as {@link #writeJson(Path)}. */
  public void writeJsonLines(Path dir) {
    writeJson(dir);
  }

  /**
   * Writes every row to Parquet files {@code part-NNNNN.parquet} in {@code dir}, one file per
   * block, with {@link WriteOptions#defaults()} (existing output refused).
   */
  public void writeParquet(Path dir) {
    writeParquet(dir, WriteOptions.defaults());
  }

  /**
   * Writes every row to Parquet files {@code part-NNNNN.parquet} in {@code dir} ({@link
   * ParquetSink}).
   */
  public void writeParquet(Path dir, WriteOptions options) {
    write(() -> new ParquetSink(dir, options));
  }

  /**
   * Writes every row to CSV files {@code part-NNNNN.csv} (with a header) in {@code dir}, with
   * {@link WriteOptions#defaults()} (existing output refused).
   */
  public void writeCsv(Path dir) {
    writeCsv(dir, WriteOptions.defaults());
  }

  /** Writes every row to CSV files {@code part-NNNNN.csv} in {@code dir} ({@link CsvSink}). */
  public void writeCsv(Path dir, WriteOptions options) {
    write(() -> new CsvSink(dir, options));
  }

  /**
   * Runs the pipeline and writes every batch to a sink opened by {@code sinks}: closes the sink at
   * the end, or {@linkplain BatchSink#abort() aborts} it when the pipeline or the sink fails (a
   * file sink then deletes what this write wrote). The failure is thrown; I/O failures as {@link
   * UncheckedIOException}.
   */
  public void write(SinkFactory sinks) {
    BatchSink sink;
    try {
      sink = sinks.open();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    try (BatchIterator it = iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          sink.write(b);
        }
      }
    } catch (IOException e) {
      abort(sink, e);
      throw new UncheckedIOException(e);
    } catch (RuntimeException | Error e) {
      abort(sink, e);
      throw e;
    }
    try {
      sink.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void abort(BatchSink sink, Throwable failure) {
    try {
      sink.abort();
    } catch (IOException | RuntimeException e) {
      failure.addSuppressed(e);
    }
  }

  /**
   * Statistics of the latest execution of this dataset, or of the same dataset read another way
   * ({@link #withOptions}, {@link #forEpoch}, {@link #shuffleFiles}, {@link #randomizeBlockOrder}:
   * what a DL4J iterator runs), or null if none ran.
   */
  public DatasetStats stats() {
    StreamingExecutor ex = record.lastExecution;
    return ex == null ? null : ex.stats();
  }

  /** The context. */
  public Sluice sluice() {
    return sluice;
  }

  private static String functionName(Class<?> c) {
    String n = c.getSimpleName();
    return n.isEmpty() || n.contains("$$Lambda") || n.contains("Lambda") ? "MapBatches" : n;
  }
}
