package dev.sluice.nd4j.internal;

import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Cutting and joining {@code DataSet}s and {@code MultiDataSet}s along the example axis, always
 * into fresh arrays outside any workspace, for {@code next(int)}.
 */
public interface Examples<T> {

  /** Examples in the item. */
  long count(T item);

  /** Examples {@code [from, to)} as a fresh item. */
  T slice(T item, long from, long to);

  /** The items joined in order, as a fresh item (or the only item itself). */
  T join(List<T> items);

  /** Frees an item's arrays now rather than at garbage collection. */
  void release(T item);

  /** The operations on {@code DataSet}s. */
  Examples<DataSet> DATA_SET =
      new Examples<>() {
        @Override
        public long count(DataSet d) {
          return d.getFeatures().size(0);
        }

        @Override
        public DataSet slice(DataSet d, long from, long to) {
          return new DataSet(
              rows(d.getFeatures(), from, to),
              rows(d.getLabels(), from, to),
              rows(d.getFeaturesMaskArray(), from, to),
              rows(d.getLabelsMaskArray(), from, to));
        }

        @Override
        public DataSet join(List<DataSet> items) {
          if (items.size() == 1) {
            return items.get(0);
          }
          return new DataSet(
              concat(items, DataSet::getFeatures),
              concat(items, DataSet::getLabels),
              concat(items, DataSet::getFeaturesMaskArray),
              concat(items, DataSet::getLabelsMaskArray));
        }

        @Override
        public void release(DataSet d) {
          close(d.getFeatures(), d.getLabels(), d.getFeaturesMaskArray(), d.getLabelsMaskArray());
        }
      };

  /** The operations on {@code MultiDataSet}s. */
  Examples<MultiDataSet> MULTI_DATA_SET =
      new Examples<>() {
        @Override
        public long count(MultiDataSet d) {
          return d.getFeatures(0).size(0);
        }

        @Override
        public MultiDataSet slice(MultiDataSet d, long from, long to) {
          return new org.nd4j.linalg.dataset.MultiDataSet(
              rows(d.getFeatures(), from, to),
              rows(d.getLabels(), from, to),
              rows(d.getFeaturesMaskArrays(), from, to),
              rows(d.getLabelsMaskArrays(), from, to));
        }

        @Override
        public MultiDataSet join(List<MultiDataSet> items) {
          if (items.size() == 1) {
            return items.get(0);
          }
          MultiDataSet first = items.get(0);
          return new org.nd4j.linalg.dataset.MultiDataSet(
              concatAll(items, first.getFeatures().length, MultiDataSet::getFeatures),
              concatAll(items, first.getLabels().length, MultiDataSet::getLabels),
              concatAll(items, first.getFeatures().length, MultiDataSet::getFeaturesMaskArrays),
              concatAll(items, first.getLabels().length, MultiDataSet::getLabelsMaskArrays));
        }

        @Override
        public void release(MultiDataSet d) {
          close(d.getFeatures());
          close(d.getLabels());
          close(d.getFeaturesMaskArrays());
          close(d.getLabelsMaskArrays());
        }
      };

  private static INDArray rows(INDArray a, long from, long to) {
    if (a == null) {
      return null;
    }
    INDArrayIndex[] idx = new INDArrayIndex[a.rank()];
    idx[0] = NDArrayIndex.interval(from, to);
    for (int i = 1; i < idx.length; i++) {
      idx[i] = NDArrayIndex.all();
    }
    try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
      return a.get(idx).dup('c');
    }
  }

  private static INDArray[] rows(INDArray[] a, long from, long to) {
    if (a == null) {
      return null;
    }
    INDArray[] out = new INDArray[a.length];
    for (int i = 0; i < a.length; i++) {
      out[i] = rows(a[i], from, to);
    }
    return out;
  }

  private static <T> INDArray concat(List<T> items, java.util.function.Function<T, INDArray> part) {
    List<INDArray> parts = new ArrayList<>();
    for (T t : items) {
      INDArray a = part.apply(t);
      if (a == null) {
        return null;
      }
      parts.add(a);
    }
    try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
      return Nd4j.concat(0, parts.toArray(INDArray[]::new));
    }
  }

  private static <T> INDArray[] concatAll(
      List<T> items, int n, java.util.function.Function<T, INDArray[]> part) {
    if (part.apply(items.get(0)) == null) {
      return null;
    }
    INDArray[] out = new INDArray[n];
    for (int i = 0; i < n; i++) {
      int k = i;
      out[i] = concat(items, t -> part.apply(t)[k]);
    }
    return out;
  }

  private static void close(INDArray... arrays) {
    if (arrays == null) {
      return;
    }
    for (INDArray a : arrays) {
      if (a != null && a.closeable()) {
        a.close();
      }
    }
  }
}
