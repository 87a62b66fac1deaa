package dev.sluice.sharding;

/**
 * What equal shares do with the rows that do not divide evenly among the consumers: with {@code R}
 * rows and {@code n} consumers, {@code r = R mod n} rows are left over. The decision is logged (at
 * INFO, logger {@code dev.sluice.sharding.StaticAssigner}) once per plan with the numbers, and is
 * readable from {@link ShareAssignment#droppedRows()} and {@link ShareAssignment#repeatedRows()}.
 */
public enum RemainderPolicy {
  /**
   * Every consumer gets {@code floor(R / n)} rows; the last {@code r} rows of the epoch's order are
   * not delivered this epoch. With a shuffled plan a different tail is dropped each epoch.
   */
  DROP,
  /**
   * Every consumer gets {@code ceil(R / n)} rows; the {@code n - r} missing rows are made up by
   * repeating the first rows of the epoch's order (wrapping around if there are fewer rows than
   * consumers). The repeated rows are the tail of the last consumers' shares ({@link
   * ConsumerShare#repeatedSegments()}), so an evaluation can skip them.
   */
  PAD,
  /**
   * Every row is delivered once: the first {@code r} consumers get one row more than the others, so
   * shares differ by at most one row (and consumers by at most one step per epoch).
   */
  UNEVEN
}
