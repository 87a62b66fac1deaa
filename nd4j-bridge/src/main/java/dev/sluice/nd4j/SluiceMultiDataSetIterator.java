package dev.sluice.nd4j;

import dev.sluice.loader.Dataset;
import dev.sluice.loader.IterOptions;
import dev.sluice.loader.SluiceException;
import dev.sluice.nd4j.internal.EpochRunner;
import dev.sluice.nd4j.internal.Examples;
import dev.sluice.nd4j.internal.Placement;
import java.util.List;
import java.util.Objects;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * A DL4J {@link MultiDataSetIterator} over a Sluice {@link Dataset}, for a {@code
 * ComputationGraph}: one or more feature columns become the graph's inputs and one or more label
 * columns its outputs, in order (see {@link ArrowToNd4j#toMultiDataSet}).
 *
 * <p>Epochs, prefetch, memory, errors and closing behave exactly as in {@link
 * SluiceDataSetIterator}: a new execution per epoch ({@link #reset()}), a named prefetch thread
 * owned by the iterator, fresh arrays that hold no Arrow memory, upstream failures thrown as {@link
 * SluiceException} from {@link #hasNext()}/{@link #next()}, and {@link #close()} releasing
 * everything. Not thread-safe: one consumer thread.
 */
public final class SluiceMultiDataSetIterator implements MultiDataSetIterator, AutoCloseable {
  private static final long serialVersionUID = 1L;

  private final transient EpochRunner<MultiDataSet> runner;
  private final int batchSize;
  private transient MultiDataSetPreProcessor preProcessor;

  private SluiceMultiDataSetIterator(Builder b) {
    this.batchSize = b.batchSize;
    IterOptions opts = b.iterOptions();
    List<FeatureColumn> f = b.features;
    List<LabelColumn> l = b.labels;
    this.runner =
        new EpochRunner<>(
            b.dataset(b.dataset),
            opts,
            b.reshuffle,
            (batch, arrays) -> Placement.onDevice(ArrowToNd4j.toMultiDataSet(batch, f, l, arrays)),
            Examples.MULTI_DATA_SET,
            b.prefetch,
            b.reuseAfter,
            b.shareBatchMemory,
            b.opener());
  }

  /**
   * A builder for an iterator over {@code dataset}.
   *
   * @param dataset the dataset each epoch executes
   * @param features the feature columns, one per graph input, in input order (at least one)
   * @param labels the label columns, one per graph output, in output order (may be empty)
   */
  public static Builder builder(
      Dataset dataset, List<FeatureColumn> features, List<LabelColumn> labels) {
    return new Builder(dataset, features, labels);
  }

  @Override
  public boolean hasNext() {
    return runner.hasNext();
  }

  /** The next batch, pre-processed; belongs to the caller. */
  @Override
  public MultiDataSet next() {
    return prepare(runner.next());
  }

  /**
   * The next {@code num} examples (fewer only at the end of the epoch), cut from and joined across
   * the pipeline's batches; the rest is kept for the following call.
   */
  @Override
  public MultiDataSet next(int num) {
    return prepare(runner.next(num));
  }

  private MultiDataSet prepare(MultiDataSet d) {
    MultiDataSetPreProcessor p = preProcessor;
    if (p != null) {
      p.preProcess(d);
    }
    return d;
  }

  /** Applied on the consumer's thread by every later {@code next} call. */
  @Override
  public void setPreProcessor(MultiDataSetPreProcessor preProcessor) {
    this.preProcessor = preProcessor;
  }

  @Override
  public MultiDataSetPreProcessor getPreProcessor() {
    return preProcessor;
  }

  /** True: {@link #reset()} starts a new epoch (a new execution). */
  @Override
  public boolean resetSupported() {
    return true;
  }

  /** False: the iterator prefetches on its own thread. */
  @Override
  public boolean asyncSupported() {
    return false;
  }

  /** Ends the running epoch; the next call starts the next one. */
  @Override
  public void reset() {
    runner.reset();
  }

  /** The batch size asked of the pipeline. */
  public int batch() {
    return batchSize;
  }

  /** The number of the epoch in progress (0 for the first), or -1 before the first. */
  public int epoch() {
    return runner.epoch();
  }

  /** How long {@code next()} waited for data, and its share of the epochs' wall time. */
  public PrefetchStats stats() {
    return runner.stats();
  }

  /**
   * The batch size, the epoch in progress and the stall figures (DL4J's {@code fit} prints its
   * iterator).
   */
  @Override
  public String toString() {
    return "SluiceMultiDataSetIterator[batch "
        + batchSize
        + ", epoch "
        + runner.epoch()
        + ": "
        + runner.stats()
        + "]";
  }

  /** Stops the prefetch thread and the execution and releases all Arrow memory. Idempotent. */
  @Override
  public void close() {
    runner.close();
  }

  /** Builds a {@link SluiceMultiDataSetIterator}. */
  public static final class Builder extends IteratorBuilder<Builder> {
    private final Dataset dataset;
    private final List<FeatureColumn> features;
    private final List<LabelColumn> labels;

    private Builder(Dataset dataset, List<FeatureColumn> features, List<LabelColumn> labels) {
      this.dataset = Objects.requireNonNull(dataset, "dataset");
      this.features = List.copyOf(features);
      this.labels = List.copyOf(labels);
      if (this.features.isEmpty()) {
        throw new IllegalArgumentException("at least one feature column is needed");
      }
    }

    /** The iterator; nothing runs until its first {@code hasNext()}. */
    public SluiceMultiDataSetIterator build() {
      validate();
      return new SluiceMultiDataSetIterator(this);
    }
  }
}
