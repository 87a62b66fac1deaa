package dev.sluice.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import org.nd4j.linalg.dataset.AsyncDataSetIterator;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * Several {@link DataSetIterator}s over disjoint parts of one dataset, merged into one: batches are
 * taken from the parts in turn (part 0, 1, ..., k-1, 0, ...), a part that has run out is skipped,
 * and the epoch ends when every part has. What a DL4J user writes to give DataVec's pipeline more
 * than one core: one {@code RecordReaderDataSetIterator} per core, each behind its own {@code
 * AsyncDataSetIterator} (its own reader thread), merged for the consumer. DL4J has no such merge of
 * its own.
 *
 * <p>The turn is strict, so the consumer waits for the part whose turn it is even when another has
 * a batch ready; with parts of equal size read at the same speed that costs little, and it keeps
 * the merged order deterministic for a given order of each part. Batch sizes are the parts' own:
 * each part ends with its own short batch, so an epoch has up to k batches smaller than the batch
 * size instead of one.
 *
 * <p>This iterator has no threads of its own; the parts' threads belong to the parts. {@link
 * #close()} shuts down every part that is an {@code AsyncDataSetIterator}. Not thread-safe: one
 * consumer thread, like any {@code DataSetIterator}. A batch is valid as the part that made it says
 * (an {@code AsyncDataSetIterator}'s workspace recycles its memory a few batches later).
 */
final class RoundRobinDataSetIterator implements DataSetIterator, AutoCloseable {
  private static final long serialVersionUID = 1L;

  private final transient List<DataSetIterator> parts;
  private final boolean[] exhausted;

  /** The part whose turn it is. */
  private int turn;

  /**
   * @param parts the parts, each delivering a disjoint share of the dataset's batches; owned by
   *     this iterator from now on
   * @throws IllegalArgumentException when there are none
   */
  RoundRobinDataSetIterator(List<? extends DataSetIterator> parts) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("no parts to merge");
    }
    this.parts = List.copyOf(parts);
    this.exhausted = new boolean[parts.size()];
  }

  /** How many parts are merged. */
  int parts() {
    return parts.size();
  }

  @Override
  public boolean hasNext() {
    for (int tried = 0; tried < parts.size(); tried++) {
      if (!exhausted[turn]) {
        if (parts.get(turn).hasNext()) {
          return true;
        }
        exhausted[turn] = true;
      }
      turn = (turn + 1) % parts.size();
    }
    return false;
  }

  @Override
  public DataSet next() {
    if (!hasNext()) {
      throw new NoSuchElementException("every part has run out");
    }
    DataSet ds = parts.get(turn).next();
    turn = (turn + 1) % parts.size();
    return ds;
  }

  @Override
  public DataSet next(int num) {
    throw new UnsupportedOperationException("next(int): batches are the parts' own");
  }

  /**
   * Resets every part (each {@code AsyncDataSetIterator} stops its thread and starts another); the
   * next epoch starts at part 0.
   */
  @Override
  public void reset() {
    for (DataSetIterator p : parts) {
      p.reset();
    }
    Arrays.fill(exhausted, false);
    turn = 0;
  }

  @Override
  public boolean resetSupported() {
    return parts.stream().allMatch(DataSetIterator::resetSupported);
  }

  @Override
  public boolean asyncSupported() {
    return false; // the parts prefetch already
  }

  @Override
  public int inputColumns() {
    return parts.get(0).inputColumns();
  }

  @Override
  public int totalOutcomes() {
    return parts.get(0).totalOutcomes();
  }

  @Override
  public int batch() {
    return parts.get(0).batch();
  }

  /** Sets the pre-processor of every part (it runs on the parts' threads). */
  @Override
  public void setPreProcessor(DataSetPreProcessor preProcessor) {
    for (DataSetIterator p : parts) {
      p.setPreProcessor(preProcessor);
    }
  }

  @Override
  public DataSetPreProcessor getPreProcessor() {
    return parts.get(0).getPreProcessor();
  }

  @Override
  public List<String> getLabels() {
    return parts.get(0).getLabels();
  }

  /**
   * Shuts down every part that has a thread ({@code AsyncDataSetIterator}) and closes the others
   * that can be.
   */
  @Override
  public void close() throws Exception {
    List<Exception> failures = new ArrayList<>();
    for (DataSetIterator p : parts) {
      try {
        if (p instanceof AsyncDataSetIterator a) {
          a.shutdown();
        } else if (p instanceof AutoCloseable c) {
          c.close();
        }
      } catch (Exception e) {
        failures.add(e);
      }
    }
    if (!failures.isEmpty()) {
      Exception first = failures.get(0);
      failures.stream().skip(1).forEach(first::addSuppressed);
      throw first;
    }
  }
}
