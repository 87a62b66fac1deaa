package dev.sluice.loader;

/** Element type of a tensor column. Values are stored little-endian, row-major. */
public enum ElementType {
  UINT8(1),
  INT8(1),
  INT16(2),
  INT32(4),
  INT64(8),
  FLOAT32(4),
  FLOAT64(8);

  private final int byteWidth;

  ElementType(int byteWidth) {
    this.byteWidth = byteWidth;
  }

  /** Bytes one element occupies. */
  public int byteWidth() {
    return byteWidth;
  }
}
