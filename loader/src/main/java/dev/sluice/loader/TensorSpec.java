package dev.sluice.loader;

import java.util.Arrays;
import java.util.Map;
import java.util.stream.Collectors;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * The per-row shape and element type of a tensor column.
 *
 * <p>A tensor column is an Arrow {@code FixedSizeBinary} column whose width is the byte size of one
 * row's tensor; the field metadata carries {@link #SHAPE_KEY} (comma-separated dimensions) and
 * {@link #DTYPE_KEY} (an {@link ElementType} name). Row {@code i} occupies bytes {@code [i * width,
 * (i + 1) * width)} of the column's data buffer, so a whole batch of tensors is one contiguous
 * buffer of shape {@code [rows, shape...]}.
 */
public record TensorSpec(ElementType elementType, int[] shape) {

  /** Field-metadata key of the per-row shape. */
  public static final String SHAPE_KEY = "sluice.tensor.shape";

  /** Field-metadata key of the element type. */
  public static final String DTYPE_KEY = "sluice.tensor.dtype";

  public TensorSpec {
    shape = shape.clone();
    long elements = 1;
    for (int d : shape) {
      if (d <= 0) {
        throw new IllegalArgumentException(
            "tensor dimensions must be positive: " + Arrays.toString(shape));
      }
      elements *= d;
    }
    if (elements * elementType.byteWidth() > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "one row's tensor is larger than 2 GiB: " + Arrays.toString(shape));
    }
  }

  /** A tensor spec of the given element type and per-row shape. */
  public static TensorSpec of(ElementType type, int... shape) {
    return new TensorSpec(type, shape);
  }

  @Override
  public int[] shape() {
    return shape.clone();
  }

  /** Number of elements in one row's tensor. */
  public int elementCount() {
    int n = 1;
    for (int d : shape) {
      n *= d;
    }
    return n;
  }

  /** Bytes of one row's tensor. */
  public int rowBytes() {
    return elementCount() * elementType.byteWidth();
  }

  /** The Arrow field of a tensor column with this spec. */
  public Field toField(String name) {
    Map<String, String> meta =
        Map.of(
            SHAPE_KEY,
                Arrays.stream(shape).mapToObj(Integer::toString).collect(Collectors.joining(",")),
            DTYPE_KEY, elementType.name());
    return new Field(
        name, new FieldType(false, new ArrowType.FixedSizeBinary(rowBytes()), null, meta), null);
  }

  /** The tensor spec a field carries, or null when the field is not a tensor column. */
  public static TensorSpec fromField(Field field) {
    Map<String, String> meta = field.getMetadata();
    if (meta == null || !meta.containsKey(SHAPE_KEY) || !meta.containsKey(DTYPE_KEY)) {
      return null;
    }
    int[] shape =
        Arrays.stream(meta.get(SHAPE_KEY).split(",")).mapToInt(Integer::parseInt).toArray();
    return new TensorSpec(ElementType.valueOf(meta.get(DTYPE_KEY)), shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorSpec t
        && t.elementType == elementType
        && Arrays.equals(t.shape, shape);
  }

  @Override
  public int hashCode() {
    return elementType.hashCode() * 31 + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return elementType.name().toLowerCase() + Arrays.toString(shape);
  }
}
