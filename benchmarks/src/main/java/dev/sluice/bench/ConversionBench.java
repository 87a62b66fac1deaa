package dev.sluice.bench;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.nd4j.ArrowToNd4j;
import dev.sluice.nd4j.FeatureColumn;
import dev.sluice.nd4j.Layout;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * JMH: the cost of turning one Arrow batch of images (32 x 224 x 224 x 3) into an ND4J array, per
 * path of {@link ArrowToNd4j}: a zero-copy view of uint8 pixels, a same-type copy (one memcpy),
 * uint8 to float scaled by 1/255 as stored (NHWC), and the same transposed to NCHW (what a CNN
 * takes). Run through {@code SluiceBench conversion-jmh}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class ConversionBench {
  static final int ROWS = 32;
  static final int SIZE = 224;

  private RootAllocator allocator;
  private Batch uint8;
  private Batch float32;

  @Setup(Level.Trial)
  public void setUp() {
    allocator = new RootAllocator();
    uint8 = images(ElementType.UINT8);
    float32 = images(ElementType.FLOAT32);
  }

  private Batch images(ElementType type) {
    Schema schema = new Schema(List.of(Columns.tensor("x", type, SIZE, SIZE, 3)));
    try (BatchBuilder b = BatchBuilder.create(allocator, schema, ROWS)) {
      ArrowBuf data = b.tensorData("x");
      long n = (long) ROWS * SIZE * SIZE * 3;
      for (long i = 0; i < n; i++) {
        if (type == ElementType.UINT8) {
          data.setByte(i, (int) (i * 31));
        } else {
          data.setFloat(4 * i, (i % 255) / 255f);
        }
      }
      return b.build(ROWS);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    uint8.close();
    float32.close();
    allocator.close();
  }

  /** A view of the uint8 pixels: no copy at all. */
  @Benchmark
  public INDArray viewUint8() {
    return ArrowToNd4j.view(uint8, "x");
  }

  /** float32 as stored into a fresh detached array: one memcpy. */
  @Benchmark
  public INDArray copyFloat32AsStored() {
    INDArray a = ArrowToNd4j.copy(float32, FeatureColumn.of("x"));
    a.close();
    return a;
  }

  /** uint8 to float / 255, NHWC as stored. */
  @Benchmark
  public INDArray uint8ToFloatNhwc() {
    INDArray a =
        ArrowToNd4j.copy(
            uint8, FeatureColumn.of("x").withDataType(DataType.FLOAT).withScale(1 / 255.0));
    a.close();
    return a;
  }

  /** uint8 to float / 255, transposed to NCHW: what the iterator does for a CNN. */
  @Benchmark
  public INDArray uint8ToFloatNchw() {
    INDArray a =
        ArrowToNd4j.copy(
            uint8,
            FeatureColumn.of("x")
                .withDataType(DataType.FLOAT)
                .withScale(1 / 255.0)
                .withLayout(Layout.NCHW));
    a.close();
    return a;
  }
}
