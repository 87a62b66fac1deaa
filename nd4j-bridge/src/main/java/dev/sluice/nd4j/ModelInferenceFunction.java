package dev.sluice.nd4j;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import dev.sluice.nd4j.internal.NativeMemory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.apache.arrow.vector.BitVectorHelper;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A stateful {@code mapBatches} function that runs a saved DL4J model (a {@link MultiLayerNetwork}
 * or a single-input, single-output {@link ComputationGraph}, as written by {@code
 * ModelSerializer}/{@code save}) over a features column and writes its output as a float32 tensor
 * column. Meant for an actor pool, so that each actor loads the model once:
 *
 * <pre>{@code
 * ds.mapBatches(() -> new ModelInferenceFunction(path, FeatureColumn.of("image").withScale(1 / 255.0),
 *         "prediction", List.of(Batch.KEY_COLUMN)),
 *     ActorPool.of(1, 1), MapOptions.DEFAULT.withGpus(1));
 * }</pre>
 *
 * <p>The output batch holds the columns in {@code keepColumns} (copied) followed by the prediction
 * column of per-row shape {@code output.shape()[1:]}. The input features are read through a
 * zero-copy view where {@link ArrowToNd4j#isZeroCopy} allows (safe here: the view is used only
 * during the call). One instance is not thread-safe (an actor calls it from one thread); {@link
 * #close()} releases nothing beyond the model's ND4J memory, which the garbage collector owns.
 */
public final class ModelInferenceFunction implements BatchFunction, AutoCloseable {
  private final MultiLayerNetwork network;
  private final ComputationGraph graph;
  private final FeatureColumn input;
  private final String outputColumn;
  private final List<String> keepColumns;

  /**
   * Loads the model (once, here).
   *
   * @param modelFile a model saved by DL4J
   * @param input the features column and how it is converted
   * @param outputColumn the name of the prediction column
   * @param keepColumns input columns copied into the output, in order
   * @throws UncheckedIOException when the file cannot be read as a DL4J model
   */
  public ModelInferenceFunction(
      Path modelFile, FeatureColumn input, String outputColumn, List<String> keepColumns) {
    this.input = Objects.requireNonNull(input, "input");
    this.outputColumn = Objects.requireNonNull(outputColumn, "outputColumn");
    this.keepColumns = List.copyOf(keepColumns);
    try {
      if (isComputationGraph(modelFile)) {
        this.graph = ComputationGraph.load(modelFile.toFile(), false);
        this.network = null;
      } else {
        this.network = MultiLayerNetwork.load(modelFile.toFile(), false);
        this.graph = null;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot load DL4J model " + modelFile, e);
    }
  }

  // A saved graph's configuration lists vertices; a network's lists layer confs.
  private static boolean isComputationGraph(Path file) throws IOException {
    try (ZipFile zip = new ZipFile(file.toFile())) {
      ZipEntry conf = zip.getEntry("configuration.json");
      if (conf == null) {
        throw new IOException("not a DL4J model (no configuration.json): " + file);
      }
      try (InputStream in = zip.getInputStream(conf)) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8).contains("\"vertices\"");
      }
    }
  }

  @Override
  public Batch apply(Batch batch, BatchContext context) {
    INDArray x = ArrowToNd4j.convert(batch, input);
    INDArray y = network != null ? network.output(x, false) : graph.outputSingle(false, x);
    INDArray out = y.castTo(DataType.FLOAT).dup('c');
    int rows = batch.rowCount();
    int[] rowShape = Arrays.stream(out.shape()).skip(1).mapToInt(Math::toIntExact).toArray();
    TensorSpec spec = TensorSpec.of(ElementType.FLOAT32, rowShape);
    List<Field> fields = new ArrayList<>();
    for (String c : keepColumns) {
      fields.add(batch.vector(c).getField());
    }
    fields.add(spec.toField(outputColumn));
    VectorSchemaRoot root = VectorSchemaRoot.create(new Schema(fields), context.allocator());
    try {
      for (int i = 0; i < keepColumns.size(); i++) {
        FieldVector from = batch.vector(keepColumns.get(i));
        FieldVector to = root.getVector(i);
        to.setInitialCapacity(Math.max(rows, 1));
        to.allocateNew();
        for (int r = 0; r < rows; r++) {
          to.copyFromSafe(r, r, from);
        }
        to.setValueCount(rows);
      }
      FixedSizeBinaryVector pred = (FixedSizeBinaryVector) root.getVector(keepColumns.size());
      pred.allocateNew(Math.max(rows, 1));
      for (int r = 0; r < rows; r++) {
        BitVectorHelper.setBit(pred.getValidityBuffer(), r);
      }
      NativeMemory.copy(
          out.data().addressPointer().address() + out.offset() * 4,
          pred.getDataBuffer().memoryAddress(),
          (long) rows * spec.rowBytes());
      pred.setValueCount(rows);
      root.setRowCount(rows);
      return new Batch(root, batch.sources());
    } catch (RuntimeException e) {
      root.close();
      throw e;
    } finally {
      out.close();
    }
  }

  /** The loaded network, or null when the model is a graph. */
  public MultiLayerNetwork network() {
    return network;
  }

  /** The loaded graph, or null when the model is a network. */
  public ComputationGraph graph() {
    return graph;
  }

  @Override
  public void close() {
    // The model's arrays are ND4J's, released with the model; nothing else is held between calls.
  }
}
