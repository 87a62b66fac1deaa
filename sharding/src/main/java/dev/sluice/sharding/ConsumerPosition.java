package dev.sluice.sharding;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * How far one consumer has got through its share of an epoch: small enough to save with every model
 * checkpoint, and enough, with the same splits and settings, to resume the epoch with exactly the
 * rows not yet delivered ({@link ShareAssignment#remainderFrom(ConsumerPosition)}).
 *
 * <p>The consumer has delivered every row of the segments listed in {@code completedSegments}
 * (indices into {@link ConsumerShare#segments()}) and the first {@code offset} rows of the
 * <em>current segment</em>, the lowest-index segment not completed; nothing else. In {@link
 * DeliveryOrder#DETERMINISTIC} order the completed segments are always a prefix {@code 0..c-1}; in
 * {@link DeliveryOrder#RELAXED} order they may be any set. With a deterministic local shuffle
 * ({@link LocalShuffle}) the same two numbers count the rows the consumer has handed on, {@code k =
 * rows(completed) + offset}, and which rows those were is recomputed by replaying the shuffle
 * ({@link ShareAssignment#remainderFrom(ConsumerPosition, int)}).
 *
 * <p>The position names its plan by (seed, epoch, consumer count, rank) but does not contain the
 * splits or the assignment settings: resuming needs the same splits in the same planning order and
 * the same assigner, as a model checkpoint needs the same architecture. Later epochs do not depend
 * on the position at all, so they are the same with or without a restart.
 *
 * @param formatVersion version of the position format: the binary layout and the planning
 *     algorithms it refers to; only {@link #CURRENT_FORMAT} is accepted
 * @param seed the run's seed
 * @param epoch the epoch, from 0
 * @param rank the consumer's rank, in {@code [0, consumerCount)}
 * @param consumerCount the number of consumers the epoch was planned for
 * @param completedSegments indices of fully delivered segments, strictly increasing
 * @param offset rows delivered from the current segment, {@code >= 0}
 */
public record ConsumerPosition(
    int formatVersion,
    long seed,
    int epoch,
    int rank,
    int consumerCount,
    List<Integer> completedSegments,
    long offset) {

  /** The only position format this build reads and writes. */
  public static final int CURRENT_FORMAT = 1;

  /**
   * @throws IllegalArgumentException if the format is unknown, a number is out of range, or {@code
   *     completedSegments} is not strictly increasing and non-negative
   */
  public ConsumerPosition {
    if (formatVersion != CURRENT_FORMAT) {
      throw new IllegalArgumentException(
          "unsupported ConsumerPosition format version "
              + formatVersion
              + "; this build supports "
              + CURRENT_FORMAT);
    }
    if (epoch < 0) {
      throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
    }
    if (consumerCount < 1 || rank < 0 || rank >= consumerCount) {
      throw new IllegalArgumentException(
          "bad rank " + rank + " of " + consumerCount + " consumers");
    }
    completedSegments = List.copyOf(completedSegments);
    int previous = -1;
    for (int index : completedSegments) {
      if (index <= previous) {
        throw new IllegalArgumentException(
            "completed segments must be strictly increasing and >= 0: " + completedSegments);
      }
      previous = index;
    }
    if (offset < 0) {
      throw new IllegalArgumentException("offset must be >= 0: " + offset);
    }
  }

  /** The position of a consumer that has delivered nothing of the epoch yet. */
  public static ConsumerPosition startOfEpoch(long seed, int epoch, int rank, int consumerCount) {
    return new ConsumerPosition(CURRENT_FORMAT, seed, epoch, rank, consumerCount, List.of(), 0);
  }

  /** The lowest-index segment not completed: the one {@link #offset()} refers to. */
  public int currentSegment() {
    int expected = 0;
    for (int index : completedSegments) {
      if (index != expected) {
        return expected;
      }
      expected++;
    }
    return expected;
  }

  /** Whether the completed segments are exactly {@code 0..c-1}, as in deterministic order. */
  public boolean completedIsPrefix() {
    int size = completedSegments.size();
    return size == 0 || completedSegments.get(size - 1) == size - 1;
  }

  /**
   * Versioned binary form of a {@link ConsumerPosition}, for checkpoints and the wire (never Java
   * serialization). Layout of version 1, big-endian: {@code int version, long seed, int epoch, int
   * rank, int consumerCount, int runCount, runCount x (int from, int toExclusive), long offset},
   * where the runs are the completed segments as maximal ranges (one run in deterministic order).
   * Stateless and thread-safe.
   */
  public static final class Serializer {
    // A guard against corrupt input allocating without bound; no share comes near it.
    private static final int MAX_COMPLETED = 1 << 24;

    /** A serializer; they are stateless, so one may be shared. */
    public Serializer() {}

    /** The format version {@link #serialize} writes. */
    public int version() {
      return CURRENT_FORMAT;
    }

    /** The position's bytes: its format version, then its fields. */
    public byte[] serialize(ConsumerPosition position) {
      var bytes = new ByteArrayOutputStream(48);
      try (var out = new DataOutputStream(bytes)) {
        out.writeInt(position.formatVersion());
        out.writeLong(position.seed());
        out.writeInt(position.epoch());
        out.writeInt(position.rank());
        out.writeInt(position.consumerCount());
        List<int[]> runs = runs(position.completedSegments());
        out.writeInt(runs.size());
        for (int[] run : runs) {
          out.writeInt(run[0]);
          out.writeInt(run[1]);
        }
        out.writeLong(position.offset());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot happen writing to memory", e);
      }
      return bytes.toByteArray();
    }

    /**
     * Reads bytes written by {@link #serialize}.
     *
     * @throws IllegalArgumentException naming the problem if the version is not one this build
     *     reads, the bytes are truncated or followed by more bytes, or a field is out of range
     */
    public ConsumerPosition deserialize(byte[] bytes) {
      try (var in = new DataInputStream(new ByteArrayInputStream(bytes))) {
        int version = in.readInt();
        if (version != CURRENT_FORMAT) {
          throw new IllegalArgumentException(
              "cannot read ConsumerPosition format version "
                  + version
                  + "; this build reads "
                  + CURRENT_FORMAT
                  + (version > CURRENT_FORMAT ? " (written by a newer Sluice?)" : ""));
        }
        long seed = in.readLong();
        int epoch = in.readInt();
        int rank = in.readInt();
        int consumerCount = in.readInt();
        int runCount = in.readInt();
        if (runCount < 0 || runCount > bytes.length / 8) {
          throw new IllegalArgumentException("corrupt ConsumerPosition: " + runCount + " runs");
        }
        var completed = new ArrayList<Integer>();
        for (int i = 0; i < runCount; i++) {
          int from = in.readInt();
          int to = in.readInt();
          if (from < 0 || to <= from || (long) completed.size() + to - from > MAX_COMPLETED) {
            throw new IllegalArgumentException(
                "corrupt ConsumerPosition: run ["
                    + from
                    + ", "
                    + to
                    + ") after "
                    + completed.size()
                    + " completed segments");
          }
          for (int index = from; index < to; index++) {
            completed.add(index);
          }
        }
        long offset = in.readLong();
        if (in.available() > 0) {
          throw new IllegalArgumentException(
              "corrupt ConsumerPosition: " + in.available() + " bytes after the last field");
        }
        return new ConsumerPosition(version, seed, epoch, rank, consumerCount, completed, offset);
      } catch (EOFException e) {
        throw new IllegalArgumentException(
            "truncated ConsumerPosition: " + bytes.length + " bytes", e);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot happen reading from memory", e);
      }
    }

    private static List<int[]> runs(List<Integer> sorted) {
      var runs = new ArrayList<int[]>();
      for (int index : sorted) {
        int[] last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
        if (last != null && last[1] == index) {
          last[1] = index + 1;
        } else {
          runs.add(new int[] {index, index + 1});
        }
      }
      return runs;
    }
  }
}
