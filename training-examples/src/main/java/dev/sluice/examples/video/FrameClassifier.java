package dev.sluice.examples.video;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.TensorSpec;
import dev.sluice.nd4j.FeatureColumn;
import dev.sluice.nd4j.Layout;
import dev.sluice.nd4j.ModelInferenceFunction;
import dev.sluice.nd4j.VideoSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.types.pojo.Schema;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The "classify" step of the video pipeline, a stateful function for an actor pool (one model per
 * actor, on the actor's device): runs a saved DL4J model over the frames through {@link
 * ModelInferenceFunction} (frames scaled to 0..1, channels first) and replaces the frame and the
 * class scores by the top class and its probability, so that what is written is small. One instance
 * per actor, called by one thread; {@link #close()} releases the model.
 */
public final class FrameClassifier implements BatchFunction, AutoCloseable {
  /** The top class column. */
  public static final String LABEL = "label";

  /** The top class's probability column. */
  public static final String CONFIDENCE = "confidence";

  private static final String SCORES = "scores";
  private static final Schema ADDED =
      new Schema(List.of(Columns.int32(LABEL), Columns.float64(CONFIDENCE)));

  private final ModelInferenceFunction model;

  /**
   * Loads the model.
   *
   * @param modelFile a model saved by DL4J that takes {@code [n, 3, h, w]} frames
   * @param keepColumns the columns carried from input to output (besides the label)
   */
  public FrameClassifier(Path modelFile, List<String> keepColumns) {
    this.model =
        new ModelInferenceFunction(
            modelFile,
            FeatureColumn.of(VideoSource.FRAME_COLUMN).withScale(1 / 255.0).withLayout(Layout.NCHW),
            SCORES,
            keepColumns);
  }

  @Override
  public Batch apply(Batch in, BatchContext ctx) {
    try (Batch scored = model.apply(in, ctx)) {
      int rows = scored.rowCount();
      TensorSpec spec = scored.tensorSpec(SCORES);
      int classes = spec.elementCount();
      ArrowBuf scores = scored.tensorData(SCORES);
      try (BatchBuilder b = BatchBuilder.create(ctx.allocator(), ADDED, rows)) {
        for (int r = 0; r < rows; r++) {
          int best = 0;
          float bestScore = Float.NEGATIVE_INFINITY;
          for (int c = 0; c < classes; c++) {
            float s = scores.getFloat(((long) r * classes + c) * Float.BYTES);
            if (s > bestScore) {
              bestScore = s;
              best = c;
            }
          }
          b.setLong(LABEL, r, best);
          b.setDouble(CONFIDENCE, r, bestScore);
        }
        try (Batch added = b.build(rows)) {
          return scored.withColumnsOf(ctx.allocator(), List.of(SCORES), added);
        }
      }
    }
  }

  @Override
  public void close() {
    model.close();
  }

  /**
   * Writes a small convolutional classifier of {@code size x size} RGB frames into {@code classes}
   * classes, its weights initialised from {@code seed} and not trained: it stands for the post's
   * model (the labels it gives mean nothing; what it costs per frame is real).
   */
  public static Path writeModel(Path file, int size, int classes, long seed) throws IOException {
    MultiLayerConfiguration conf =
        new NeuralNetConfiguration.Builder()
            .seed(seed)
            .weightInit(WeightInit.XAVIER)
            .list(
                new ConvolutionLayer.Builder(5, 5)
                    .stride(2, 2)
                    .nOut(8)
                    .activation(Activation.RELU)
                    .build(),
                new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                    .kernelSize(2, 2)
                    .stride(2, 2)
                    .build(),
                new DenseLayer.Builder().nOut(32).activation(Activation.RELU).build(),
                new OutputLayer.Builder(LossFunctions.LossFunction.NEGATIVELOGLIKELIHOOD)
                    .nOut(classes)
                    .activation(Activation.SOFTMAX)
                    .build())
            .setInputType(InputType.convolutional(size, size, 3))
            .build();
    MultiLayerNetwork net = new MultiLayerNetwork(conf);
    net.init();
    java.nio.file.Files.createDirectories(file.toAbsolutePath().getParent());
    net.save(file.toFile(), false);
    return file;
  }
}
