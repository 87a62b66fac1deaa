package dev.sluice.loader;

/** A condition on one row of a batch, for {@link Dataset#filter}. Must be thread-safe. */
@FunctionalInterface
public interface RowPredicate {
  /** Whether row {@code row} of {@code batch} is kept. */
  boolean test(Batch batch, int row) throws Exception;
}
