package dev.sluice.nd4j.internal;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where the arrays of a conversion come from: fresh detached arrays ({@link #DETACHED}) or arrays
 * recycled from an {@link ArrayPool}. The contents of an allocated array are undefined: the
 * conversion writes every element.
 */
@FunctionalInterface
public interface ArrayAllocator {
  /** An uninitialised 'c'-ordered array of this type and shape, outside any workspace. */
  INDArray allocate(DataType type, long... shape);

  /** Fresh arrays, detached from any workspace, owned by whoever receives them. */
  ArrayAllocator DETACHED = Nd4j::createUninitializedDetached;
}
