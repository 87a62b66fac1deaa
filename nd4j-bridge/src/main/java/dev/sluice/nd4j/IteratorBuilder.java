package dev.sluice.nd4j;

import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.IterOptions;
import dev.sluice.loader.SplitOptions;
import java.time.Duration;
import java.util.function.BiFunction;

/**
 * The settings the DL4J iterators share: batch size, prefetch depth, shuffling (files, local
 * buffer, per epoch, seeded), determinism, dropping the last short batch, array reuse. Not
 * thread-safe; build once.
 *
 * @param <B> the concrete builder, returned by every setter
 */
public abstract class IteratorBuilder<B extends IteratorBuilder<B>> {
  int batchSize = 32;
  int prefetch = 2;
  int shuffleRows;

  /** The seed of every shuffle: drawn at random per builder unless set, so that runs differ. */
  long shuffleSeed = new java.util.SplittableRandom().nextLong();

  boolean shuffleFiles = true;
  boolean deterministic;
  boolean reshuffle = true;
  boolean dropLast;
  int reuseAfter;
  boolean shareBatchMemory;
  int shareOf;
  int shareIndex;
  SplitOptions shareSplit;
  Duration shareAttachTimeout;

  IteratorBuilder() {}

  @SuppressWarnings("unchecked")
  private B self() {
    return (B) this;
  }

  /** Examples per batch (default 32). */
  public B batchSize(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("batch size must be > 0: " + n);
    }
    this.batchSize = n;
    return self();
  }

  /** Ready batches held by the prefetch queue at most (default 2). */
  public B prefetch(int n) {
    if (n <= 0) {
      throw new IllegalArgumentException("prefetch must be > 0: " + n);
    }
    this.prefetch = n;
    return self();
  }

  /**
   * Whether to shuffle for training (default on): each epoch reads the dataset's files in an order
   * seeded by (seed, epoch) ({@link Dataset#shuffleFiles}: for an image folder or binary files
   * every file on its own, so a folder sorted by class comes mixed; for tar shards or Arrow files
   * whole files, so add a {@link #localShuffle} to mix the samples within a shard). Turn it off for
   * evaluation and inference, which then see the dataset's order. A share ({@code
   * Sluice.readShare}) keeps the order its assignment gives whatever this says.
   */
  public B shuffle(boolean on) {
    this.shuffleFiles = on;
    return self();
  }

  /**
   * The seed of the shuffles ({@link #shuffle}, {@link #localShuffle}). Default: drawn at random
   * for each builder, so that two runs see different orders; set it, with {@link #deterministic},
   * for runs that repeat exactly.
   */
  public B seed(long seed) {
    this.shuffleSeed = seed;
    return self();
  }

  /**
   * Whether every epoch delivers exactly the same batches from run to run for the same seed
   * (default off): the dataset is executed with its order preserved ({@code
   * ExecutionOptions.preserveOrder}), so blocks are handed on in the order of the epoch's plan
   * instead of as tasks finish, and the batches, the local shuffle's included, are then the same
   * rows in the same order whatever the thread timing and however many cores the loader has.
   * Functions in the pipeline must be deterministic too (an augmentation seeded by the sample, not
   * by the thread). The cost: a slow block holds back the ones after it (head-of-line blocking),
   * measured in {@code benchmarks/RESULTS.md}.
   */
  public B deterministic(boolean on) {
    this.deterministic = on;
    return self();
  }

  /**
   * Draws each batch at random from a buffer of {@code bufferRows} rows, the buffer's memory
   * counted in the loader's budget; seeded by {@code seed} (which becomes the seed of every
   * shuffle, as {@link #seed} sets it).
   */
  public B localShuffle(int bufferRows, long seed) {
    if (bufferRows <= 0) {
      throw new IllegalArgumentException("shuffle buffer must be > 0 rows: " + bufferRows);
    }
    this.shuffleRows = bufferRows;
    this.shuffleSeed = seed;
    return self();
  }

  /**
   * Whether epoch {@code e} shuffles with (seed, e) (default), another order each epoch, or every
   * epoch as the first.
   */
  public B reshuffleEachEpoch(boolean on) {
    this.reshuffle = on;
    return self();
  }

  /** Whether to drop a final batch smaller than the batch size (default false). */
  public B dropLast(boolean drop) {
    this.dropLast = drop;
    return self();
  }

  /**
   * Recycles the arrays of each batch {@code calls} calls of {@code next()} after handing it out
   * (counted across {@code reset()}: the last batches of an epoch stay valid into the next), or at
   * {@code close()}, instead of allocating fresh arrays for every batch: the contract of DL4J's own
   * {@code AsyncDataSetIterator}, whose cyclic workspace overwrites a batch a few batches later. A
   * batch is then valid until {@code calls} more calls of {@code next()}; keep one longer only as a
   * copy ({@code dataSet.copy()}).
   *
   * <p>See also {@link #shareBatchMemory}, which goes one step further for features that need no
   * conversion.
   *
   * <p>Much cheaper: a fresh batch array (19 MiB for 32 float images of 224 x 224 x 3) is new
   * memory that the kernel maps and zeroes page by page when it is first written, which costs more
   * than the conversion itself; recycled arrays are already mapped. Safe with consumers that use a
   * batch before asking for the next ones: {@code MultiLayerNetwork} and {@code ComputationGraph}
   * {@code fit}, {@code output} and {@code evaluate}, {@code EarlyStoppingTrainer}. Leave it off
   * for consumers that hold batches across calls (a list of batches, {@code ParallelWrapper}'s
   * worker queues). Batches made by {@code next(int)} that cut or join batches are always fresh.
   *
   * @param calls how many calls of {@code next()} a batch stays valid for, at least 1; 0 (the
   *     default) for fresh arrays that belong to the consumer
   */
  public B reuseArrays(int calls) {
    if (calls < 0) {
      throw new IllegalArgumentException("reuseArrays needs calls >= 0: " + calls);
    }
    this.reuseAfter = calls;
    return self();
  }

  /**
   * Hands a features column that needs no conversion (its {@link FeatureColumn} asks for the
   * column's own data type, {@link Layout#AS_STORED} and scale 1: float images that the decoder
   * already converted, see {@code NativeImageDecoder.toFloat}) to the consumer without any copy, on
   * ND4J's CPU backend: the features array is a view of the batch's Arrow memory, which the
   * iterator holds (outside the execution's memory budget, like recycled arrays) for the {@link
   * #reuseArrays} calls of {@code next()} and then frees. {@link PrefetchStats#batchesShared()}
   * counts them. Other columns, and every column on a GPU backend, are copied as usual.
   *
   * <p>Off by default, because it makes {@link #reuseArrays}' contract strict: a recycled array
   * kept too long holds a later batch's values, but a view kept too long reads memory that may have
   * been returned to the operating system, which can crash the JVM. Turn it on for consumers that
   * honour the contract ({@code fit}, {@code output}, {@code evaluate}), never for ones that keep
   * batches.
   *
   * @throws IllegalStateException at {@code build()} when on without {@link #reuseArrays}
   */
  public B shareBatchMemory(boolean share) {
    this.shareBatchMemory = share;
    return self();
  }

  /** Checks the settings that depend on each other. */
  void validate() {
    if (shareBatchMemory && reuseAfter == 0) {
      throw new IllegalStateException(
          "shareBatchMemory needs reuseArrays(n >= 1): a shared batch is freed n calls of next() later");
    }
  }

  /**
   * Makes this iterator trainer {@code index}'s share of every epoch, split among {@code n}
   * trainers in {@code n} processes of a cluster ({@link Dataset#streamingShare}): each epoch is
   * one execution, hosted by the coordinator trainer, whose blocks go to the trainers as {@code
   * split} says (its iteration options are this builder's). Every trainer builds its iterator from
   * the same definition and the same seed, and runs the same number of epochs. Off by default (the
   * iterator executes the whole dataset itself).
   *
   * @param attachTimeout how long a trainer waits for the coordinator to start an epoch
   */
  public B streamingShare(int n, int index, SplitOptions split, Duration attachTimeout) {
    if (n < 1 || index < 0 || index >= n) {
      throw new IllegalArgumentException("trainer " + index + " is not among " + n);
    }
    this.shareOf = n;
    this.shareIndex = index;
    this.shareSplit = java.util.Objects.requireNonNull(split, "split");
    this.shareAttachTimeout = java.util.Objects.requireNonNull(attachTimeout, "attachTimeout");
    return self();
  }

  /** How an epoch's batches are opened: the whole dataset, or this trainer's share of it. */
  BiFunction<Dataset, IterOptions, BatchIterator> opener() {
    if (shareOf == 0) {
      return Dataset::iterBatches;
    }
    int n = shareOf;
    int index = shareIndex;
    SplitOptions split = shareSplit;
    Duration wait = shareAttachTimeout;
    return (ds, options) -> ds.streamingShare(n, index, split.withIterOptions(options), wait);
  }

  /** The dataset the epochs execute: shuffled and ordered as these settings say. */
  Dataset dataset(Dataset dataset) {
    Dataset out = dataset;
    if (shuffleFiles && out.readsShuffleable()) {
      out = out.shuffleFiles(shuffleSeed);
    }
    if (deterministic) {
      out = out.withOptions(out.options().withPreserveOrder(true));
    }
    return out;
  }

  /** The loader's iteration options these settings make (the seed of epoch 0). */
  IterOptions iterOptions() {
    IterOptions opts = IterOptions.batches(batchSize).withDropLast(dropLast);
    return shuffleRows > 0 ? opts.withLocalShuffle(shuffleRows, shuffleSeed) : opts;
  }
}
