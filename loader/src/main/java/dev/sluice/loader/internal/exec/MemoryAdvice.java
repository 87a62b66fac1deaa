package dev.sluice.loader.internal.exec;

import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.SluiceException;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.arrow.memory.OutOfMemoryException;

/**
 * Turns the allocator's refusal (the execution's hard limit reached) into an error that says which
 * unit of work did not fit, how much it asked for, the budget and the hard limit, and what to
 * change: never a bare Arrow {@link OutOfMemoryException}.
 */
final class MemoryAdvice {
  private static final Pattern REQUESTED = Pattern.compile("allocate buffer of size (\\d+)");
  private static final long MIB = 1L << 20;

  private MemoryAdvice() {}

  /** The allocator's refusal in {@code error}'s causes, or null. */
  static OutOfMemoryException find(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof OutOfMemoryException oom) {
        return oom;
      }
    }
    return null;
  }

  /** The bytes the refused allocation asked for, from Arrow's message; -1 when it does not say. */
  static long requested(OutOfMemoryException e) {
    Matcher m = REQUESTED.matcher(String.valueOf(e.getMessage()));
    return m.find() ? Long.parseLong(m.group(1)) : -1;
  }

  /**
   * A task of {@code operator} could not allocate.
   *
   * @param error what the task threw (a {@link SluiceException} names the source and entry)
   * @param oom the allocator's refusal within it
   * @param options the execution's budget and hard limit
   * @param held bytes the execution held when the task failed
   * @param bytesPerRowIn the most output bytes a task of the operator made per input row, or -1
   * @param batchSize the operator's batch size, 0 when it has none
   */
  static SluiceException forTask(
      String operator,
      Throwable error,
      OutOfMemoryException oom,
      ExecutionOptions options,
      long held,
      double bytesPerRowIn,
      int batchSize) {
    long asked = requested(oom);
    String source = error instanceof SluiceException s ? s.source() : null;
    String entry = error instanceof SluiceException s ? s.entry() : null;
    long unit = Math.max(asked, 0);
    if (bytesPerRowIn > 0 && batchSize > 0) {
      unit = Math.max(unit, (long) (bytesPerRowIn * batchSize));
    }
    StringBuilder m = new StringBuilder();
    m.append("a task ran out of the execution's memory: it asked for ")
        .append(asked < 0 ? "more" : bytes(asked))
        .append(" while the execution held ")
        .append(bytes(held))
        .append(", against a memory budget of ")
        .append(bytes(options.memoryBudget()))
        .append(" and a hard limit of ")
        .append(bytes(hardLimit(options)))
        .append(
            String.format(
                Locale.ROOT, " (the budget x hardLimitFactor %.1f)", options.hardLimitFactor()));
    if (bytesPerRowIn > 0) {
      m.append("; its tasks make up to ")
          .append(bytes((long) bytesPerRowIn))
          .append(" per input row");
    }
    m.append(". Raise the memory budget to at least ")
        .append(bytes(roundUpMib(2 * unit)))
        .append(
            " (ExecutionOptions.withMemoryBudget: one task's output and the block before it, held by the consumer)");
    if (batchSize > 1) {
      m.append(", or lower the operator's batchSize (MapOptions.withBatchSize) from ")
          .append(batchSize);
    }
    return new SluiceException(m.toString(), operator, source, entry, error);
  }

  /**
   * The consumer could not copy a batch of {@code batchRows} rows of about {@code bytesPerRow}
   * bytes each into its memory.
   */
  static SluiceException forConsumer(
      int batchRows,
      OutOfMemoryException oom,
      ExecutionOptions options,
      long held,
      double bytesPerRow) {
    long asked = requested(oom);
    long batch = bytesPerRow > 0 ? (long) (bytesPerRow * batchRows) : Math.max(asked, 0);
    StringBuilder m = new StringBuilder();
    m.append("the consumer's batch of ").append(batchRows).append(" rows");
    if (bytesPerRow > 0) {
      m.append(" (about ")
          .append(bytes((long) bytesPerRow))
          .append(" per row, ")
          .append(bytes(batch))
          .append(")");
    }
    m.append(" does not fit: copying its rows asked for ")
        .append(asked < 0 ? "more" : bytes(asked))
        .append(" while the execution held ")
        .append(bytes(held))
        .append(", against a memory budget of ")
        .append(bytes(options.memoryBudget()))
        .append(" and a hard limit of ")
        .append(bytes(hardLimit(options)))
        .append(". Lower the batch size (IterOptions.batches");
    if (bytesPerRow > 0) {
      long rows = Math.max(1, (long) (options.memoryBudget() / bytesPerRow) - 2);
      m.append(", at most ")
          .append(rows)
          .append(rows == 1 ? " row" : " rows")
          .append(" for this budget");
    }
    m.append("), or raise the memory budget to at least ")
        .append(bytes(roundUpMib(batch + 2 * (long) Math.max(bytesPerRow, 0))))
        .append(
            " (ExecutionOptions.withMemoryBudget: the batch being copied, the block it copies from and the next")
        .append(" block, when the consumer holds nothing else)");
    return new SluiceException(m.toString(), "Output", null, null, oom);
  }

  private static long hardLimit(ExecutionOptions options) {
    return (long) Math.min(Long.MAX_VALUE / 2, options.memoryBudget() * options.hardLimitFactor());
  }

  private static long roundUpMib(long bytes) {
    return Math.max(MIB, (bytes + MIB - 1) / MIB * MIB);
  }

  private static String bytes(long b) {
    return DatasetStats.bytes(b);
  }
}
