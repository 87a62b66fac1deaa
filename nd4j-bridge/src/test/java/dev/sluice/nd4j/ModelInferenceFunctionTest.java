package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.IterOptions;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.TensorSpec;
import dev.sluice.loader.runtime.Resources;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ModelInferenceFunctionTest {

  @Test
  void savedNetworkPredictsInAnActorPool(@TempDir Path dir) throws Exception {
    Path model = dir.resolve("mlp.zip");
    try (Sluice s =
        Sluice.builder()
            .resources(Resources.cpus(2))
            .options(
                ExecutionOptions.defaults()
                    .withMemoryBudget(32L << 20)
                    .withTargetBlockRows(100)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build()) {
      Dataset points = s.range(1000, 4).mapBatches(SluiceDataSetIteratorTest.points());
      MultiLayerNetwork net =
          new MultiLayerNetwork(
              new NeuralNetConfiguration.Builder()
                  .seed(5)
                  .updater(new Adam(0.05))
                  .list()
                  .layer(
                      new DenseLayer.Builder().nIn(2).nOut(8).activation(Activation.RELU).build())
                  .layer(
                      new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                          .nIn(8)
                          .nOut(2)
                          .activation(Activation.SOFTMAX)
                          .build())
                  .build());
      net.init();
      try (SluiceDataSetIterator it =
          SluiceDataSetIterator.builder(points, FeatureColumn.of("x"), LabelColumn.oneHot("y", 2))
              .batchSize(50)
              .build()) {
        net.fit(it, 2);
      }
      net.save(model.toFile());

      Dataset predicted =
          points.mapBatches(
              () -> new ModelInferenceFunction(model, FeatureColumn.of("x"), "p", List.of("y")),
              ActorPool.of(1, 1),
              MapOptions.DEFAULT.withName("Infer"));
      int rows = 0;
      int correct = 0;
      try (BatchIterator it = predicted.iterBatches(IterOptions.blocks())) {
        while (it.hasNext()) {
          try (Batch b = it.next()) {
            assertThat(b.columnNames()).containsExactly("y", "p");
            assertThat(b.tensorSpec("p"))
                .isEqualTo(TensorSpec.of(dev.sluice.loader.ElementType.FLOAT32, 2));
            var p = ArrowToNd4j.view(b, "p");
            for (int r = 0; r < b.rowCount(); r++) {
              assertThat(p.getFloat(r, 0) + p.getFloat(r, 1))
                  .isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-4f));
              int cls = p.getFloat(r, 1) > p.getFloat(r, 0) ? 1 : 0;
              correct += cls == b.getInt("y", r) ? 1 : 0;
            }
            rows += b.rowCount();
          }
        }
      }
      assertThat(rows).isEqualTo(1000);
      assertThat(correct).isGreaterThan(950);
    }
  }
}
