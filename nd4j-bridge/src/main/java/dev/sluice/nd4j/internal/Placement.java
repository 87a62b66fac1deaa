package dev.sluice.nd4j.internal;

import org.nd4j.linalg.api.concurrency.AffinityManager;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Moves ready arrays to the compute device ahead of use through ND4J's affinity manager: on the
 * CUDA backend a host-to-device copy on the prefetch thread rather than in the training step; on
 * the CPU backend nothing.
 */
public final class Placement {
  private Placement() {}

  /** Places every array of a data set on the device of the current thread. */
  public static DataSet onDevice(DataSet d) {
    place(d.getFeatures(), d.getLabels(), d.getFeaturesMaskArray(), d.getLabelsMaskArray());
    return d;
  }

  /** Places every array of a multi data set on the device of the current thread. */
  public static MultiDataSet onDevice(MultiDataSet d) {
    place(d.getFeatures());
    place(d.getLabels());
    place(d.getFeaturesMaskArrays());
    place(d.getLabelsMaskArrays());
    return d;
  }

  private static void place(INDArray... arrays) {
    if (arrays == null) {
      return;
    }
    AffinityManager affinity = Nd4j.getAffinityManager();
    for (INDArray a : arrays) {
      if (a != null) {
        affinity.ensureLocation(a, AffinityManager.Location.DEVICE);
      }
    }
  }
}
