package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.RangeSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The iterators shuffle by default, another order each epoch; with a seed and {@code deterministic}
 * every epoch is the same from run to run, whatever the loader's cores and thread timing, and so is
 * the model trained on it, bit for bit.
 */
class ReproducibleTrainingTest {
  private static final Schema POINTS =
      new Schema(List.of(Columns.tensor("x", ElementType.FLOAT32, 2), Columns.int32("y")));

  /** Keeps the JIT from dropping the busy work below. */
  static volatile long sink;

  /**
   * Two noisy classes (id % 2) in two dimensions; each block also does an amount of busy work that
   * depends on its first id, so that blocks of a parallel run finish out of order.
   */
  private static BatchFunction points() {
    return (in, ctx) -> {
      int n = in.rowCount();
      long spin = (in.getLong(RangeSource.COLUMN, 0) * 0x9E3779B97F4A7C15L >>> 56) * 4_000L;
      long acc = 0;
      for (long i = 0; i < spin; i++) {
        acc += i ^ (acc >>> 3);
      }
      sink = acc;
      try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), POINTS, n)) {
        ArrowBuf x = b.tensorData("x");
        for (int i = 0; i < n; i++) {
          long id = in.getLong(RangeSource.COLUMN, i);
          int cls = (int) (id % 2);
          long h = id * 0xBF58476D1CE4E5B9L;
          float dx = ((h >>> 40) & 0xffff) / 65536f - 0.5f;
          float dy = ((h >>> 20) & 0xffff) / 65536f - 0.5f;
          x.setFloat(8L * i, (cls == 1 ? 0.6f : -0.6f) + dx);
          x.setFloat(8L * i + 4, (cls == 1 ? 0.6f : -0.6f) + dy);
          b.setLong("y", i, cls);
        }
        return b.build(n);
      }
    };
  }

  private static Sluice sluice(int cpus) {
    return Sluice.builder()
        .resources(Resources.cpus(cpus))
        .options(
            ExecutionOptions.defaults()
                .withTargetBlockRows(25)
                .withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  /** 2,000 points in 40 splits, so that two split orders coincide with probability 1 / 40!. */
  private static Dataset points(Sluice s) {
    return s.range(2_000, 40).mapBatches(points());
  }

  /** The first feature of every example of one epoch, in order (it identifies the example). */
  private static List<Float> epoch(SluiceDataSetIterator it) {
    List<Float> out = new ArrayList<>();
    while (it.hasNext()) {
      INDArray f = it.next().getFeatures();
      for (int r = 0; r < f.size(0); r++) {
        out.add(f.getFloat(r, 0));
      }
    }
    return out;
  }

  private static SluiceDataSetIterator.Builder builder(Dataset ds) {
    return SluiceDataSetIterator.builder(ds, FeatureColumn.of("x"), LabelColumn.oneHot("y", 2))
        .batchSize(32);
  }

  @Test
  void iteratorsShuffleByDefaultAnotherOrderEachEpochAndNotWhenAskedNot() {
    try (Sluice s = sluice(2)) {
      Dataset ds = points(s).withOptions(s.defaultOptions().withPreserveOrder(true));
      List<Float> inOrder;
      try (SluiceDataSetIterator it = builder(ds).shuffle(false).build()) {
        inOrder = epoch(it);
        it.reset();
        assertThat(epoch(it)).isEqualTo(inOrder);
      }
      try (SluiceDataSetIterator it = builder(ds).build()) {
        List<Float> e0 = epoch(it);
        it.reset();
        List<Float> e1 = epoch(it);
        assertThat(e0).hasSize(2_000).isNotEqualTo(inOrder).isNotEqualTo(e1);
        assertThat(new HashSet<>(e0))
            .isEqualTo(new HashSet<>(inOrder))
            .isEqualTo(new HashSet<>(e1));
      }
      // Without a seed, two iterators draw their own orders.
      try (SluiceDataSetIterator a = builder(ds).build();
          SluiceDataSetIterator b = builder(ds).build()) {
        assertThat(epoch(a)).isNotEqualTo(epoch(b));
      }
    }
  }

  /**
   * Every epoch's order from a deterministic iterator with the given seed, on a loader of {@code
   * cpus}.
   */
  private static List<List<Float>> deterministicEpochs(int cpus, long seed) {
    try (Sluice s = sluice(cpus);
        SluiceDataSetIterator it =
            builder(points(s)).seed(seed).localShuffle(300, seed).deterministic(true).build()) {
      List<List<Float>> epochs = new ArrayList<>();
      for (int e = 0; e < 2; e++) {
        if (e > 0) {
          it.reset();
        }
        epochs.add(epoch(it));
      }
      return epochs;
    }
  }

  @Test
  void deterministicIteratorsRepeatEveryEpochWhateverTheLoadersCores() {
    List<List<Float>> oneCore = deterministicEpochs(1, 5);
    assertThat(oneCore.get(0)).hasSize(2_000).isNotEqualTo(oneCore.get(1));
    assertThat(deterministicEpochs(2, 5)).isEqualTo(oneCore);
    assertThat(deterministicEpochs(4, 5)).isEqualTo(oneCore);
    assertThat(deterministicEpochs(2, 6).get(0)).isNotEqualTo(oneCore.get(0));
  }

  /** The parameters, bit for bit, after two epochs of training on a loader of {@code cpus}. */
  private static float[] train(int cpus, long seed) {
    MultiLayerConfiguration conf =
        new NeuralNetConfiguration.Builder()
            .seed(7)
            .updater(new Sgd(0.1))
            .list()
            .layer(new DenseLayer.Builder().nIn(2).nOut(8).activation(Activation.TANH).build())
            .layer(
                new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                    .nIn(8)
                    .nOut(2)
                    .activation(Activation.SOFTMAX)
                    .build())
            .build();
    MultiLayerNetwork net = new MultiLayerNetwork(conf);
    net.init();
    try (Sluice s = sluice(cpus);
        SluiceDataSetIterator it =
            builder(points(s)).seed(seed).localShuffle(300, seed).deterministic(true).build()) {
      net.fit(it, 2);
    }
    return net.params().dup().data().asFloat();
  }

  @Test
  void theSameSeedTrainsTheSameModelBitForBitOnOneCoreAndOnTwo() {
    float[] oneCore = train(1, 11);
    assertThat(train(2, 11)).isEqualTo(oneCore);
    assertThat(train(2, 11)).isEqualTo(oneCore);
    assertThat(train(2, 12)).isNotEqualTo(oneCore);
  }

  @Test
  void aShareKeepsTheOrderItsAssignmentGives() {
    try (Sluice s = sluice(2)) {
      Dataset share =
          s.readShare(
              new RangeSource(200, 4),
              dev.sluice.sharding.StaticAssigner.balanced(1)
                  .assign(
                      dev.sluice.sharding.EpochPlan.create(
                          new RangeSource(200, 4).planSplits(), 3, 0, false)),
              0);
      assertThat(share.readsShuffleable()).isFalse();
      List<Long> ids = new ArrayList<>();
      try (SluiceDataSetIterator it =
          SluiceDataSetIterator.builder(share, FeatureColumn.of(RangeSource.COLUMN), null)
              .batchSize(50)
              .build()) {
        while (it.hasNext()) {
          INDArray f = it.next().getFeatures();
          for (int r = 0; r < f.size(0); r++) {
            ids.add(f.getLong(r, 0));
          }
        }
      }
      assertThat(ids).isEqualTo(java.util.stream.LongStream.range(0, 200).boxed().toList());
    }
  }
}
