package dev.sluice.loader;

/**
 * A failure of a Sluice pipeline, naming where it happened: the operator, the source file and the
 * entry (sample key or row) when known. Thrown from the consumer's {@code next()} when a task, a
 * reader or a user function failed anywhere in the pipeline; the original exception is the cause.
 */
public class SluiceException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String operator;
  private final String source;
  private final String entry;
  private final String reason;

  /**
   * A failure with its location.
   *
   * @param message what went wrong
   * @param operator the operator that failed, or null
   * @param source the file (or split) concerned, or null
   * @param entry the entry (sample key, row) concerned, or null
   * @param cause the original failure, or null
   */
  public SluiceException(
      String message, String operator, String source, String entry, Throwable cause) {
    super(compose(message, operator, source, entry), cause);
    this.reason = message;
    this.operator = operator;
    this.source = source;
    this.entry = entry;
  }

  /**
   * The same failure thrown again on another thread (the consumer's): same message and location,
   * the original (with the worker's stack) as the cause.
   */
  public static SluiceException rethrown(SluiceException original) {
    return new SluiceException(original);
  }

  private SluiceException(SluiceException original) {
    super(original.getMessage(), original);
    this.reason = original.reason;
    this.operator = original.operator;
    this.source = original.source;
    this.entry = original.entry;
  }

  /** A failure with no location yet. */
  public SluiceException(String message, Throwable cause) {
    this(message, null, null, null, cause);
  }

  /** What went wrong, without the location. */
  public String reason() {
    return reason;
  }

  /** The operator that failed, or null. */
  public String operator() {
    return operator;
  }

  /** The source file or split concerned, or null. */
  public String source() {
    return source;
  }

  /** The entry concerned (a sample key, a row), or null. */
  public String entry() {
    return entry;
  }

  private static String compose(String message, String operator, String source, String entry) {
    StringBuilder sb = new StringBuilder();
    if (operator != null) {
      sb.append('[').append(operator).append("] ");
    }
    sb.append(message);
    // A source's own message that names the file (and its entry, as a word of its own) is not told
    // them again; a message that does not name the file keeps the whole location, since a short
    // entry (a sample key such as "1") can appear in a message by chance.
    String text = message == null ? "" : message;
    boolean named = source == null || text.contains(source);
    boolean entryNamed = entry == null || (named && source != null && containsWord(text, entry));
    if (!named) {
      sb.append(" (file ").append(source);
      if (!entryNamed) {
        sb.append(", entry ").append(entry);
      }
      sb.append(')');
    } else if (!entryNamed) {
      sb.append(" (entry ").append(entry).append(')');
    }
    return sb.toString();
  }

  /** Whether {@code part} occurs in {@code text} with no letter or digit right before or after. */
  private static boolean containsWord(String text, String part) {
    for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
      int end = i + part.length();
      boolean before = i > 0 && Character.isLetterOrDigit(text.charAt(i - 1));
      boolean after = end < text.length() && Character.isLetterOrDigit(text.charAt(end));
      if (!before && !after) {
        return true;
      }
    }
    return false;
  }
}
