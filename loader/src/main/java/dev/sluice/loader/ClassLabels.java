package dev.sluice.loader;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Turns a text column holding each sample's class (WebDataset's {@code .cls} entry, its class index
 * as decimal text, or a {@code .txt} entry naming the class) into an int32 class-index column that
 * the DL4J iterators one-hot encode. A stateless function: use it in {@link
 * Dataset#mapBatches(BatchFunction)}.
 *
 * <pre>{@code
 * sluice.read(WebDatasetSource.of("shards/train-{0000..0099}.tar"))
 *     .mapBatches(ClassLabels.fromIndex("cls", 1000))                   // "417" -> 417
 *     .mapBatches(ClassLabels.fromNames("txt", List.of("cat", "dog")))  // "dog" -> 1
 * }</pre>
 *
 * <p>The text is trimmed. A sample whose class is missing (no such entry: the cell is null), empty,
 * not a number ({@link #fromIndex}), a number outside {@code [0, classes)} or a name not in the
 * list ({@link #fromNames}) is a bad record naming the file, the sample's key and what was wrong:
 * skipped and counted within the execution's {@link BadRecords} allowance, else the execution fails
 * with that message. A batch without the column at all fails at once, naming the columns it has
 * (usually the wrong extension). The output holds the input's other columns, shared with the input
 * (the encoded images are not copied), the text column replaced by the {@link #output} column.
 *
 * <p>Immutable and thread-safe.
 */
public final class ClassLabels implements BatchFunction {
  /** The default name of the class-index column. */
  public static final String DEFAULT_OUTPUT = "label";

  private final String column;
  private final String output;
  private final int classes;
  private final Map<String, Integer> names;
  private final boolean keepText;

  private ClassLabels(
      String column, String output, int classes, Map<String, Integer> names, boolean keepText) {
    this.column = Objects.requireNonNull(column, "column");
    this.output = Objects.requireNonNull(output, "output");
    this.classes = classes;
    this.names = names;
    this.keepText = keepText;
  }

  /**
   * Labels from a column holding the class index as decimal text (WebDataset's {@code .cls}).
   *
   * @param column the text (or binary, read as UTF-8) column, for example {@code "cls"}
   * @param classes the number of classes: indices must lie in {@code [0, classes)}
   * @throws IllegalArgumentException if {@code classes < 1}
   */
  public static ClassLabels fromIndex(String column, int classes) {
    if (classes < 1) {
      throw new IllegalArgumentException("classes must be >= 1: " + classes);
    }
    return new ClassLabels(column, DEFAULT_OUTPUT, classes, null, false);
  }

  /**
   * Labels from a column holding the class name (a WebDataset {@code .txt} entry, say): a row's
   * label is the name's index in {@code classNames}.
   *
   * @throws IllegalArgumentException if the list is empty or names a class twice
   */
  public static ClassLabels fromNames(String column, List<String> classNames) {
    if (classNames.isEmpty()) {
      throw new IllegalArgumentException("no class names given");
    }
    Map<String, Integer> index = new HashMap<>();
    for (int i = 0; i < classNames.size(); i++) {
      if (index.put(classNames.get(i).trim(), i) != null) {
        throw new IllegalArgumentException("class name '" + classNames.get(i) + "' given twice");
      }
    }
    return new ClassLabels(column, DEFAULT_OUTPUT, classNames.size(), Map.copyOf(index), false);
  }

  /**
   * The same, writing the class index to column {@code name} (default {@value #DEFAULT_OUTPUT}).
   */
  public ClassLabels output(String name) {
    return new ClassLabels(column, name, classes, names, keepText);
  }

  /** The same, keeping the text column beside the label (default: replaced by it). */
  public ClassLabels keepText(boolean keep) {
    return new ClassLabels(column, output, classes, names, keep);
  }

  /** The number of classes. */
  public int classes() {
    return classes;
  }

  @Override
  public Batch apply(Batch in, BatchContext ctx) {
    if (!in.hasColumn(column)) {
      throw new SluiceException(
          "no column '"
              + column
              + "' to read class labels from; the batch has "
              + in.schema().getFields().stream().map(f -> f.getName()).toList(),
          ctx.operatorName(),
          String.join(", ", in.sources()),
          null,
          null);
    }
    int n = in.rowCount();
    int[] keep = new int[n];
    int[] labels = new int[n];
    int kept = 0;
    for (int r = 0; r < n; r++) {
      String problem;
      String text = in.getString(column, r);
      int label = -1;
      if (text == null) {
        problem = "missing class label: the sample has no '" + column + "' entry";
      } else if (text.isBlank()) {
        problem = "empty class label in '" + column + "'";
      } else {
        String t = text.trim();
        if (names != null) {
          Integer i = names.get(t);
          label = i == null ? -1 : i;
          problem =
              i == null
                  ? "class name '"
                      + abbreviate(t)
                      + "' in '"
                      + column
                      + "' is not one of the "
                      + classes
                      + " classes"
                  : null;
        } else {
          label = parseIndex(t);
          problem =
              label == Integer.MIN_VALUE
                  ? "class label '" + abbreviate(t) + "' in '" + column + "' is not a class index"
                  : label < 0 || label >= classes
                      ? "class index " + label + " in '" + column + "' outside [0, " + classes + ")"
                      : null;
        }
      }
      if (problem == null) {
        labels[kept] = label;
        keep[kept++] = r;
      } else {
        String file =
            in.hasColumn(Batch.URL_COLUMN) && !in.isNull(Batch.URL_COLUMN, r)
                ? in.getString(Batch.URL_COLUMN, r)
                : String.join(", ", in.sources());
        String key =
            in.hasColumn(Batch.KEY_COLUMN) && !in.isNull(Batch.KEY_COLUMN, r)
                ? in.getString(Batch.KEY_COLUMN, r)
                : "row " + r;
        ctx.badRecords()
            .report(ctx.operatorName(), file, key, new IllegalArgumentException(problem));
      }
    }
    Batch labelColumn;
    try (BatchBuilder b =
        BatchBuilder.create(
            ctx.allocator(), new Schema(List.of(Columns.int32(output))), kept, 0, in.sources())) {
      for (int r = 0; r < kept; r++) {
        b.setLong(output, r, labels[r]);
      }
      labelColumn = b.build(kept);
    }
    List<String> dropped = keepText ? List.of() : List.of(column);
    // The other columns (the encoded images above all) are shared with the input, not copied,
    // unless bad labels left rows out.
    try {
      if (kept == n) {
        return in.withColumnsOf(ctx.allocator(), dropped, labelColumn);
      }
      try (Batch keptRows = in.select(ctx.allocator(), Arrays.copyOf(keep, kept))) {
        return keptRows.withColumnsOf(ctx.allocator(), dropped, labelColumn);
      }
    } finally {
      labelColumn.close(); // (already consumed unless adding failed)
    }
  }

  /** The decimal integer in {@code t}, or {@link Integer#MIN_VALUE} if it is none. */
  private static int parseIndex(String t) {
    try {
      return Integer.parseInt(t);
    } catch (NumberFormatException e) {
      return Integer.MIN_VALUE;
    }
  }

  private static String abbreviate(String t) {
    return t.length() <= 40 ? t : t.substring(0, 40) + "...";
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "ClassLabels[%s -> %s, %d classes%s]",
        column,
        output,
        classes,
        names == null ? "" : " by name");
  }
}
