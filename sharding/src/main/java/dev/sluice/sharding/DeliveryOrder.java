package dev.sluice.sharding;

/**
 * How strictly a consumer keeps the order of its share; chosen by the user, applied by the loader.
 * Both orders deliver exactly the same rows to each consumer in each epoch; they differ in order,
 * speed, and when a position may be taken.
 */
public enum DeliveryOrder {
  /**
   * Rows reach the trainer in the share's order ({@link ConsumerShare#segments()} in turn, rows of
   * a segment in order), then through the consumer's {@link LocalShuffle} if it has one. Segments
   * may be read in parallel, but their rows are put back into share order before anything is handed
   * on, so the sample order depends only on the splits, the seed, the epoch, the consumer count and
   * rank, the assigner and the shuffle buffer size, never on thread timing. A position may be taken
   * after any row and resumes exactly, shuffle included. Costs head-of-line blocking: a slow
   * segment holds back rows already read from later ones.
   */
  DETERMINISTIC,
  /**
   * Rows are handed on (and into the shuffle buffer) in the order their segments' reads finish, so
   * a slow segment does not hold back the others; the order depends on thread timing and is not
   * reproducible. Segments still complete whole, in any order, so positions list their completed
   * segments as a set; a position is exact only if, when it is taken, every segment is either
   * completed, untouched, or the current one (lowest index not completed) with its first {@code
   * offset} rows delivered, and the shuffle buffer is empty: a loader drains in-flight segments and
   * its buffer before taking a position in this order.
   */
  RELAXED
}
