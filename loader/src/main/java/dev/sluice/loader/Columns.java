package dev.sluice.loader;

import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;

/**
 * Arrow fields for the column kinds Sluice reads and writes. All columns are nullable but tensors.
 */
public final class Columns {
  private Columns() {}

  /** Variable-length bytes (an encoded image, a blob). */
  public static Field binary(String name) {
    return Field.nullable(name, ArrowType.Binary.INSTANCE);
  }

  /** UTF-8 text. */
  public static Field utf8(String name) {
    return Field.nullable(name, ArrowType.Utf8.INSTANCE);
  }

  /** 32-bit signed integers. */
  public static Field int32(String name) {
    return Field.nullable(name, new ArrowType.Int(32, true));
  }

  /** 64-bit signed integers. */
  public static Field int64(String name) {
    return Field.nullable(name, new ArrowType.Int(64, true));
  }

  /** 32-bit floats. */
  public static Field float32(String name) {
    return Field.nullable(name, new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE));
  }

  /** 64-bit floats. */
  public static Field float64(String name) {
    return Field.nullable(name, new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE));
  }

  /** Booleans. */
  public static Field bool(String name) {
    return Field.nullable(name, ArrowType.Bool.INSTANCE);
  }

  /** A tensor column: one fixed-shape tensor per row (see {@link TensorSpec}). */
  public static Field tensor(String name, ElementType type, int... shape) {
    return TensorSpec.of(type, shape).toField(name);
  }
}
