package dev.sluice.loader;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bad-record allowance of one execution: how many corrupt records (an unreadable tar entry, an
 * image that does not decode, a row a reader rejects) may be skipped before the pipeline fails. The
 * default allowance is zero: the first bad record fails the job with an error naming the file and
 * the entry. Skipped records are counted (and the first few logged), never dropped silently.
 * Thread-safe; shared by every task of an execution.
 */
public final class BadRecords {
  private static final Logger LOG = LoggerFactory.getLogger(BadRecords.class);
  private static final int LOGGED = 10;

  private final long allowance;
  private final AtomicLong skipped = new AtomicLong();

  /** An allowance of {@code allowance} records (0 fails on the first). */
  public BadRecords(long allowance) {
    if (allowance < 0) {
      throw new IllegalArgumentException("allowance must be >= 0");
    }
    this.allowance = allowance;
  }

  /** An allowance of zero. */
  public static BadRecords none() {
    return new BadRecords(0);
  }

  /**
   * Reports a bad record. Returns normally when the record may be skipped (the caller skips it);
   * throws a {@link SluiceException} naming the record when the allowance is used up.
   *
   * @param operator the operator or source reporting, for the message
   * @param source the file the record is in
   * @param entry the record's key or position in the file
   * @param cause what was wrong with it
   */
  public void report(String operator, String source, String entry, Exception cause) {
    long n = skipped.incrementAndGet();
    if (n > allowance) {
      skipped.decrementAndGet();
      String why =
          cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
      throw new SluiceException(
          "bad record: "
              + why
              + (allowance > 0 ? " (allowance of " + allowance + " bad records used up)" : ""),
          operator,
          source,
          entry,
          cause);
    }
    if (n <= LOGGED) {
      LOG.warn(
          "Skipping bad record {} of {} in {} ({} of {} allowed): {}",
          entry,
          source,
          operator,
          n,
          allowance,
          cause.toString());
    }
  }

  /** Records skipped so far. */
  public long skipped() {
    return skipped.get();
  }

  /** The allowance. */
  public long allowance() {
    return allowance;
  }
}
