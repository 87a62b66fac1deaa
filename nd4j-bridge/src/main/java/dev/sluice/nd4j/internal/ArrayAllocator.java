package dev.sluice.nd4j.internal;

import dev.sluice.loader.Batch;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where the arrays of a conversion come from: fresh detached arrays ({@link #DETACHED}) or arrays
 * recycled from an {@link ArrayPool}. The contents of an allocated array are undefined: the
 * conversion writes every element. A pool's lease can also {@link #hold} the batch itself, so that
 * the item shares its memory instead of copying it.
 */
@FunctionalInterface
public interface ArrayAllocator {
  /** An uninitialised 'c'-ordered array of this type and shape, outside any workspace. */
  INDArray allocate(DataType type, long... shape);

  /**
   * Takes {@code batch} over (its buffers move, without a copy, into memory this allocator keeps
   * until the item built from it is released) and returns the new owner, whose memory the item may
   * share; or null when this allocator cannot hold batches, in which case the batch stays the
   * caller's and the item must copy. {@link #DETACHED} cannot: a detached item outlives everything.
   */
  default Batch hold(Batch batch) {
    return null;
  }

  /** Fresh arrays, detached from any workspace, owned by whoever receives them. */
  ArrayAllocator DETACHED = Nd4j::createUninitializedDetached;
}
