package dev.sluice.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

class RoundRobinDataSetIteratorTest {

  /** A part of {@code n} batches, each a distinct (empty) DataSet; counts resets and closes. */
  private static final class Part implements DataSetIterator, AutoCloseable {
    private static final long serialVersionUID = 1L;
    final transient List<DataSet> batches = new ArrayList<>();
    int at;
    int resets;
    boolean closed;

    Part(int n) {
      for (int i = 0; i < n; i++) {
        batches.add(new DataSet());
      }
    }

    @Override
    public boolean hasNext() {
      return at < batches.size();
    }

    @Override
    public DataSet next() {
      return batches.get(at++);
    }

    @Override
    public DataSet next(int num) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void reset() {
      at = 0;
      resets++;
    }

    @Override
    public void close() {
      closed = true;
    }

    @Override
    public int inputColumns() {
      return 0;
    }

    @Override
    public int totalOutcomes() {
      return 0;
    }

    @Override
    public boolean resetSupported() {
      return true;
    }

    @Override
    public boolean asyncSupported() {
      return false;
    }

    @Override
    public int batch() {
      return 1;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {}

    @Override
    public DataSetPreProcessor getPreProcessor() {
      return null;
    }

    @Override
    public List<String> getLabels() {
      return List.of();
    }
  }

  private static List<DataSet> drain(DataSetIterator it) {
    List<DataSet> out = new ArrayList<>();
    while (it.hasNext()) {
      out.add(it.next());
    }
    return out;
  }

  @Test
  void takesThePartsInTurnSkipsThoseRunOutAndDeliversEveryBatchOnce() throws Exception {
    Part a = new Part(3);
    Part b = new Part(1);
    Part c = new Part(2);
    try (RoundRobinDataSetIterator it = new RoundRobinDataSetIterator(List.of(a, b, c))) {
      List<DataSet> expected =
          List.of(
              a.batches.get(0),
              b.batches.get(0),
              c.batches.get(0),
              a.batches.get(1),
              c.batches.get(1),
              a.batches.get(2));
      assertThat(drain(it)).containsExactlyElementsOf(expected);
      assertThatThrownBy(it::next).isInstanceOf(NoSuchElementException.class);

      it.reset(); // every part reset, the turn back at the first
      assertThat(List.of(a.resets, b.resets, c.resets)).containsOnly(1);
      assertThat(drain(it)).containsExactlyElementsOf(expected);
    }
    assertThat(List.of(a.closed, b.closed, c.closed)).containsOnly(true);
  }

  @Test
  void needsAPart() {
    assertThatThrownBy(() -> new RoundRobinDataSetIterator(List.of()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
