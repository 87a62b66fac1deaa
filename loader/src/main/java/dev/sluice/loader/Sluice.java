package dev.sluice.loader;

import dev.sluice.loader.memory.PageRoundingPolicy;
import dev.sluice.loader.memory.RecyclingMemory;
import dev.sluice.loader.runtime.ExecutionRuntime;
import dev.sluice.loader.runtime.LocalRuntime;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.CsvSource;
import dev.sluice.loader.source.JsonLinesSource;
import dev.sluice.loader.source.ParquetSource;
import dev.sluice.loader.source.Source;
import dev.sluice.sharding.ConsumerPosition;
import dev.sluice.sharding.LocalShuffle;
import dev.sluice.sharding.ShareAssignment;
import dev.sluice.sharding.ShareSegment;
import java.util.List;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * The context every dataset runs in: the process's block store (an Arrow root allocator with a hard
 * limit), the runtime tasks and actors run on, and the default execution options. Embedded by
 * default: threads of this JVM, no cluster.
 *
 * <pre>{@code
 * try (Sluice sluice = Sluice.builder().memoryBudget(256L << 20).build()) {
 *   Dataset ds = sluice.read(WebDatasetSource.of("shards/train-{0000..0099}.tar")).mapBatches(decode);
 *   try (BatchIterator it = ds.iterBatches(IterOptions.batches(64))) {
 *     while (it.hasNext()) {
 *       try (Batch b = it.next()) { ... }
 *     }
 *   }
 * }
 * }</pre>
 *
 * <p>Thread-safe. {@link #close()} stops the runtime (when the context created it) and closes the
 * block store, failing if any batch is still open (a leak).
 */
public final class Sluice implements AutoCloseable {
  private final RecyclingMemory recycled;
  private final RootAllocator store;
  private final ExecutionRuntime runtime;
  private final boolean ownsRuntime;
  private final ExecutionOptions defaults;

  /** What must close before the context does (iterators built on it), in registration order. */
  private final java.util.LinkedHashSet<AutoCloseable> dependents = new java.util.LinkedHashSet<>();

  private boolean closed;

  private Sluice(
      RecyclingMemory recycled,
      RootAllocator store,
      ExecutionRuntime runtime,
      boolean ownsRuntime,
      ExecutionOptions defaults) {
    this.recycled = recycled;
    this.store = store;
    this.runtime = runtime;
    this.ownsRuntime = ownsRuntime;
    this.defaults = defaults;
  }

  /**
   * A builder with the defaults: all processors, 512 MiB budget, a store limited to 4x the budget.
   */
  public static Builder builder() {
    return new Builder();
  }

  /** A context with the defaults. */
  public static Sluice local() {
    return builder().build();
  }

  /**
   * The dataset a {@link PipelineDefinition} builds with {@code parameters}: the way to write a
   * pipeline that also runs on a cluster, whose workers build the same dataset by the definition's
   * name. In one JVM it is the same as calling {@code build} yourself.
   *
   * @throws IllegalArgumentException when the definition cannot be made (see {@link
   *     PipelineRef#instantiate})
   */
  public Dataset pipeline(
      Class<? extends PipelineDefinition> definition, java.util.Map<String, String> parameters) {
    return pipeline(PipelineRef.of(definition, parameters), definition.getClassLoader());
  }

  /**
   * The dataset the named definition builds, its class loaded through {@code loader} (a worker
   * builds a trainer's pipeline so).
   */
  public Dataset pipeline(PipelineRef ref, ClassLoader loader) {
    Dataset ds = ref.instantiate(loader).build(this, ref.parameters());
    if (ds == null) {
      throw new IllegalStateException("pipeline definition " + ref.className() + " built null");
    }
    PipelineRef built = new PipelineRef(ref.className(), ref.parameters());
    return ref.reorder(ds.builtBy(built));
  }

  /** A dataset that reads {@code source}. Lazy: nothing is read until consumed. */
  public Dataset read(Source source) {
    return Dataset.read(this, source, MapOptions.DEFAULT);
  }

  /**
   * A dataset that reads {@code source} with tasks that ask for {@code options}' CPUs and GPUs
   * (default one CPU), at most {@code options.concurrency()} at once (0: as resources and memory
   * allow), like Ray's {@code ray_remote_args} and {@code concurrency} of a read: for a source
   * whose reader does heavy work of its own, such as a video decoder running several threads.
   * Stateless maps that ask for the same resources and concurrency are fused into the read as
   * usual. Lazy.
   *
   * @throws IllegalArgumentException when {@code options} gives a name or a batch size (a read is
   *     named by its source and cuts blocks by the execution's block targets)
   */
  public Dataset read(Source source, MapOptions options) {
    return Dataset.read(this, source, Objects.requireNonNull(options, "options"));
  }

  /**
   * One consumer's share of {@code source} for an epoch, as a sharding assignment gave it (see
   * {@code dev.sluice.sharding.StaticAssigner}): its row ranges, read in the share's order (order
   * is preserved, so that {@code assignment.positionAfter(rank, rowsDelivered)} names exactly what
   * was delivered).
   */
  public Dataset readShare(
      Source source, dev.sluice.sharding.ShareAssignment assignment, int rank) {
    return readSegments(
        source,
        assignment.share(rank).segments(),
        "share-" + rank + "-epoch-" + assignment.epoch());
  }

  /**
   * What remains of a consumer's share after a saved position: exactly the rows of that epoch not
   * yet delivered, in the same order as without the interruption.
   */
  public Dataset resumeShare(
      Source source,
      dev.sluice.sharding.ShareAssignment assignment,
      dev.sluice.sharding.ConsumerPosition position) {
    return readSegments(
        source,
        assignment.remainderFrom(position),
        "share-" + position.rank() + "-epoch-" + position.epoch() + "-resumed");
  }

  /**
   * One consumer's share of {@code source} for an epoch, handed on through the consumer's
   * deterministic local shuffle {@code LocalShuffle.of(seed, epoch, rank, shuffleBufferRows)} (the
   * assignment's seed and epoch): every iteration of the returned dataset (and of datasets derived
   * from it by maps that keep one output row per input row) hands the rows on in that order, which
   * depends only on the seed, epoch, rank, buffer size and the share, never on timing. A consumer
   * that has handed on {@code k} rows saves {@code assignment.positionAfter(rank, k)} and resumes
   * with {@link #resumeShare(Source, ShareAssignment, ConsumerPosition, int)} and the same buffer
   * size. Iterate it without a local shuffle of its own in {@link IterOptions}.
   *
   * @throws IllegalArgumentException if {@code shuffleBufferRows < 1}
   */
  public Dataset readShare(
      Source source, ShareAssignment assignment, int rank, int shuffleBufferRows) {
    LocalShuffle shuffle =
        LocalShuffle.of(assignment.seed(), assignment.epoch(), rank, shuffleBufferRows);
    return readShare(source, assignment, rank)
        .withShareShuffle(new ShareShuffle(shuffle, assignment.share(rank).rows(), 0));
  }

  /**
   * What remains of a consumer's shuffled share ({@link #readShare(Source, ShareAssignment, int,
   * int)}) after a saved position: exactly the rows of that epoch not yet handed on, in the same
   * order as without the interruption (the rows still in the shuffle buffer at the cut are read
   * again and put back where they were). Needs equal shares (exact row counts) and the same buffer
   * size as before the restart.
   *
   * @throws IllegalArgumentException if the position does not belong to this assignment or the
   *     buffer size is below 1
   * @throws IllegalStateException if the shares are balanced (row counts not exact)
   */
  public Dataset resumeShare(
      Source source, ShareAssignment assignment, ConsumerPosition position, int shuffleBufferRows) {
    List<ShareSegment> remainder = assignment.remainderFrom(position, shuffleBufferRows);
    List<ShareSegment> segments = assignment.share(position.rank()).segments();
    long delivered = position.offset();
    for (int i : position.completedSegments()) {
      delivered += segments.get(i).rows();
    }
    LocalShuffle shuffle =
        LocalShuffle.of(position.seed(), position.epoch(), position.rank(), shuffleBufferRows);
    return readSegments(
            source,
            remainder,
            "share-" + position.rank() + "-epoch-" + position.epoch() + "-resumed")
        .withShareShuffle(
            new ShareShuffle(shuffle, assignment.share(position.rank()).rows(), delivered));
  }

  private Dataset readSegments(
      Source source, java.util.List<dev.sluice.sharding.ShareSegment> segments, String id) {
    return read(new dev.sluice.loader.source.ShareSource(source, segments, id))
        .withOptions(defaults.withPreserveOrder(true));
  }

  /**
   * Parquet files named by path patterns, all columns, one split per row group: {@code
   * read(ParquetSource.of(patterns))}. {@link ParquetSource#builder} projects columns and names
   * tensor columns.
   */
  public Dataset readParquet(String... patterns) {
    return read(ParquetSource.of(patterns));
  }

  /**
   * JSON Lines files named by path patterns, columns inferred from a sample: {@code
   * read(JsonLinesSource.of(patterns))}. {@link JsonLinesSource#builder} takes a schema instead.
   */
  public Dataset readJson(String... patterns) {
    return read(JsonLinesSource.of(patterns));
  }

  /**
   * CSV files with a header named by path patterns, column types inferred from a sample: {@code
   * read(CsvSource.of(patterns))}. {@link CsvSource#builder} takes a schema or another separator.
   */
  public Dataset readCsv(String... patterns) {
    return read(CsvSource.of(patterns));
  }

  /** The integers {@code [0, n)} in column {@code id}, in {@code splits} splits. */
  public Dataset range(long n, int splits) {
    return read(new dev.sluice.loader.source.RangeSource(n, splits));
  }

  /** The default execution options of datasets made here. */
  public ExecutionOptions defaultOptions() {
    return defaults;
  }

  /** The runtime. */
  public ExecutionRuntime runtime() {
    return runtime;
  }

  /** The block store's root allocator; executions take children of it. */
  public BufferAllocator allocator() {
    return store;
  }

  /**
   * The cache of released block memory the store allocates from (see {@link
   * Builder#recycledMemory}).
   */
  public RecyclingMemory recycledMemory() {
    return recycled;
  }

  /**
   * Makes {@link #close()} close {@code resource} first (in reverse order of registration), for
   * something built on this context that holds its memory or threads beyond one call: an iterator
   * whose last batches stay valid after its epoch ends, say. The returned action unregisters it:
   * call it when the resource closes on its own.
   *
   * @throws IllegalStateException when this context is closed
   */
  public Runnable closeBeforeContext(AutoCloseable resource) {
    Objects.requireNonNull(resource, "resource");
    synchronized (dependents) {
      if (closed) {
        throw new IllegalStateException("this Sluice context is closed");
      }
      dependents.add(resource);
    }
    return () -> {
      synchronized (dependents) {
        dependents.remove(resource);
      }
    };
  }

  /**
   * Closes what was registered with {@link #closeBeforeContext}, then the runtime (when this
   * context started it) and the block store, whose allocator fails if an execution still holds its
   * memory.
   */
  @Override
  public void close() {
    List<AutoCloseable> first;
    synchronized (dependents) {
      if (closed) {
        return;
      }
      closed = true;
      first = new java.util.ArrayList<>(dependents);
      dependents.clear();
    }
    java.util.Collections.reverse(first);
    RuntimeException failure = null;
    for (AutoCloseable c : first) {
      try {
        c.close();
      } catch (Exception e) {
        if (failure == null) {
          failure =
              new IllegalStateException(
                  "closing " + c + " with its Sluice context failed: " + e, e);
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    try {
      if (ownsRuntime) {
        runtime.close();
      }
      store.close();
    } finally {
      recycled.close();
    }
    if (failure != null) {
      throw failure;
    }
  }

  /** Builds a {@link Sluice}. */
  public static final class Builder {
    private ExecutionRuntime runtime;
    private Resources resources;
    private ExecutionOptions options = ExecutionOptions.defaults();
    private long storeLimit = -1;
    private long recycledMemory = -1;

    private Builder() {}

    /** Runs on this runtime (not closed by the context). Default: a local runtime. */
    public Builder runtime(ExecutionRuntime runtime) {
      this.runtime = Objects.requireNonNull(runtime);
      return this;
    }

    /** The logical resources of the local runtime. Default: one CPU per processor. */
    public Builder resources(Resources resources) {
      this.resources = resources;
      return this;
    }

    /** The memory budget of each execution. */
    public Builder memoryBudget(long bytes) {
      options = options.withMemoryBudget(bytes);
      return this;
    }

    /** All default execution options. */
    public Builder options(ExecutionOptions options) {
      this.options = Objects.requireNonNull(options);
      return this;
    }

    /**
     * The block store's hard limit (all executions and materialised data). Default: 4x the budget,
     * at least 1 GiB.
     */
    public Builder storeLimit(long bytes) {
      this.storeLimit = bytes;
      return this;
    }

    /**
     * The most native memory kept for reuse after blocks are released (see {@link
     * RecyclingMemory}): held on top of the store's accounted memory, so a process's native memory
     * is bounded by the store limit plus this (in practice by the peak of live blocks: cached
     * memory is memory that was live, handed out again before any new allocation of its size). 0
     * turns recycling off. Default: the memory budget.
     */
    public Builder recycledMemory(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("recycledMemory must be >= 0: " + bytes);
      }
      this.recycledMemory = bytes;
      return this;
    }

    /** The context. */
    public Sluice build() {
      long limit = storeLimit > 0 ? storeLimit : Math.max(1L << 30, 4 * options.memoryBudget());
      RecyclingMemory recycled =
          RecyclingMemory.withCapacity(
              recycledMemory >= 0 ? recycledMemory : options.memoryBudget());
      RootAllocator store =
          new RootAllocator(
              RootAllocator.configBuilder()
                  .maxAllocation(limit)
                  .allocationManagerFactory(recycled)
                  .roundingPolicy(PageRoundingPolicy.INSTANCE)
                  .build());
      boolean owns = runtime == null;
      ExecutionRuntime rt =
          runtime != null
              ? runtime
              : resources != null
                  ? new LocalRuntime(resources)
                  : LocalRuntime.ofAvailableProcessors();
      return new Sluice(recycled, store, rt, owns, options);
    }
  }
}
