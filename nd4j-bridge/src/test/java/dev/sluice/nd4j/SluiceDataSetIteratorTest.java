package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.concurrent.Prefetcher;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;
import org.deeplearning4j.earlystopping.EarlyStoppingConfiguration;
import org.deeplearning4j.earlystopping.EarlyStoppingResult;
import org.deeplearning4j.earlystopping.saver.InMemoryModelSaver;
import org.deeplearning4j.earlystopping.scorecalc.DataSetLossCalculator;
import org.deeplearning4j.earlystopping.termination.MaxEpochsTerminationCondition;
import org.deeplearning4j.earlystopping.trainer.EarlyStoppingTrainer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.preprocessor.ImagePreProcessingScaler;
import org.nd4j.linalg.dataset.api.preprocessor.NormalizerStandardize;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SluiceDataSetIteratorTest {
  private static final Schema POINTS =
      new Schema(
          List.of(
              Columns.tensor("x", ElementType.FLOAT32, 2),
              Columns.float32("z"),
              Columns.int32("y"),
              Columns.int64("id")));

  private static Sluice sluice() {
    return Sluice.builder()
        .resources(Resources.cpus(2))
        .options(
            ExecutionOptions.defaults()
                .withMemoryBudget(32L << 20)
                .withTargetBlockRows(100)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  /** A deterministic value in [-0.5, 0.5) from an id. */
  private static float noise(long id, int salt) {
    long h = (id * 0x9E3779B97F4A7C15L) ^ (salt * 0xC2B2AE3D27D4EB4FL);
    h ^= h >>> 31;
    h *= 0xBF58476D1CE4E5B9L;
    h ^= h >>> 29;
    return ((h >>> 40) / (float) (1L << 24)) - 0.5f;
  }

  /** Two linearly separable classes: class id % 2, x around (+1, +1) or (-1, -1). */
  static BatchFunction points() {
    return (in, ctx) -> {
      int n = in.rowCount();
      try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), POINTS, n)) {
        ArrowBuf x = b.tensorData("x");
        for (int i = 0; i < n; i++) {
          long id = in.getLong(RangeSource.COLUMN, i);
          int cls = (int) (id % 2);
          float centre = cls == 1 ? 1f : -1f;
          x.setFloat(8L * i, centre + noise(id, 1));
          x.setFloat(8L * i + 4, centre + noise(id, 2));
          b.setDouble("z", i, noise(id, 3));
          b.setLong("y", i, cls);
          b.setLong("id", i, id);
        }
        return b.build(n);
      }
    };
  }

  private static Dataset points(Sluice s, int rows) {
    return s.range(rows, 4).mapBatches(points());
  }

  private static SluiceDataSetIterator.Builder iterator(Dataset ds) {
    // In the dataset's order unless a test asks for shuffling: most tests compare epochs with a
    // reference.
    return SluiceDataSetIterator.builder(ds, FeatureColumn.of("x"), LabelColumn.oneHot("y", 2))
        .batchSize(50)
        .shuffle(false);
  }

  private static MultiLayerNetwork mlp() {
    MultiLayerConfiguration conf =
        new NeuralNetConfiguration.Builder()
            .seed(7)
            .updater(new Adam(0.05))
            .list()
            .layer(new DenseLayer.Builder().nIn(2).nOut(8).activation(Activation.RELU).build())
            .layer(
                new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                    .nIn(8)
                    .nOut(2)
                    .activation(Activation.SOFTMAX)
                    .build())
            .build();
    MultiLayerNetwork net = new MultiLayerNetwork(conf);
    net.init();
    return net;
  }

  /** A small graph over inputs "x" (2 values) and "z" (1), merged, for two classes. */
  private static ComputationGraph graph() {
    ComputationGraphConfiguration conf =
        new NeuralNetConfiguration.Builder()
            .seed(3)
            .updater(new Adam(0.05))
            .graphBuilder()
            .addInputs("x", "z")
            .addVertex("merge", new MergeVertex(), "x", "z")
            .addLayer(
                "dense",
                new DenseLayer.Builder().nIn(3).nOut(8).activation(Activation.RELU).build(),
                "merge")
            .addLayer(
                "out",
                new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                    .nIn(8)
                    .nOut(2)
                    .activation(Activation.SOFTMAX)
                    .build(),
                "dense")
            .setOutputs("out")
            .build();
    ComputationGraph graph = new ComputationGraph(conf);
    graph.init();
    return graph;
  }

  private static boolean threadAlive(String name) {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().equals(name) && t.isAlive());
  }

  @Test
  void parallelWrapperTrainsFromTheIterator() throws Exception {
    try (Sluice s = sluice()) {
      try (SluiceDataSetIterator it = iterator(points(s, 2000)).build()) {
        MultiLayerNetwork net = mlp();
        try (org.deeplearning4j.parallelism.ParallelWrapper wrapper =
            new org.deeplearning4j.parallelism.ParallelWrapper.Builder<>(net)
                .workers(2)
                .prefetchBuffer(2)
                .averagingFrequency(1)
                .build()) {
          wrapper.fit(it);
          it.reset();
          wrapper.fit(it);
        }
        it.reset();
        Evaluation eval = net.evaluate(it);
        assertThat(eval.getNumRowCounter()).isEqualTo(2000);
        assertThat(eval.accuracy()).isGreaterThan(0.9);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void multiLayerNetworkLearnsAndNothingLeaks() {
    try (Sluice s = sluice()) {
      try (SluiceDataSetIterator it = iterator(points(s, 2000)).build()) {
        long start = System.nanoTime();
        MultiLayerNetwork net = mlp();
        net.fit(it, 2);
        assertThat(it.epoch()).isEqualTo(1);
        Evaluation eval = net.evaluate(it);
        assertThat(eval.accuracy()).isGreaterThan(0.95);
        assertThat(eval.getNumRowCounter()).isEqualTo(2000);
        assertThat(it.inputColumns()).isEqualTo(2);
        assertThat(it.totalOutcomes()).isEqualTo(2);
        assertThat(it.resetSupported()).isTrue();
        assertThat(it.asyncSupported()).isFalse();
        PrefetchStats stats = it.stats();
        long elapsed = System.nanoTime() - start;
        assertThat(stats.batches()).isEqualTo(3 * 40);
        assertThat(stats.wallNanos()).isPositive().isLessThanOrEqualTo(elapsed);
        // Each epoch waited for its first batch; the waits lie within the epochs, which also hold
        // the training outside the waits.
        assertThat(stats.waitNanos())
            .as(stats.toString())
            .isPositive()
            .isLessThan(stats.wallNanos());
        assertThat(stats.stallShare()).isEqualTo((double) stats.waitNanos() / stats.wallNanos());
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    } // Sluice.close() fails on leaked Arrow memory
  }

  /** Whether {@code t} is parked in a prefetcher's {@code take()}, waiting for a batch. */
  private static boolean waitingForABatch(Thread t) {
    if (t == null || t.getState() != Thread.State.WAITING) {
      return false;
    }
    for (StackTraceElement frame : t.getStackTrace()) {
      if (frame.getClassName().equals(Prefetcher.class.getName())
          && frame.getMethodName().equals("take")) {
        return true;
      }
    }
    return false;
  }

  @Test
  void aConsumerHeldUpByThePipelineCountsTheWaitAsStall() throws Exception {
    record Drained(int batches, PrefetchStats stats) {}
    CountDownLatch pipelineHeld = new CountDownLatch(1);
    try (Sluice s = sluice()) {
      Dataset held =
          points(s, 500)
              .mapBatches(
                  (in, ctx) -> {
                    pipelineHeld.await(); // every block waits until the test lets the pipeline go
                    return in;
                  });
      AtomicReference<Thread> consumer = new AtomicReference<>();
      ExecutorService consumerThread =
          Executors.newSingleThreadExecutor(
              r -> {
                Thread t = new Thread(r, "stall-test-consumer");
                t.setDaemon(true);
                consumer.set(t);
                return t;
              });
      Future<Drained> drained;
      long blockedSince;
      long releasedAt;
      try {
        // The consumer thread owns the iterator: builds, drains and closes it.
        drained =
            consumerThread.submit(
                () -> {
                  try (SluiceDataSetIterator it = iterator(held).build()) {
                    int n = 0;
                    while (it.hasNext()) {
                      it.next();
                      n++;
                    }
                    return new Drained(n, it.stats());
                  }
                });
        await().atMost(Duration.ofSeconds(10)).until(() -> waitingForABatch(consumer.get()));
        blockedSince = System.nanoTime();
        // It cannot get anything while the pipeline is held: it stays waiting.
        await()
            .during(Duration.ofMillis(100))
            .atMost(Duration.ofSeconds(5))
            .until(() -> waitingForABatch(consumer.get()) && !drained.isDone());
        releasedAt = System.nanoTime();
      } finally {
        pipelineHeld.countDown();
        consumerThread.shutdown();
        assertThat(consumerThread.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
      }
      Drained d = drained.get();
      assertThat(d.batches()).isEqualTo(10);
      PrefetchStats stats = d.stats();
      assertThat(stats.batches()).isEqualTo(10);
      // The wait seen from outside is part of the stall: the take() seen waiting before
      // blockedSince could not return before releasedAt.
      assertThat(stats.waitNanos())
          .as(stats.toString())
          .isGreaterThanOrEqualTo(releasedAt - blockedSince)
          .isLessThanOrEqualTo(stats.wallNanos());
      assertThat(stats.stallShare()).isEqualTo((double) stats.waitNanos() / stats.wallNanos());
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void aConsumerWhoseEpochIsAllPrefetchedWaitsOnlyInsideItsCalls() {
    try (Sluice s = sluice()) {
      try (SluiceDataSetIterator it = iterator(points(s, 500)).prefetch(16).build()) {
        MultiLayerNetwork net = mlp();
        assertThat(it.hasNext()).isTrue(); // starts the epoch and waits for its first batch
        String producer = it.prefetchThreadName();
        // The prefetch thread ends once it has queued the whole epoch and its end: 10 batches, room
        // for 16.
        await().atMost(Duration.ofSeconds(10)).until(() -> !threadAlive(producer));
        PrefetchStats before = it.stats();
        long from = System.nanoTime();
        long inCalls = 0;
        long lastCall;
        int batches = 0;
        while (true) {
          long t0 = System.nanoTime();
          DataSet d = it.hasNext() ? it.next() : null;
          inCalls += System.nanoTime() - t0;
          if (d == null) {
            lastCall = t0;
            break;
          }
          batches++;
          net.fit(d); // the trainer's own work, outside the iterator's calls
        }
        PrefetchStats after = it.stats();
        assertThat(batches).isEqualTo(10);
        // Every batch was ready: whatever waiting is counted happened inside hasNext()/next(),
        // never
        // while the trainer worked; the wall clock ran on through that work.
        assertThat(after.waitNanos() - before.waitNanos())
            .as("%s, then %s", before, after)
            .isLessThanOrEqualTo(inCalls);
        assertThat(after.wallNanos() - before.wallNanos()).isGreaterThanOrEqualTo(lastCall - from);
        assertThat(after.waitNanos()).isLessThanOrEqualTo(after.wallNanos());
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void closeMidEpochStopsThreadAndReleasesArrowMemory() {
    try (Sluice s = sluice()) {
      SluiceDataSetIterator it = iterator(points(s, 5000)).prefetch(3).build();
      DataSet first = it.next();
      String thread = it.prefetchThreadName();
      assertThat(thread).startsWith("sluice-dl4j-prefetch-");
      assertThat(threadAlive(thread)).isTrue();
      it.close();
      assertThat(threadAlive(thread)).isFalse();
      assertThat(s.allocator().getAllocatedMemory()).isZero();
      assertThat(it.hasNext()).isFalse();
      // handed-out arrays are copies: still readable after the batch and the iterator are gone
      assertThat(first.getFeatures().shape()).containsExactly(50, 2);
      assertThat(first.getLabels().sumNumber().intValue()).isEqualTo(50);
    }
  }

  @Test
  void upstreamFailureIsThrownFromNextNeverAHang() {
    try (Sluice s = sluice()) {
      Dataset failing =
          points(s, 3000)
              .mapBatches(
                  (in, ctx) -> {
                    if (in.getLong("id", 0) >= 1500) {
                      throw new IllegalStateException("decoder exploded");
                    }
                    return in;
                  });
      try (SluiceDataSetIterator it = iterator(failing).build()) {
        assertThatThrownBy(
                () -> {
                  while (it.hasNext()) {
                    it.next();
                  }
                })
            .isInstanceOf(SluiceException.class)
            .hasStackTraceContaining("decoder exploded");
        // sticky until reset: a second call fails the same way instead of ending the epoch quietly
        assertThatThrownBy(it::hasNext).isInstanceOf(SluiceException.class);
        assertThatThrownBy(() -> mlp().fit(it)).isInstanceOf(SluiceException.class);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void badClassIndexFailsNamingRowAndValue() {
    try (Sluice s = sluice();
        SluiceDataSetIterator it =
            SluiceDataSetIterator.builder(
                    points(s, 500), FeatureColumn.of("x"), LabelColumn.oneHot("id", 10))
                .build()) {
      assertThatThrownBy(
              () -> {
                while (it.hasNext()) {
                  it.next();
                }
              })
          .isInstanceOf(SluiceException.class)
          .hasMessageMatching("(?s).*class index \\d+ out of range \\[0, 10\\).*row.*");
    }
  }

  private static List<Float> epochOrder(SluiceDataSetIterator it) {
    List<Float> out = new ArrayList<>();
    while (it.hasNext()) {
      INDArray f = it.next().getFeatures();
      for (int r = 0; r < f.size(0); r++) {
        out.add(f.getFloat(r, 0));
      }
    }
    return out;
  }

  @Test
  void sameSeedSameOrderEveryRun() {
    try (Sluice s = sluice()) {
      Dataset ds = points(s, 1000).withOptions(s.defaultOptions().withPreserveOrder(true));
      List<List<Float>> runA = new ArrayList<>();
      List<List<Float>> runB = new ArrayList<>();
      for (List<List<Float>> run : List.of(runA, runB)) {
        try (SluiceDataSetIterator it = iterator(ds).localShuffle(300, 11).build()) {
          run.add(epochOrder(it));
          it.reset();
          run.add(epochOrder(it));
        }
      }
      assertThat(runA).isEqualTo(runB);
      assertThat(runA.get(0)).hasSize(1000).isNotEqualTo(runA.get(1));
      assertThat(new java.util.HashSet<>(runA.get(0)))
          .isEqualTo(new java.util.HashSet<>(runA.get(1)));
      try (SluiceDataSetIterator it = iterator(ds).build()) {
        List<Float> e0 = epochOrder(it);
        it.reset();
        assertThat(epochOrder(it)).isEqualTo(e0);
      }
    }
  }

  /** The ids of a batch, with its first feature, as the source made them. */
  private static List<String> contents(DataSet d) {
    List<String> out = new ArrayList<>();
    for (int r = 0; r < d.getFeatures().size(0); r++) {
      out.add(
          d.getFeatures().getFloat(r, 0)
              + "/"
              + d.getFeatures().getFloat(r, 1)
              + "/"
              + d.getLabels().getFloat(r, 1));
    }
    return out;
  }

  /** The contents of every batch left in the epoch. */
  private static List<List<String>> drain(SluiceDataSetIterator it) {
    List<List<String>> out = new ArrayList<>();
    while (it.hasNext()) {
      out.add(contents(it.next()));
    }
    return out;
  }

  @Test
  void reusedArraysDeliverTheSameDataAndStayValidForTheirCalls() {
    try (Sluice s = sluice()) {
      Dataset ds = points(s, 2000).withOptions(s.defaultOptions().withPreserveOrder(true));
      List<List<String>> fresh;
      try (SluiceDataSetIterator it = iterator(ds).build()) {
        fresh = drain(it);
        assertThat(it.stats().arraysReused()).isZero();
        assertThat(it.stats().arraysAllocated()).isEqualTo(2 * 40);
      }
      int keep = 3;
      try (SluiceDataSetIterator it = iterator(ds).prefetch(2).reuseArrays(keep).build()) {
        for (int epoch = 0; epoch < 2; epoch++) {
          java.util.ArrayDeque<DataSet> recent = new java.util.ArrayDeque<>();
          int i = 0;
          while (it.hasNext()) {
            DataSet d = it.next();
            recent.add(d);
            if (recent.size() > keep) {
              recent.poll();
            }
            // the last `keep` batches handed out are all still intact
            int j = i - recent.size() + 1;
            for (DataSet r : recent) {
              assertThat(contents(r))
                  .as("batch %d of epoch %d, checked at batch %d", j, epoch, i)
                  .isEqualTo(fresh.get(j));
              j++;
            }
            i++;
          }
          assertThat(i).isEqualTo(40);
          it.reset();
        }
        PrefetchStats stats = it.stats();
        assertThat(stats.arraysReused()).isGreaterThan(stats.arraysAllocated());
        // queued (2) + converting (1) + look-ahead (1) + handed out (keep), features and labels
        // each
        assertThat(stats.arraysAllocated()).isLessThanOrEqualTo(2L * (2 + 1 + 1 + keep + 1));
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void featuresNeedingNoConversionAreSharedNotCopiedAndOutliveTheirEpochForTheirCalls() {
    try (Sluice s = sluice()) {
      Dataset ds = points(s, 2000).withOptions(s.defaultOptions().withPreserveOrder(true));
      List<List<String>> fresh;
      try (SluiceDataSetIterator it = iterator(ds).build()) {
        fresh = drain(it);
        assertThat(it.stats().batchesShared())
            .isZero(); // fresh arrays are the consumer's: always copies
      }
      int keep = 2;
      // without asking, recycled arrays: a copy of every batch
      try (SluiceDataSetIterator copying = iterator(ds).prefetch(2).reuseArrays(keep).build()) {
        int i = 0;
        while (copying.hasNext()) {
          assertThat(contents(copying.next())).isEqualTo(fresh.get(i++));
        }
        assertThat(copying.stats().batchesShared()).isZero();
      }
      assertThatThrownBy(() -> iterator(ds).shareBatchMemory(true).build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("reuseArrays");
      SluiceDataSetIterator it =
          iterator(ds).prefetch(2).reuseArrays(keep).shareBatchMemory(true).build();
      try {
        List<DataSet> all = new ArrayList<>();
        while (it.hasNext()) {
          all.add(it.next());
        }
        assertThat(all).hasSize(40);
        // the epoch is over, yet the last `keep` batches are still intact (they hold Arrow
        // memory)...
        for (int j = 40 - keep; j < 40; j++) {
          assertThat(contents(all.get(j)))
              .as("batch %d after the epoch", j)
              .isEqualTo(fresh.get(j));
        }
        assertThat(s.allocator().getAllocatedMemory()).isPositive();
        // ...and after reset(), until `keep` calls of the next epoch's next()
        it.reset();
        DataSet first = it.next();
        assertThat(contents(all.get(39))).isEqualTo(fresh.get(39));
        assertThat(contents(first)).isEqualTo(fresh.get(0));
        PrefetchStats stats = it.stats();
        assertThat(stats.batchesShared()).as(stats.toString()).isGreaterThanOrEqualTo(41);
        // only the labels were allocated: the features are views of the batches, not copies
        assertThat(stats.arraysAllocated() + stats.arraysReused())
            .as(stats.toString())
            .isLessThan(2 * stats.batchesShared());
        assertThat(stats.arraysAllocated())
            .as(stats.toString())
            .isLessThanOrEqualTo(2 + 1 + 1 + keep + 1);
        // and DL4J trains on the shared batches
        it.reset();
        MultiLayerNetwork net = mlp();
        net.fit(it, 2);
        assertThat(net.evaluate(it).accuracy()).isGreaterThan(0.95);
      } finally {
        it.close();
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @RepeatedTest(60)
  void closeRightAfterTheFirstBatchLeavesNoTaskRunning() {
    // The prefetch thread is interrupted to stop it and closes the execution on its way out. That
    // close used to give up waiting when the interrupt landed inside it: tasks still running then
    // allocated after close() had returned (a few KiB held afterwards, or a leak at
    // Sluice.close()).
    try (Sluice s = sluice()) {
      SluiceDataSetIterator it = iterator(points(s, 5000)).prefetch(3).build();
      it.next();
      it.close();
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void closingTheContextClosesAnIteratorLeftOpen() {
    Sluice s = sluice();
    SluiceDataSetIterator it =
        iterator(points(s, 5000)).prefetch(3).reuseArrays(1).shareBatchMemory(true).build();
    it.next();
    String thread = it.prefetchThreadName();
    assertThat(threadAlive(thread)).isTrue();
    s.close(); // would fail on the iterator's Arrow memory (running execution, held batches) if
    // it stayed open
    assertThat(threadAlive(thread)).isFalse();
    assertThat(it.hasNext()).isFalse();
    it.close(); // closing it again does nothing
    s.close(); // nor does closing the context twice

    // Between epochs, shared batches still handed out (valid for their calls) are the context's to
    // free when the iterator is left open, as DL4J leaves iterators.
    Sluice s2 = sluice();
    SluiceDataSetIterator drained =
        iterator(points(s2, 500)).reuseArrays(2).shareBatchMemory(true).build();
    while (drained.hasNext()) {
      drained.next();
    }
    assertThat(drained.stats().batchesShared()).isEqualTo(10);
    assertThat(s2.allocator().getAllocatedMemory()).isPositive();
    s2.close(); // fails on outstanding Arrow memory unless the iterator's held batches were freed
    // first
  }

  @Test
  void reusedArraysTrainAModelAndNextOfAnyCountStaysFresh() {
    try (Sluice s = sluice()) {
      try (SluiceDataSetIterator it = iterator(points(s, 2000)).reuseArrays(1).build()) {
        MultiLayerNetwork net = mlp();
        net.fit(it, 2);
        Evaluation eval = net.evaluate(it);
        assertThat(eval.accuracy()).isGreaterThan(0.95);
        assertThat(eval.getNumRowCounter()).isEqualTo(2000);
        it.reset();
        DataSet cut = it.next(65); // joined from two batches: a fresh array of its own
        List<String> before = contents(cut);
        while (it.hasNext()) {
          it.next();
        }
        assertThat(contents(cut)).isEqualTo(before);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  @Test
  void nextWithAnyCountCutsAndJoinsBatches() {
    try (Sluice s = sluice();
        SluiceDataSetIterator it =
            iterator(points(s, 1000).withOptions(s.defaultOptions().withPreserveOrder(true)))
                .batchSize(40)
                .build()) {
      List<Long> sizes = new ArrayList<>();
      List<Float> seen = new ArrayList<>();
      while (it.hasNext()) {
        DataSet d = it.next(65);
        sizes.add(d.getFeatures().size(0));
        assertThat(d.getLabels().size(0)).isEqualTo(d.getFeatures().size(0));
        for (int r = 0; r < d.getFeatures().size(0); r++) {
          seen.add(d.getFeatures().getFloat(r, 0));
        }
      }
      assertThat(sizes.subList(0, sizes.size() - 1)).allMatch(n -> n == 65);
      assertThat(sizes.stream().mapToLong(Long::longValue).sum()).isEqualTo(1000);
      it.reset();
      assertThat(epochOrder(it)).isEqualTo(seen);
    }
  }

  @Test
  void normalizersWorkOverTheIterator() {
    try (Sluice s = sluice();
        SluiceDataSetIterator it = iterator(points(s, 1000)).build()) {
      NormalizerStandardize norm = new NormalizerStandardize();
      norm.fit(it);
      it.setPreProcessor(norm);
      assertThat(it.getPreProcessor()).isSameAs(norm);
      it.reset();
      List<DataSet> all = new ArrayList<>();
      while (it.hasNext()) {
        all.add(it.next());
      }
      INDArray f = DataSet.merge(all).getFeatures();
      assertThat(f.mean(0).getDouble(0)).isCloseTo(0, org.assertj.core.data.Offset.offset(1e-3));
      assertThat(f.std(0).getDouble(1)).isCloseTo(1, org.assertj.core.data.Offset.offset(1e-2));
    }
  }

  @Test
  void imageScalerAndNchwOverUint8Images() {
    Schema images =
        new Schema(List.of(Columns.tensor("img", ElementType.UINT8, 4, 4, 3), Columns.int32("y")));
    BatchFunction toImages =
        (in, ctx) -> {
          int n = in.rowCount();
          try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), images, n)) {
            for (int i = 0; i < n; i++) {
              long id = in.getLong("id", i);
              for (int k = 0; k < 48; k++) {
                b.tensorData("img").setByte(48L * i + k, (byte) ((id + k * 5) % 256));
              }
              b.setLong("y", i, id % 3);
            }
            return b.build(n);
          }
        };
    try (Sluice s = sluice();
        SluiceDataSetIterator it =
            SluiceDataSetIterator.builder(
                    s.range(300, 2).mapBatches(toImages),
                    FeatureColumn.of("img").withLayout(Layout.NCHW),
                    LabelColumn.oneHot("y", 3).withClassNames(List.of("a", "b", "c")))
                .batchSize(32)
                .build()) {
      it.setPreProcessor(new ImagePreProcessingScaler(0, 1));
      assertThat(it.getLabels()).containsExactly("a", "b", "c");
      assertThat(it.inputColumns()).isEqualTo(48);
      int rows = 0;
      while (it.hasNext()) {
        DataSet d = it.next();
        assertThat(d.getFeatures().shape()).containsExactly(d.getFeatures().size(0), 3, 4, 4);
        assertThat(d.getFeatures().maxNumber().doubleValue()).isLessThanOrEqualTo(1.0);
        assertThat(d.getFeatures().minNumber().doubleValue()).isGreaterThanOrEqualTo(0.0);
        rows += (int) d.getFeatures().size(0);
      }
      assertThat(rows).isEqualTo(300);
    }
  }

  @Test
  void earlyStoppingTrainerRunsTwoEpochs() {
    try (Sluice s = sluice();
        SluiceDataSetIterator train = iterator(points(s, 1000)).build();
        SluiceDataSetIterator test = iterator(points(s, 200)).build()) {
      EarlyStoppingConfiguration<MultiLayerNetwork> conf =
          new EarlyStoppingConfiguration.Builder<MultiLayerNetwork>()
              .epochTerminationConditions(new MaxEpochsTerminationCondition(2))
              .scoreCalculator(new DataSetLossCalculator(test, true))
              .modelSaver(new InMemoryModelSaver<>())
              .build();
      EarlyStoppingResult<MultiLayerNetwork> result =
          new EarlyStoppingTrainer(conf, mlp(), train).fit();
      assertThat(result.getTotalEpochs()).isEqualTo(2);
      assertThat(result.getBestModel()).isNotNull();
      assertThat(result.getTerminationReason())
          .isEqualTo(EarlyStoppingResult.TerminationReason.EpochTerminationCondition);
    }
  }

  @Test
  void computationGraphFitsFromMultiDataSetIterator() {
    try (Sluice s = sluice()) {
      try (SluiceMultiDataSetIterator it =
          SluiceMultiDataSetIterator.builder(
                  points(s, 2000),
                  List.of(FeatureColumn.of("x"), FeatureColumn.of("z")),
                  List.of(LabelColumn.oneHot("y", 2)))
              .batchSize(50)
              .build()) {
        ComputationGraph graph = graph();
        graph.fit(it, 2);
        assertThat(it.epoch()).isEqualTo(1);
        Evaluation eval = graph.evaluate(it);
        assertThat(eval.accuracy()).isGreaterThan(0.95);
        it.reset();
        MultiDataSet m = it.next(70);
        assertThat(m.getFeatures()).hasSize(2);
        assertThat(m.getFeatures(1).shape()).containsExactly(70, 1);
        assertThat(m.getLabels(0).shape()).containsExactly(70, 2);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }

  private static List<String> contents(MultiDataSet d) {
    List<String> out = new ArrayList<>();
    for (int r = 0; r < d.getFeatures(0).size(0); r++) {
      out.add(
          d.getFeatures(0).getFloat(r, 0)
              + "/"
              + d.getFeatures(0).getFloat(r, 1)
              + "/"
              + d.getFeatures(1).getFloat(r, 0)
              + "/"
              + d.getLabels(0).getFloat(r, 1));
    }
    return out;
  }

  @Test
  void computationGraphTrainsOnSharedBatches() {
    try (Sluice s = sluice()) {
      Dataset ds = points(s, 2000).withOptions(s.defaultOptions().withPreserveOrder(true));
      List<FeatureColumn> features = List.of(FeatureColumn.of("x"), FeatureColumn.of("z"));
      List<LabelColumn> labels = List.of(LabelColumn.oneHot("y", 2));
      List<List<String>> copies = new ArrayList<>();
      try (SluiceMultiDataSetIterator it =
          SluiceMultiDataSetIterator.builder(ds, features, labels)
              .batchSize(50)
              .shuffle(false)
              .build()) {
        while (it.hasNext()) {
          copies.add(contents(it.next()));
        }
      }
      try (SluiceMultiDataSetIterator it =
          SluiceMultiDataSetIterator.builder(ds, features, labels)
              .batchSize(50)
              .shuffle(false)
              .reuseArrays(1)
              .shareBatchMemory(true)
              .build()) {
        int i = 0;
        while (it.hasNext()) {
          assertThat(contents(it.next())).as("batch %d", i).isEqualTo(copies.get(i++));
        }
        assertThat(i).isEqualTo(40);
        assertThat(it.stats().batchesShared()).isEqualTo(40);
        it.reset();
        ComputationGraph graph = graph();
        graph.fit(it, 2);
        assertThat(graph.evaluate(it).accuracy()).isGreaterThan(0.95);
      }
      assertThat(s.allocator().getAllocatedMemory()).isZero();
    }
  }
}
