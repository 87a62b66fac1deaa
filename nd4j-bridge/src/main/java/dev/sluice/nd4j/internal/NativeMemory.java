package dev.sluice.nd4j.internal;

import dev.sluice.loader.ElementType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** JavaCPP pointers over memory owned by someone else (Arrow or ND4J). They never free it. */
public final class NativeMemory {
  private NativeMemory() {}

  /** The ND4J data type of an element type. */
  public static DataType dataType(ElementType type) {
    return switch (type) {
      case UINT8 -> DataType.UBYTE;
      case INT8 -> DataType.BYTE;
      case INT16 -> DataType.SHORT;
      case INT32 -> DataType.INT;
      case INT64 -> DataType.LONG;
      case FLOAT32 -> DataType.FLOAT;
      case FLOAT64 -> DataType.DOUBLE;
    };
  }

  /**
   * A typed pointer of {@code elements} elements at address {@code at}, of the pointer class ND4J
   * expects for {@code type}. No deallocator: the memory stays its owner's.
   */
  public static Pointer typed(long at, long elements, ElementType type) {
    Pointer raw =
        new Pointer() {
          {
            address = at; // Pointer's protected field: the memory is not ours to allocate or free
          }
        };
    Pointer p =
        switch (type) {
          case UINT8, INT8 -> new BytePointer(raw);
          case INT16 -> new ShortPointer(raw);
          case INT32 -> new IntPointer(raw);
          case INT64 -> new LongPointer(raw);
          case FLOAT32 -> new FloatPointer(raw);
          case FLOAT64 -> new DoublePointer(raw);
        };
    return p.capacity(elements).limit(elements);
  }

  /** A native-order NIO view of an array's (host) buffer, which must be contiguous in 'c' order. */
  public static ByteBuffer hostBytes(INDArray array) {
    long bytes = array.length() * array.dataType().width();
    if (bytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("array of " + bytes + " bytes is too large for one batch");
    }
    Pointer p = array.data().addressPointer();
    long address = p.address() + array.offset() * array.dataType().width();
    BytePointer b = (BytePointer) typed(address, bytes, ElementType.UINT8);
    return b.asByteBuffer().order(ByteOrder.nativeOrder());
  }

  /** Copies {@code bytes} bytes between native addresses. */
  public static void copy(long from, long to, long bytes) {
    if (bytes > 0) {
      Pointer.memcpy(
          typed(to, bytes, ElementType.UINT8), typed(from, bytes, ElementType.UINT8), bytes);
    }
  }
}
