package dev.sluice.sharding;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;

/**
 * A consumer's shuffle buffer, deterministic: seeded by (seed, epoch, rank), its output is a
 * permutation of its input that depends only on that seed, the buffer size and the input order,
 * never on the values of the elements or on timing.
 *
 * <p>The algorithm is the classic shuffle buffer (tf.data, WebDataset): fill a buffer of {@code
 * bufferSize} elements; then for every further input, hand on a uniformly chosen buffered element
 * and put the input in its place; at the end of the input, hand on the rest in uniformly random
 * order. Memory is bounded by the buffer size, and an element leaves at most {@code bufferSize - 1}
 * places earlier than it arrived (it may leave arbitrarily later). A buffer size of 1 keeps the
 * order. The algorithm and its generator are part of the position format ({@link
 * ConsumerPosition#CURRENT_FORMAT}).
 *
 * <p>Because the output is a pure function of the input order, a consumer that delivers in {@link
 * DeliveryOrder#DETERMINISTIC} order can stop after any number {@code k} of rows and resume
 * exactly: {@link ShareAssignment#remainderFrom(ConsumerPosition, int)} names the rows not yet
 * handed on, and {@link #resume} hands them on in the order the uninterrupted shuffle would have.
 *
 * <p>Instances are immutable and thread-safe; the iterators they return are not (one thread at a
 * time) and do not accept null elements.
 */
public final class LocalShuffle {
  private static final int INITIAL_SLOTS = 1024;

  private final long seed;
  private final int epoch;
  private final int rank;
  private final int bufferSize;

  private LocalShuffle(long seed, int epoch, int rank, int bufferSize) {
    this.seed = seed;
    this.epoch = epoch;
    this.rank = rank;
    this.bufferSize = bufferSize;
  }

  /**
   * The shuffle of consumer {@code rank} in {@code epoch}.
   *
   * @param bufferSize elements held back to mix, {@code >= 1}; 1 keeps the input order
   * @throws IllegalArgumentException if {@code bufferSize < 1}, {@code epoch < 0} or {@code rank <
   *     0}
   */
  public static LocalShuffle of(long seed, int epoch, int rank, int bufferSize) {
    if (bufferSize < 1) {
      throw new IllegalArgumentException("buffer size must be >= 1: " + bufferSize);
    }
    if (epoch < 0 || rank < 0) {
      throw new IllegalArgumentException("bad epoch " + epoch + " or rank " + rank);
    }
    return new LocalShuffle(seed, epoch, rank, bufferSize);
  }

  /** The seed. */
  public long seed() {
    return seed;
  }

  /** The epoch. */
  public int epoch() {
    return epoch;
  }

  /** The consumer's rank. */
  public int rank() {
    return rank;
  }

  /** Elements held back to mix. */
  public int bufferSize() {
    return bufferSize;
  }

  /**
   * The shuffled order of {@code ids}, as a new array; {@code ids} is not changed. Equal to
   * draining {@link #shuffle} over the same elements.
   */
  public long[] permute(long[] ids) {
    var out = new long[ids.length];
    Iterator<Long> shuffled = shuffle(Arrays.stream(ids).iterator());
    for (int i = 0; i < out.length; i++) {
      out[i] = shuffled.next();
    }
    return out;
  }

  /**
   * Streams {@code input} through the buffer. Reads {@code input} lazily, at most {@code
   * bufferSize} elements ahead of what it has handed on; the caller keeps ownership of the
   * elements.
   */
  public <T> Iterator<T> shuffle(Iterator<? extends T> input) {
    return new Shuffling<T>(Objects.requireNonNull(input, "input"), newRandom());
  }

  /**
   * Continues a shuffle after a restart: hands on exactly the elements an uninterrupted {@link
   * #shuffle} over the same {@code totalRows} inputs would have handed on after its first {@code
   * delivered}, in the same order.
   *
   * @param totalRows the number of inputs of the uninterrupted shuffle (the share's rows)
   * @param delivered how many outputs were handed on before the restart
   * @param remainder the inputs not yet handed on, in input order: those that {@link
   *     ShareAssignment#remainderFrom(ConsumerPosition, int)} names
   * @throws IllegalArgumentException if {@code delivered} is not in {@code [0, totalRows]}
   * @throws IllegalStateException (from this call or the iterator) if {@code remainder} yields more
   *     or fewer than {@code totalRows - delivered} elements
   */
  public <T> Iterator<T> resume(long totalRows, long delivered, Iterator<? extends T> remainder) {
    Objects.requireNonNull(remainder, "remainder");
    Shuffling<Long> replay = replay(totalRows, delivered);
    var input = new Counted<T>(remainder, totalRows - delivered);
    var resumed = new Shuffling<T>(input, replay.random);
    // Buffered elements come first in the remainder, in input order; put each where it was.
    Integer[] slotsByPosition = new Integer[replay.count];
    for (int i = 0; i < replay.count; i++) {
      slotsByPosition[i] = i;
    }
    Arrays.sort(
        slotsByPosition, (a, b) -> Long.compare((Long) replay.slots[a], (Long) replay.slots[b]));
    resumed.slots = new Object[Math.max(replay.slots.length, 1)];
    for (int slot : slotsByPosition) {
      if (!input.hasNext()) {
        throw new IllegalStateException(
            "remainder ended early: it must start with the " + replay.count + " buffered rows");
      }
      resumed.slots[slot] = input.next();
    }
    resumed.count = replay.count;
    return resumed;
  }

  /**
   * The input positions (0-based, of {@code totalRows}) not yet handed on after {@code delivered}
   * outputs, as ascending, disjoint, non-adjacent half-open ranges {@code {from, to}}.
   */
  List<long[]> undelivered(long totalRows, long delivered) {
    Shuffling<Long> replay = replay(totalRows, delivered);
    long[] buffered = new long[replay.count];
    for (int i = 0; i < replay.count; i++) {
      buffered[i] = (Long) replay.slots[i];
    }
    Arrays.sort(buffered);
    var ranges = new ArrayList<long[]>();
    for (long position : buffered) {
      appendRange(ranges, position, position + 1);
    }
    if (replay.consumed < totalRows) {
      appendRange(ranges, replay.consumed, totalRows);
    }
    return ranges;
  }

  private static void appendRange(List<long[]> ranges, long from, long to) {
    long[] last = ranges.isEmpty() ? null : ranges.get(ranges.size() - 1);
    if (last != null && last[1] == from) {
      last[1] = to;
    } else {
      ranges.add(new long[] {from, to});
    }
  }

  /** The buffer's state after {@code delivered} outputs, replayed over input positions. */
  private Shuffling<Long> replay(long totalRows, long delivered) {
    if (totalRows < 0 || delivered < 0 || delivered > totalRows) {
      throw new IllegalArgumentException(
          "delivered " + delivered + " not in [0, " + totalRows + "] rows");
    }
    var positions =
        new Iterator<Long>() {
          long next;

          @Override
          public boolean hasNext() {
            return next < totalRows;
          }

          @Override
          public Long next() {
            return next++;
          }
        };
    var replay = new Shuffling<Long>(positions, newRandom());
    for (long i = 0; i < delivered; i++) {
      replay.next();
    }
    return replay;
  }

  private SplitMix64 newRandom() {
    return SplitMix64.derive(SplitMix64.DOMAIN_SHUFFLE, seed, epoch, rank, bufferSize);
  }

  /** The shuffle buffer as an iterator; resume relies on there being no other implementation. */
  private final class Shuffling<T> implements Iterator<T> {
    private final Iterator<? extends T> input;
    private final SplitMix64 random;
    private Object[] slots = new Object[Math.min(bufferSize, INITIAL_SLOTS)];
    private int count;
    private long consumed;
    private T pending;

    Shuffling(Iterator<? extends T> input, SplitMix64 random) {
      this.input = input;
      this.random = random;
    }

    @Override
    public boolean hasNext() {
      if (pending == null) {
        pending = advance();
      }
      return pending != null;
    }

    @Override
    public T next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      T out = pending;
      pending = null;
      return out;
    }

    @SuppressWarnings("unchecked")
    private T advance() {
      while (input.hasNext()) {
        T element = Objects.requireNonNull(input.next(), "shuffle input contains null");
        consumed++;
        if (count < bufferSize) {
          if (count == slots.length) {
            slots = Arrays.copyOf(slots, (int) Math.min(bufferSize, 2L * slots.length));
          }
          slots[count++] = element;
          continue;
        }
        int i = random.nextInt(bufferSize);
        T out = (T) slots[i];
        slots[i] = element;
        return out;
      }
      if (count == 0) {
        return null;
      }
      int i = random.nextInt(count);
      T out = (T) slots[i];
      slots[i] = slots[--count];
      slots[count] = null;
      return out;
    }
  }

  /** The remainder of a resumed shuffle, checked to hold exactly the expected number of rows. */
  private static final class Counted<T> implements Iterator<T> {
    private final Iterator<? extends T> delegate;
    private long left;

    Counted(Iterator<? extends T> delegate, long expected) {
      this.delegate = delegate;
      this.left = expected;
    }

    @Override
    public boolean hasNext() {
      boolean more = delegate.hasNext();
      if (more && left == 0) {
        throw new IllegalStateException("remainder has more rows than the position leaves");
      }
      if (!more && left > 0) {
        throw new IllegalStateException(
            "remainder ended " + left + " rows short of what the position leaves");
      }
      return more;
    }

    @Override
    public T next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      left--;
      return delegate.next();
    }
  }
}
