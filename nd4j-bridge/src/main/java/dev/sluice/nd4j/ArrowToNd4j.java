package dev.sluice.nd4j;

import dev.sluice.loader.Batch;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.SluiceException;
import dev.sluice.nd4j.internal.ArrayAllocator;
import dev.sluice.nd4j.internal.ColumnData;
import dev.sluice.nd4j.internal.NativeMemory;
import dev.sluice.nd4j.internal.TensorCopy;
import java.nio.ByteBuffer;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.concurrency.AffinityManager;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Converts columns of a Sluice {@link Batch} into ND4J arrays of shape {@code [rows, shape...]}.
 *
 * <p>A column is a tensor column ({@link dev.sluice.loader.TensorSpec}: any {@link ElementType},
 * any per-row shape) or a fixed-width numeric column (signed integers of 8 to 64 bits, unsigned 8
 * bits, float32, float64), whose per-row shape is {@code [1]}.
 *
 * <p><b>Two kinds of result, two lifetimes.</b>
 *
 * <ul>
 *   <li>A <em>view</em> ({@link #view}, and {@link #convert} when {@link #isZeroCopy} holds) shares
 *       the batch's Arrow memory: no copy, but the array is valid only while the batch is open.
 *       Using it after {@link Batch#close()} reads freed memory (garbage or a crash of the JVM);
 *       writing to it writes into the batch. Never hand such an array to a model that keeps it (a
 *       {@code DataSet} queued for training): copy it first.
 *   <li>A <em>copy</em> ({@link #copy}, {@link #labels}, {@link #mask}, {@link #toDataSet}, {@link
 *       #toMultiDataSet}) is a fresh array, detached from any ND4J workspace and from Arrow memory,
 *       made in one pass (type conversion, scaling and layout together). It belongs to the caller
 *       and outlives the batch. It is tagged as resident on the host, so that ND4J's affinity
 *       manager moves it to the device on a GPU backend when it is used.
 * </ul>
 *
 * <p>Stateless and thread-safe; the batch itself is not thread-safe, so one batch must not be
 * converted from two threads at once.
 */
public final class ArrowToNd4j {
  private ArrowToNd4j() {}

  /** The ND4J data type that holds an element type exactly (uint8 is {@link DataType#UBYTE}). */
  public static DataType dataType(ElementType type) {
    return NativeMemory.dataType(type);
  }

  /**
   * A zero-copy view of a column: an array of the column's own data type (see {@link #dataType})
   * and shape {@code [rows, shape...]}, in 'c' order, over the batch's Arrow buffer.
   *
   * <p>The view must not outlive the batch (see the class comment). A batch of no rows gives an
   * empty array that shares nothing.
   *
   * @throws IllegalArgumentException when the column is missing or cannot become an array
   */
  public static INDArray view(Batch batch, String column) {
    ColumnData src = ColumnData.of(batch, column);
    DataType type = dataType(src.type());
    if (src.totalElements() == 0) {
      return Nd4j.create(type, src.batchShape());
    }
    long n = src.totalElements();
    Pointer p = NativeMemory.typed(src.data().memoryAddress(), n, src.type());
    DataBuffer buffer = Nd4j.createBuffer(p, n, type);
    return Nd4j.create(
        buffer, src.batchShape(), Nd4j.getStrides(src.batchShape(), 'c'), 0, 'c', type);
  }

  /**
   * Whether {@link #convert} returns a view for this column and spec: the column's element type is
   * the spec's data type, the scale is 1, the layout is as stored and no mask is asked.
   */
  public static boolean isZeroCopy(Batch batch, FeatureColumn spec) {
    ColumnData src = ColumnData.of(batch, spec.column());
    return dataType(src.type()) == spec.dataType()
        && spec.scale() == 1.0
        && spec.layout() == Layout.AS_STORED;
  }

  /**
   * The column as {@code spec} asks, shared where possible: a {@link #view} when {@link
   * #isZeroCopy} holds (valid only while the batch is open), else a {@link #copy}. Use it for a
   * computation that ends before the batch is closed (inference on the batch); use {@link #copy}
   * for anything kept. The spec's mask column is ignored here; see {@link #mask}.
   */
  public static INDArray convert(Batch batch, FeatureColumn spec) {
    return isZeroCopy(batch, spec) ? view(batch, spec.column()) : copy(batch, spec);
  }

  /**
   * A fresh copy of the column as {@code spec} asks: converted to {@code spec.dataType()}, scaled
   * by {@code spec.scale()}, in {@code spec.layout()} (shape {@code [rows, c, h, w]} for {@link
   * Layout#NCHW} of a per-row {@code [h, w, c]}), in one pass. The caller owns the result.
   *
   * @throws IllegalArgumentException when the column is missing, of an unusable type, or NCHW is
   *     asked of a per-row shape that is not of rank 3
   */
  public static INDArray copy(Batch batch, FeatureColumn spec) {
    return copy(batch, spec, ArrayAllocator.DETACHED);
  }

  static INDArray copy(Batch batch, FeatureColumn spec, ArrayAllocator arrays) {
    return copy(
        ColumnData.of(batch, spec.column()), spec.layout(), spec.scale(), spec.dataType(), arrays);
  }

  /**
   * A fresh float32 labels array: one-hot {@code [rows, numClasses]} when {@code spec} is one-hot,
   * the column as it is otherwise. The caller owns the result.
   *
   * @throws SluiceException when a class index is out of range, naming the column, the row and the
   *     value
   */
  public static INDArray labels(Batch batch, LabelColumn spec) {
    return labels(batch, spec, ArrayAllocator.DETACHED);
  }

  static INDArray labels(Batch batch, LabelColumn spec, ArrayAllocator arrays) {
    ColumnData src = ColumnData.of(batch, spec.column());
    if (!spec.isOneHot()) {
      return copy(src, Layout.AS_STORED, 1.0, DataType.FLOAT, arrays);
    }
    if (src.rowElements() != 1) {
      throw new IllegalArgumentException(
          "one-hot labels need one class index per row; column '"
              + spec.column()
              + "' has per-row shape "
              + java.util.Arrays.toString(src.rowShape()));
    }
    int k = spec.numClasses();
    int rows = src.rows();
    INDArray out = arrays.allocate(DataType.FLOAT, rows, k);
    if (rows > 0) {
      ByteBuffer in = src.bytes();
      java.nio.FloatBuffer o = NativeMemory.hostBytes(out).asFloatBuffer();
      for (int r = 0; r < rows; r++) {
        long c = TensorCopy.integerAt(src, in, r);
        if (c < 0 || c >= k) {
          closeIfDetached(out, arrays);
          throw new SluiceException(
              "class index "
                  + c
                  + " out of range [0, "
                  + k
                  + ") in column '"
                  + spec.column()
                  + "' at row "
                  + r,
              "nd4j-bridge",
              null,
              batch.describeRow(r),
              null);
        }
        int base = r * k;
        for (int j = 0; j < k; j++) {
          o.put(base + j, j == c ? 1f : 0f);
        }
      }
    }
    return placedOnHost(out);
  }

  /**
   * A fresh mask array of a column taken as it is (a tensor column gives {@code [rows, shape...]},
   * a numeric column {@code [rows, 1]}), converted to {@code type}. The caller owns the result.
   */
  public static INDArray mask(Batch batch, String column, DataType type) {
    return mask(batch, column, type, ArrayAllocator.DETACHED);
  }

  static INDArray mask(Batch batch, String column, DataType type, ArrayAllocator arrays) {
    return copy(ColumnData.of(batch, column), Layout.AS_STORED, 1.0, type, arrays);
  }

  /**
   * A {@code DataSet} of fresh arrays (see {@link #copy}, {@link #labels}, {@link #mask}); the
   * caller owns it and it outlives the batch. When {@code labels} is null the data set has features
   * only.
   */
  public static DataSet toDataSet(Batch batch, FeatureColumn features, LabelColumn labels) {
    return toDataSet(batch, features, labels, ArrayAllocator.DETACHED);
  }

  static DataSet toDataSet(
      Batch batch, FeatureColumn features, LabelColumn labels, ArrayAllocator arrays) {
    Batch b = shareable(batch, List.of(features), arrays);
    INDArray f = copyOrShare(b, features, arrays, b != batch);
    INDArray fm =
        features.maskColumn() == null
            ? null
            : mask(b, features.maskColumn(), features.dataType(), arrays);
    INDArray l = labels == null ? null : labels(b, labels, arrays);
    INDArray lm =
        labels == null || labels.maskColumn() == null
            ? null
            : mask(b, labels.maskColumn(), DataType.FLOAT, arrays);
    return new DataSet(f, l, fm, lm);
  }

  /**
   * The batch the item reads from: when a feature column can be shared as it is (see {@link
   * #isZeroCopy}), the arrays live in host memory (ND4J's CPU backend: on a GPU the data has to be
   * copied to the device anyway) and {@code arrays} can hold the batch for the item's lifetime, the
   * batch as held; otherwise {@code batch} itself (and everything is copied).
   */
  private static Batch shareable(Batch batch, List<FeatureColumn> features, ArrayAllocator arrays) {
    if (arrays == ArrayAllocator.DETACHED
        || batch.rowCount() == 0
        || !Nd4j.getEnvironment().isCPU()) {
      return batch;
    }
    for (FeatureColumn f : features) {
      if (isZeroCopy(batch, f)) {
        Batch held = arrays.hold(batch);
        return held == null ? batch : held;
      }
    }
    return batch;
  }

  private static INDArray copyOrShare(
      Batch batch, FeatureColumn spec, ArrayAllocator arrays, boolean held) {
    return held && isZeroCopy(batch, spec) ? view(batch, spec.column()) : copy(batch, spec, arrays);
  }

  /**
   * A {@code MultiDataSet} of fresh arrays, one features array per feature column and one labels
   * array per label column, in order; masks where the columns name them (a list of masks is null
   * when no column of that list has one). The caller owns it and it outlives the batch.
   */
  public static MultiDataSet toMultiDataSet(
      Batch batch, List<FeatureColumn> features, List<LabelColumn> labels) {
    return toMultiDataSet(batch, features, labels, ArrayAllocator.DETACHED);
  }

  static MultiDataSet toMultiDataSet(
      Batch batch, List<FeatureColumn> features, List<LabelColumn> labels, ArrayAllocator arrays) {
    Batch b = shareable(batch, features, arrays);
    boolean held = b != batch;
    int nf = features.size();
    int nl = labels.size();
    INDArray[] f = new INDArray[nf];
    INDArray[] fm = new INDArray[nf];
    boolean anyFm = false;
    for (int i = 0; i < nf; i++) {
      FeatureColumn c = features.get(i);
      f[i] = copyOrShare(b, c, arrays, held);
      if (c.maskColumn() != null) {
        fm[i] = mask(b, c.maskColumn(), c.dataType(), arrays);
        anyFm = true;
      }
    }
    INDArray[] l = new INDArray[nl];
    INDArray[] lm = new INDArray[nl];
    boolean anyLm = false;
    for (int i = 0; i < nl; i++) {
      LabelColumn c = labels.get(i);
      l[i] = labels(b, c, arrays);
      if (c.maskColumn() != null) {
        lm[i] = mask(b, c.maskColumn(), DataType.FLOAT, arrays);
        anyLm = true;
      }
    }
    return new MultiDataSet(f, l, anyFm ? fm : null, anyLm ? lm : null);
  }

  private static INDArray copy(
      ColumnData src, Layout layout, double scale, DataType type, ArrayAllocator arrays) {
    INDArray out = arrays.allocate(type, TensorCopy.shape(src, layout));
    try {
      TensorCopy.copy(src, layout, scale, out);
    } catch (RuntimeException e) {
      closeIfDetached(out, arrays);
      throw e;
    }
    return placedOnHost(out);
  }

  // A pooled array goes back with its lease; a detached one is ours to free.
  private static void closeIfDetached(INDArray out, ArrayAllocator arrays) {
    if (arrays == ArrayAllocator.DETACHED) {
      out.close();
    }
  }

  // The array was written through its host pointer: say so, so that a GPU backend copies it to the
  // device before use instead of reading a stale device buffer. A no-op on the CPU backend.
  private static INDArray placedOnHost(INDArray array) {
    Nd4j.getAffinityManager().tagLocation(array, AffinityManager.Location.HOST);
    return array;
  }
}
