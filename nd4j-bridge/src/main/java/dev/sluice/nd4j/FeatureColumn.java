package dev.sluice.nd4j;

import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * How one column of a batch becomes a features array of a {@code DataSet} or {@code MultiDataSet}.
 * Immutable; {@code withX} returns a copy.
 *
 * <p>The column is a tensor column (any {@link dev.sluice.loader.ElementType}) or a numeric scalar
 * column (any Arrow integer or floating-point width, giving shape {@code [rows, 1]}). Values are
 * converted to {@link #dataType()}, multiplied by {@link #scale()} and laid out as {@link
 * #layout()} asks, in one pass.
 *
 * @param column the column name
 * @param layout the layout of the resulting array
 * @param dataType the ND4J data type of the resulting array (a floating-point or integer type)
 * @param scale a factor applied to every value ({@code 1/255.0} for images in [0, 1]); 1 leaves
 *     values as they are
 * @param maskColumn a column holding the features mask (tensor or numeric, converted to {@code
 *     dataType} as stored), or null for none
 */
public record FeatureColumn(
    String column, Layout layout, DataType dataType, double scale, String maskColumn) {

  public FeatureColumn {
    Objects.requireNonNull(column, "column");
    Objects.requireNonNull(layout, "layout");
    Objects.requireNonNull(dataType, "dataType");
    if (!Double.isFinite(scale)) {
      throw new IllegalArgumentException("scale must be finite: " + scale);
    }
  }

  /** The column as stored, converted to float32, unscaled, without a mask. */
  public static FeatureColumn of(String column) {
    return new FeatureColumn(column, Layout.AS_STORED, DataType.FLOAT, 1.0, null);
  }

  public FeatureColumn withLayout(Layout layout) {
    return new FeatureColumn(column, layout, dataType, scale, maskColumn);
  }

  public FeatureColumn withDataType(DataType dataType) {
    return new FeatureColumn(column, layout, dataType, scale, maskColumn);
  }

  public FeatureColumn withScale(double scale) {
    return new FeatureColumn(column, layout, dataType, scale, maskColumn);
  }

  public FeatureColumn withMask(String maskColumn) {
    return new FeatureColumn(column, layout, dataType, scale, maskColumn);
  }
}
