package dev.sluice.nd4j;

import dev.sluice.loader.Dataset;
import dev.sluice.loader.IterOptions;
import dev.sluice.loader.SluiceException;
import dev.sluice.nd4j.internal.EpochRunner;
import dev.sluice.nd4j.internal.Examples;
import dev.sluice.nd4j.internal.Placement;
import java.util.List;
import java.util.Objects;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * A DL4J {@link DataSetIterator} over a Sluice {@link Dataset}: one features column and one labels
 * column of each batch become a {@code DataSet} (see {@link ArrowToNd4j#toDataSet}).
 *
 * <p><b>Epochs.</b> Each epoch is a new execution of the dataset. The first epoch starts at the
 * first {@link #hasNext()} (or {@link #next()}); {@link #reset()} stops the running epoch and the
 * next call starts another, so {@code model.fit(iterator, n)} runs n executions.
 *
 * <p><b>Order.</b> By default the iterator shuffles, as training wants: each epoch reads the
 * dataset's files in an order seeded by (seed, epoch) ({@link Builder#shuffle}), and with a
 * {@linkplain Builder#localShuffle local shuffle} draws rows from a buffer seeded the same way; a
 * different order each epoch (unless {@link Builder#reshuffleEachEpoch} is off). Build evaluation
 * iterators with {@code shuffle(false)}. The seed is random unless {@linkplain Builder#seed set};
 * with a seed and {@link Builder#deterministic} every epoch's batches are identical from run to
 * run.
 *
 * <p><b>Prefetch and memory.</b> A thread named {@code sluice-dl4j-prefetch-N}, owned by this
 * iterator, pulls batches, converts them in one copy from Arrow memory into fresh ND4J arrays
 * (detached from any workspace, placed on the consumer's device through ND4J's affinity manager),
 * closes the batches, and keeps up to {@link Builder#prefetch} ready {@code DataSet}s. The {@code
 * DataSet}s handed out belong to the caller and hold no Arrow memory. {@link #asyncSupported()} is
 * false so that DL4J does not wrap this iterator in a second prefetch thread.
 *
 * <p><b>Errors.</b> A failure anywhere upstream (a reader, a {@code mapBatches} function, a bad
 * class index) is thrown from {@link #hasNext()} or {@link #next()} as a {@link SluiceException}
 * naming where it happened, and again on every call until {@link #reset()}; the iterator never
 * hangs on a failed pipeline.
 *
 * <p><b>Closing.</b> {@link #close()} stops the prefetch thread and the execution and releases
 * every batch: afterwards no Arrow memory of this iterator is outstanding. Not thread-safe: one
 * consumer thread.
 */
public final class SluiceDataSetIterator implements DataSetIterator, AutoCloseable {
  private static final long serialVersionUID = 1L;

  private final transient EpochRunner<DataSet> runner;
  private final FeatureColumn features;
  private final LabelColumn labels;
  private final int batchSize;
  private transient DataSetPreProcessor preProcessor;
  private int inputColumns = -1;
  private int totalOutcomes = -1;

  private SluiceDataSetIterator(Builder b) {
    this.features = b.features;
    this.labels = b.labels;
    this.batchSize = b.batchSize;
    IterOptions opts = b.iterOptions();
    FeatureColumn f = b.features;
    LabelColumn l = b.labels;
    this.runner =
        new EpochRunner<>(
            b.dataset(b.dataset),
            opts,
            b.reshuffle,
            (batch, arrays) -> Placement.onDevice(ArrowToNd4j.toDataSet(batch, f, l, arrays)),
            Examples.DATA_SET,
            b.prefetch,
            b.reuseAfter,
            b.shareBatchMemory,
            b.opener());
  }

  /**
   * A builder for an iterator over {@code dataset}.
   *
   * @param dataset the dataset each epoch executes
   * @param features the features column
   * @param labels the labels column, or null for features only (inference)
   */
  public static Builder builder(Dataset dataset, FeatureColumn features, LabelColumn labels) {
    return new Builder(dataset, features, labels);
  }

  @Override
  public boolean hasNext() {
    return runner.hasNext();
  }

  /**
   * The next batch of {@link #batch()} examples (the last of an epoch may be smaller), with the
   * pre-processor applied. Belongs to the caller.
   *
   * @throws SluiceException when the pipeline failed
   * @throws java.util.NoSuchElementException at the end of the epoch
   */
  @Override
  public DataSet next() {
    return prepare(runner.next());
  }

  /**
   * The next {@code num} examples (fewer only at the end of the epoch), whatever the batch size:
   * cut from and joined across the pipeline's batches (a copy when they do not line up); examples
   * beyond {@code num} are kept for the following call. The pre-processor is applied.
   */
  @Override
  public DataSet next(int num) {
    return prepare(runner.next(num));
  }

  private DataSet prepare(DataSet d) {
    remember(d);
    DataSetPreProcessor p = preProcessor;
    if (p != null) {
      p.preProcess(d);
    }
    return d;
  }

  private void remember(DataSet d) {
    if (inputColumns < 0) {
      inputColumns = (int) (d.getFeatures().length() / d.getFeatures().size(0));
      totalOutcomes =
          d.getLabels() == null ? 0 : (int) (d.getLabels().length() / d.getLabels().size(0));
    }
  }

  private void learnShapes() {
    if (inputColumns < 0) {
      DataSet d = runner.peek();
      if (d == null) {
        throw new IllegalStateException("no data to learn the shapes from");
      }
      remember(d);
    }
  }

  /**
   * Elements of one example's features (the product of the per-row shape). Known after the first
   * batch; asked earlier, it starts the epoch and waits for that batch.
   */
  @Override
  public int inputColumns() {
    learnShapes();
    return inputColumns;
  }

  /**
   * The number of classes of one-hot labels; otherwise the elements of one example's labels, learnt
   * from the first batch like {@link #inputColumns()}.
   */
  @Override
  public int totalOutcomes() {
    if (labels != null && labels.isOneHot()) {
      return labels.numClasses();
    }
    if (labels == null) {
      return 0;
    }
    learnShapes();
    return totalOutcomes;
  }

  /** True: {@link #reset()} starts a new epoch (a new execution). */
  @Override
  public boolean resetSupported() {
    return true;
  }

  /** False: the iterator prefetches on its own thread; DL4J must not add another. */
  @Override
  public boolean asyncSupported() {
    return false;
  }

  /**
   * Ends the running epoch (stopping its execution, dropping prefetched batches) and makes the next
   * call start the next epoch.
   */
  @Override
  public void reset() {
    runner.reset();
  }

  /** The batch size asked of the pipeline. */
  @Override
  public int batch() {
    return batchSize;
  }

  /**
   * Sets a pre-processor (a fitted {@code DataNormalization}, an image scaler), applied on the
   * consumer's thread by every later {@code next} call.
   */
  @Override
  public void setPreProcessor(DataSetPreProcessor preProcessor) {
    this.preProcessor = preProcessor;
  }

  @Override
  public DataSetPreProcessor getPreProcessor() {
    return preProcessor;
  }

  /** The class names of one-hot labels, or null when none were given. */
  @Override
  public List<String> getLabels() {
    return labels == null || labels.classNames().isEmpty() ? null : labels.classNames();
  }

  /** The number of the epoch in progress (0 for the first), or -1 before the first. */
  public int epoch() {
    return runner.epoch();
  }

  /** The name of the running epoch's prefetch thread, or null when none runs. */
  public String prefetchThreadName() {
    return runner.prefetchThreadName();
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
    return "SluiceDataSetIterator[batch "
        + batchSize
        + ", epoch "
        + runner.epoch()
        + ": "
        + runner.stats()
        + "]";
  }

  /** The features column. */
  public FeatureColumn features() {
    return features;
  }

  /** The labels column, or null. */
  public LabelColumn labels() {
    return labels;
  }

  /**
   * Stops the prefetch thread and the execution and releases all Arrow memory; the iterator is then
   * empty. Idempotent.
   */
  @Override
  public void close() {
    runner.close();
  }

  /** Builds a {@link SluiceDataSetIterator}. */
  public static final class Builder extends IteratorBuilder<Builder> {
    private final Dataset dataset;
    private final FeatureColumn features;
    private final LabelColumn labels;

    private Builder(Dataset dataset, FeatureColumn features, LabelColumn labels) {
      this.dataset = Objects.requireNonNull(dataset, "dataset");
      this.features = Objects.requireNonNull(features, "features");
      this.labels = labels;
    }

    /** The iterator; nothing runs until its first {@code hasNext()}. */
    public SluiceDataSetIterator build() {
      validate();
      return new SluiceDataSetIterator(this);
    }
  }
}
