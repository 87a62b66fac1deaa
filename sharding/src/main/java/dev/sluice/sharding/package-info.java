/**
 * Pure sharding logic: which consumer delivers which rows of an epoch, in which order, and how to
 * resume after a restart. Depends on nothing beyond the JDK; every type here is a value or a
 * single-threaded state machine, so it is tested by properties rather than clusters.
 *
 * <ul>
 *   <li>{@link dev.sluice.sharding.SourceSplit}: one independently readable piece of a source.
 *   <li>{@link dev.sluice.sharding.EpochPlan}: an epoch's permutation of the splits, seeded by
 *       (seed, epoch) through a generator fixed by the position format, so the same seed gives the
 *       same order on every process and JDK.
 *   <li>{@link dev.sluice.sharding.StaticAssigner} and {@link dev.sluice.sharding.ShareAssignment}:
 *       shares for {@code n} consumers by rank, either whole splits balanced by rows, or exactly
 *       equal row ranges ({@link dev.sluice.sharding.ShareSegment}) with a logged {@link
 *       dev.sluice.sharding.RemainderPolicy}. Shares are disjoint and cover the plan; changing
 *       {@code n} between epochs is just a fresh assignment.
 *   <li>{@link dev.sluice.sharding.LocalShuffle}: a consumer's shuffle buffer seeded by (seed,
 *       epoch, rank), a pure function of its input order; {@link dev.sluice.sharding.DeliveryOrder}
 *       says what a loader must keep for that order to be reproducible.
 *   <li>{@link dev.sluice.sharding.ConsumerPosition} and its versioned binary serializer: where a
 *       consumer is in its share; {@link
 *       dev.sluice.sharding.ShareAssignment#remainderFrom(dev.sluice.sharding.ConsumerPosition)}
 *       gives exactly the rows it has not delivered.
 *   <li>{@link dev.sluice.sharding.SplitEnumerator}: dynamic leasing in the shape of Flink's
 *       FLIP-27, pull-based, locality-aware, giving a failed consumer's splits back; driven from
 *       one coordinator thread.
 * </ul>
 *
 * <p>Everything that decides an order (the generator, the split permutation, the assigners, the
 * shuffle buffer) is part of {@link dev.sluice.sharding.ConsumerPosition#CURRENT_FORMAT}: a change
 * to any of them changes saved positions' meaning and must bump the format. Types are immutable and
 * thread-safe unless their documentation says otherwise ({@code SplitEnumerator}, the iterators of
 * {@code LocalShuffle}).
 */
package dev.sluice.sharding;
