package dev.sluice.loader.internal.convert;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * The one conversion of image bytes to floats, shared by the pipeline function ({@link
 * dev.sluice.loader.ToFloatImage}) and the DL4J bridge's conversion on its prefetch thread, so that
 * both give the same values: each byte {@code v} of channel {@code ch} becomes {@code v * a[ch] +
 * b[ch]} in float arithmetic, looked up in a table of the 256 possible values per channel.
 */
public final class FloatConversion {
  private FloatConversion() {}

  /**
   * Converts {@code rows} rows of {@code e} bytes each.
   *
   * @param in the bytes, from index 0
   * @param out the floats, from index 0 ({@code rows * e} of them)
   * @param hw with {@code hw > 0}, each row is {@code [h, w, c]} with {@code h * w = hw} and goes
   *     to {@code [c, h, w]} (channels first); with 0, rows stay as stored and the channel of a
   *     value is its index modulo {@code a.length}
   * @param a the factor per channel ({@code a.length} channels; one entry for all)
   * @param b the offset per channel (as many as {@code a})
   */
  public static void bytesToFloats(
      ByteBuffer in, FloatBuffer out, int rows, int e, int hw, float[] a, float[] b) {
    int c = a.length;
    if (c == 0 || b.length != c) {
      throw new IllegalArgumentException(
          "need one factor and one offset per channel: " + a.length + ", " + b.length);
    }
    float[][] value = new float[c][256];
    for (int ch = 0; ch < c; ch++) {
      for (int v = 0; v < 256; v++) {
        value[ch][v] = (float) v * a[ch] + b[ch];
      }
    }
    if (hw == 0) {
      int total = rows * e;
      if (c == 1) {
        float[] t = value[0];
        for (int k = 0; k < total; k++) {
          out.put(k, t[in.get(k) & 0xFF]);
        }
      } else {
        for (int k = 0; k < total; k++) {
          out.put(k, value[(k % e) % c][in.get(k) & 0xFF]);
        }
      }
      return;
    }
    if (c != 1 && hw * c != e) {
      throw new IllegalArgumentException(
          c + " channels of " + hw + " pixels do not make rows of " + e + " values");
    }
    int channels = e / hw;
    for (int r = 0; r < rows; r++) {
      int base = r * e;
      for (int ch = 0; ch < channels; ch++) {
        float[] t = value[c == 1 ? 0 : ch];
        int plane = base + ch * hw;
        for (int p = 0, at = base + ch; p < hw; p++, at += channels) {
          out.put(plane + p, t[in.get(at) & 0xFF]);
        }
      }
    }
  }
}
