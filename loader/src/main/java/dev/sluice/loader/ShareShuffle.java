package dev.sluice.loader;

import dev.sluice.sharding.LocalShuffle;
import java.util.Iterator;

/**
 * A consumer's share handed on through its deterministic {@link LocalShuffle}, from the start of
 * the epoch or resumed after {@code delivered} rows. The share's rows arrive in share order (the
 * read preserves order); what comes out depends only on the shuffle's seed, epoch, rank and buffer
 * size, so a position counted in rows handed on resumes exactly.
 *
 * @param shuffle the consumer's shuffle
 * @param totalRows the rows of the whole share, or -1 when unknown (balanced shares: not resumable)
 * @param delivered rows handed on before a restart; 0 from the start
 */
record ShareShuffle(LocalShuffle shuffle, long totalRows, long delivered) {

  /** The rows of {@code input} (the share, or what remains of it) in the order to hand them on. */
  <T> Iterator<T> apply(Iterator<T> input) {
    return totalRows < 0 ? shuffle.shuffle(input) : shuffle.resume(totalRows, delivered, input);
  }
}
