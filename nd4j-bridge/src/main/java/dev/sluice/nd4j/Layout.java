package dev.sluice.nd4j;

/**
 * How a per-row tensor of rank 3 is laid out in the {@code INDArray} the bridge builds. Sluice
 * stores images as decoders produce them, height x width x channels (NHWC once rows are stacked);
 * DL4J's convolution layers expect channels first (NCHW) unless configured otherwise.
 */
public enum Layout {
  /** The tensor as stored: {@code [rows, shape...]} (NHWC for images). */
  AS_STORED,
  /**
   * Channels first: a per-row shape {@code [h, w, c]} becomes {@code [rows, c, h, w]}. Needs a
   * per-row rank of 3; always a copy (a transposing one).
   */
  NCHW
}
