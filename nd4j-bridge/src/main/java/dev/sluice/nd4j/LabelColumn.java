package dev.sluice.nd4j;

import java.util.List;
import java.util.Objects;

/**
 * How one column of a batch becomes a labels array. Immutable.
 *
 * <p>With {@code numClasses > 0} the column holds class indices (an Arrow integer column, or an
 * integer tensor column of one element per row) and becomes a one-hot float32 array {@code [rows,
 * numClasses]}; an index outside {@code [0, numClasses)} fails the batch with an error naming the
 * row and the value. With {@code numClasses == 0} the column (a tensor or numeric column) is taken
 * as it is, converted to float32: {@code [rows, shape...]}, or {@code [rows, 1]} for a scalar.
 *
 * @param column the column name
 * @param numClasses the number of classes for one-hot labels, or 0 for labels taken as they are
 * @param classNames the names of the classes (reported by {@code getLabels()}), empty when unknown
 * @param maskColumn a column holding the labels mask, or null for none
 */
public record LabelColumn(
    String column, int numClasses, List<String> classNames, String maskColumn) {

  public LabelColumn {
    Objects.requireNonNull(column, "column");
    if (numClasses < 0) {
      throw new IllegalArgumentException("numClasses must be >= 0: " + numClasses);
    }
    classNames = List.copyOf(classNames);
    if (!classNames.isEmpty() && classNames.size() != numClasses) {
      throw new IllegalArgumentException(
          classNames.size() + " class names for " + numClasses + " classes");
    }
  }

  /** Class indices in {@code column}, one-hot encoded over {@code numClasses} classes. */
  public static LabelColumn oneHot(String column, int numClasses) {
    if (numClasses <= 0) {
      throw new IllegalArgumentException("numClasses must be > 0: " + numClasses);
    }
    return new LabelColumn(column, numClasses, List.of(), null);
  }

  /** Labels taken as they are (a regression target, a label tensor), converted to float32. */
  public static LabelColumn asIs(String column) {
    return new LabelColumn(column, 0, List.of(), null);
  }

  public LabelColumn withClassNames(List<String> names) {
    return new LabelColumn(column, numClasses, names, maskColumn);
  }

  public LabelColumn withMask(String maskColumn) {
    return new LabelColumn(column, numClasses, classNames, maskColumn);
  }

  /** Whether the labels are one-hot encoded class indices. */
  public boolean isOneHot() {
    return numClasses > 0;
  }
}
