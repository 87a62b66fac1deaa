package dev.sluice.loader;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.FixedSizeBinaryVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Decodes an encoded image column (JPEG, PNG, BMP, GIF, or any format {@code javax.imageio} reads)
 * into a {@code UINT8} tensor column of shape {@code [height, width, channels]} (row-major HWC,
 * channels in RGB order), in pure Java.
 *
 * <p>Each image is decoded at its own size, converted to the configured channels (gray is repeated
 * into RGB; RGB becomes gray by the ITU-R BT.601 luma {@code 0.299 R + 0.587 G + 0.114 B}; alpha is
 * dropped; 16-bit samples keep their high byte) and resized to {@code height x width}: by area
 * averaging along an axis that shrinks, by bilinear interpolation (pixel centres aligned) along one
 * that grows; an axis that keeps its size is copied exactly, so a PNG of the target size comes out
 * bit for bit. Aspect ratio is not preserved.
 *
 * <p><b>Output.</b> A new batch allocated in {@link BatchContext#allocator()}: the input's columns
 * (copied) except the encoded one (unless {@linkplain Builder#keepEncoded kept}), then the tensor
 * column, whose pixels are decoded straight into its buffer. The input is neither closed nor kept.
 *
 * <p><b>Bad images.</b> A row whose image is null, not in a readable format, larger than {@link
 * Builder#maxPixels} or decoded with a warning (such as a truncated JPEG, which ImageIO would
 * otherwise fill with gray) is reported to {@link BatchContext#badRecords()} naming the row's file and
 * entry ({@link Batch#describeRow}); within the allowance it is left out of the output, otherwise
 * the resulting {@link SluiceException} fails the call.
 *
 * <p>Images are read through an in-memory {@link MemoryCacheImageInputStream}, never ImageIO's
 * temporary-file cache (which makes decoding about 2.2 times slower), without changing the
 * JVM-wide {@link ImageIO#setUseCache} setting.
 *
 * <p>Immutable and stateless, hence thread-safe: one instance may serve every task.
 */
public final class ImageDecoder implements BatchFunction {
  /** The default encoded column (WebDataset's {@code .jpg}). */
  public static final String DEFAULT_COLUMN = "jpg";

  /** The default tensor column. */
  public static final String DEFAULT_OUTPUT = "image";

  /** The default limit on an image's pixels (width times height) before decoding: 64 Mi. */
  public static final long DEFAULT_MAX_PIXELS = 1L << 26;

  private final String column;
  private final String output;
  private final int height;
  private final int width;
  private final int channels;
  private final boolean keepEncoded;
  private final long maxPixels;
  private final TensorSpec spec;

  private ImageDecoder(Builder b) {
    this.column = b.column;
    this.output = b.output;
    this.height = b.height;
    this.width = b.width;
    this.channels = b.channels;
    this.keepEncoded = b.keepEncoded;
    this.maxPixels = b.maxPixels;
    this.spec = TensorSpec.of(ElementType.UINT8, height, width, channels);
  }

  /** A builder with the defaults: column {@code jpg}, output {@code image}, 224 x 224, 3 channels. */
  public static Builder builder() {
    return new Builder();
  }

  /** Configures an {@link ImageDecoder}. Not thread-safe. */
  public static final class Builder {
    private String column = DEFAULT_COLUMN;
    private String output = DEFAULT_OUTPUT;
    private int height = 224;
    private int width = 224;
    private int channels = 3;
    private boolean keepEncoded;
    private long maxPixels = DEFAULT_MAX_PIXELS;

    private Builder() {}

    /** The binary column holding the encoded images (default {@code jpg}). */
    public Builder column(String column) {
      this.column = Objects.requireNonNull(column, "column");
      return this;
    }

    /** The tensor column to write (default {@code image}). */
    public Builder output(String output) {
      this.output = Objects.requireNonNull(output, "output");
      return this;
    }

    /** The output height and width in pixels (default 224 x 224). */
    public Builder size(int height, int width) {
      if (height <= 0 || width <= 0) {
        throw new IllegalArgumentException("image size must be positive: " + height + " x " + width);
      }
      this.height = height;
      this.width = width;
      return this;
    }

    /** 3 for RGB (default), 1 for gray. */
    public Builder channels(int channels) {
      if (channels != 1 && channels != 3) {
        throw new IllegalArgumentException("channels must be 1 or 3: " + channels);
      }
      this.channels = channels;
      return this;
    }

    /** Whether the encoded column is carried into the output too (default false). */
    public Builder keepEncoded(boolean keepEncoded) {
      this.keepEncoded = keepEncoded;
      return this;
    }

    /** Images with more pixels than this are bad records, rejected before decoding. */
    public Builder maxPixels(long maxPixels) {
      if (maxPixels <= 0) {
        throw new IllegalArgumentException("maxPixels must be positive: " + maxPixels);
      }
      this.maxPixels = maxPixels;
      return this;
    }

    /**
     * The decoder.
     *
     * @throws IllegalArgumentException when the output would replace the encoded column that is to
     *     be kept
     */
    public ImageDecoder build() {
      if (keepEncoded && column.equals(output)) {
        throw new IllegalArgumentException(
            "cannot keep the encoded column '" + column + "' and write the tensor under the same name");
      }
      return new ImageDecoder(this);
    }
  }

  /** The encoded column. */
  public String column() {
    return column;
  }

  /** The tensor column. */
  public String output() {
    return output;
  }

  /** Output height in pixels. */
  public int height() {
    return height;
  }

  /** Output width in pixels. */
  public int width() {
    return width;
  }

  /** Output channels (1 or 3). */
  public int channels() {
    return channels;
  }

  /** Whether the encoded column is carried into the output. */
  public boolean keepEncoded() {
    return keepEncoded;
  }

  /** The spec of the tensor column: {@code UINT8 [height, width, channels]}. */
  public TensorSpec outputSpec() {
    return spec;
  }

  /**
   * The schema of the output for an input of schema {@code input}.
   *
   * @throws IllegalArgumentException when the input lacks the encoded column, or already has a
   *     column named like the output that would be carried over
   */
  public Schema outputSchema(Schema input) {
    if (input.findField(column) == null) {
      throw new IllegalArgumentException("no encoded image column '" + column + "' in " + input);
    }
    List<Field> fields = new ArrayList<>();
    for (Field f : input.getFields()) {
      if (carried(f)) {
        if (f.getName().equals(output)) {
          throw new IllegalArgumentException(
              "the input already has a column '" + output + "'; choose another output name");
        }
        fields.add(f);
      }
    }
    fields.add(spec.toField(output));
    return new Schema(fields);
  }

  @Override
  public Batch apply(Batch input, BatchContext context) {
    Schema schema = outputSchema(input.schema());
    FieldVector encoded = input.vector(column);
    if (!(encoded instanceof BaseVariableWidthVector) && !(encoded instanceof FixedSizeBinaryVector)) {
      throw new IllegalArgumentException(
          "column '" + column + "' is " + encoded.getField().getType() + ", not binary encoded images");
    }
    int rows = input.rowCount();
    int rowBytes = spec.rowBytes();
    BufferAllocator allocator = context.allocator();
    VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
    try {
      FixedSizeBinaryVector tensor = (FixedSizeBinaryVector) root.getVector(output);
      tensor.allocateNew(Math.max(rows, 1));
      ArrowBuf data = tensor.getDataBuffer();
      int[] good = new int[rows];
      int count = 0;
      for (int r = 0; r < rows; r++) {
        try {
          byte[] bytes = input.getBytes(column, r);
          if (bytes == null) {
            throw new IOException("the encoded image is null");
          }
          byte[] pixels = decode(bytes);
          data.setBytes((long) count * rowBytes, pixels, 0, rowBytes);
          tensor.setIndexDefined(count);
          good[count++] = r;
        } catch (IOException | RuntimeException e) {
          // Within the allowance the row is left out; otherwise report() throws, naming it.
          reportBadRow(input, r, context, e);
        }
      }
      tensor.setValueCount(count);
      for (Field f : schema.getFields()) {
        if (!f.getName().equals(output)) {
          copyRows(input.vector(f.getName()), root.getVector(f.getName()), good, count);
        }
      }
      root.setRowCount(count);
      return new Batch(root, input.sources());
    } catch (RuntimeException | Error e) {
      root.close();
      throw e;
    }
  }

  /**
   * Decodes one encoded image into {@code height * width * channels} bytes, HWC, RGB order.
   *
   * @throws IOException when the bytes are not a readable image, the image is too large, or it
   *     decodes with a warning
   */
  public byte[] decode(byte[] encoded) throws IOException {
    BufferedImage image = read(encoded);
    int sw = image.getWidth();
    int sh = image.getHeight();
    Pixels src = pixels(image);
    byte[] resized = Resampler.resize(src.data, sw, sh, src.channels, width, height);
    return convert(resized, src.channels, channels);
  }

  @Override
  public String toString() {
    return "ImageDecoder[" + column + " -> " + output + " " + spec + (keepEncoded ? ", keeping " + column : "") + "]";
  }

  private boolean carried(Field f) {
    return keepEncoded || !f.getName().equals(column);
  }

  private BufferedImage read(byte[] encoded) throws IOException {
    try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
      Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
      if (!readers.hasNext()) {
        throw new IOException("not an image format ImageIO reads (" + encoded.length + " bytes, starting with " + hex(encoded) + ")");
      }
      ImageReader reader = readers.next();
      List<String> warnings = new ArrayList<>();
      reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
      try {
        reader.setInput(in, true, true);
        long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
        if (pixels > maxPixels) {
          throw new IOException(
              "image of " + reader.getWidth(0) + " x " + reader.getHeight(0) + " pixels exceeds the limit of " + maxPixels);
        }
        BufferedImage image = reader.read(0);
        if (!warnings.isEmpty()) {
          throw new IOException(reader.getFormatName() + " image decodes with warnings: " + String.join("; ", warnings));
        }
        return image;
      } finally {
        reader.dispose();
      }
    }
  }

  private static String hex(byte[] bytes) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(8, bytes.length); i++) {
      sb.append(String.format("%02x", bytes[i]));
    }
    return sb.length() == 0 ? "nothing" : sb.toString();
  }

  /** An image's samples at its own size: 1 channel (gray) or 3 (RGB), interleaved. */
  private record Pixels(byte[] data, int channels) {}

  private static Pixels pixels(BufferedImage image) {
    int w = image.getWidth();
    int h = image.getHeight();
    ColorModel cm = image.getColorModel();
    Raster raster = image.getRaster();
    ColorSpace cs = cm.getColorSpace();
    if (cm instanceof ComponentColorModel && cs.getType() == ColorSpace.TYPE_GRAY) {
      // Raw gray samples: Java2D would treat them as linear gray and gamma-correct them on the way
      // to sRGB, which is not what the file means.
      int bits = cm.getComponentSize(0);
      int[] samples = raster.getSamples(0, 0, w, h, 0, (int[]) null);
      byte[] out = new byte[w * h];
      for (int i = 0; i < out.length; i++) {
        out[i] = (byte) to8Bits(samples[i], bits);
      }
      return new Pixels(out, 1);
    }
    if (cm instanceof ComponentColorModel && cs.isCS_sRGB() && cm.getNumColorComponents() == 3) {
      int bands = raster.getNumBands();
      int[] samples = raster.getPixels(0, 0, w, h, (int[]) null);
      int[] bits = {cm.getComponentSize(0), cm.getComponentSize(1), cm.getComponentSize(2)};
      byte[] out = new byte[w * h * 3];
      for (int p = 0, o = 0; o < out.length; p += bands) {
        out[o++] = (byte) to8Bits(samples[p], bits[0]);
        out[o++] = (byte) to8Bits(samples[p + 1], bits[1]);
        out[o++] = (byte) to8Bits(samples[p + 2], bits[2]);
      }
      return new Pixels(out, 3);
    }
    // Palettes, packed RGB, other colour spaces: let the colour model convert to sRGB.
    int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
    byte[] out = new byte[w * h * 3];
    for (int i = 0, o = 0; i < argb.length; i++) {
      int v = argb[i];
      out[o++] = (byte) (v >> 16);
      out[o++] = (byte) (v >> 8);
      out[o++] = (byte) v;
    }
    return new Pixels(out, 3);
  }

  private static int to8Bits(int sample, int bits) {
    if (bits == 8) {
      return sample;
    }
    if (bits > 8) {
      return sample >>> (bits - 8);
    }
    return sample * 255 / ((1 << bits) - 1);
  }

  private static byte[] convert(byte[] src, int from, int to) {
    if (from == to) {
      return src;
    }
    if (from == 1) {
      byte[] out = new byte[src.length * 3];
      for (int i = 0, o = 0; i < src.length; i++) {
        out[o++] = src[i];
        out[o++] = src[i];
        out[o++] = src[i];
      }
      return out;
    }
    byte[] out = new byte[src.length / 3];
    for (int i = 0, s = 0; i < out.length; i++, s += 3) {
      int r = src[s] & 0xff;
      int g = src[s + 1] & 0xff;
      int b = src[s + 2] & 0xff;
      out[i] = (byte) ((299 * r + 587 * g + 114 * b + 500) / 1000);
    }
    return out;
  }

  private static void reportBadRow(Batch input, int row, BatchContext context, Exception cause) {
    String source;
    if (input.hasColumn(Batch.URL_COLUMN) && !input.isNull(Batch.URL_COLUMN, row)) {
      source = input.getString(Batch.URL_COLUMN, row);
    } else {
      source = input.sources().isEmpty() ? null : String.join(", ", input.sources());
    }
    String entry =
        input.hasColumn(Batch.KEY_COLUMN) && !input.isNull(Batch.KEY_COLUMN, row)
            ? input.getString(Batch.KEY_COLUMN, row)
            : "row " + row;
    String why = cause.getMessage() == null ? cause.toString() : cause.getMessage();
    context.badRecords().report(
        context.operatorName(),
        source,
        entry,
        new IOException("cannot decode the image of " + input.describeRow(row) + ": " + why, cause));
  }

  private static void copyRows(FieldVector from, FieldVector to, int[] rows, int count) {
    long varBytes = 0;
    if (from instanceof BaseVariableWidthVector var) {
      for (int i = 0; i < count; i++) {
        varBytes += var.isNull(rows[i]) ? 0 : var.getValueLength(rows[i]);
      }
    }
    Batch.allocate(to, count, varBytes);
    for (int i = 0; i < count; i++) {
      to.copyFromSafe(rows[i], i, from);
    }
    to.setValueCount(count);
  }

  /**
   * Separable resampling of interleaved 8-bit images: each output pixel along an axis is a weighted
   * sum of source pixels, the weights precomputed per axis.
   */
  private static final class Resampler {
    /** For each output position, the source positions it reads and their weights. */
    private record Axis(int[][] index, float[][] weight) {
      static Axis of(int in, int out) {
        int[][] index = new int[out][];
        float[][] weight = new float[out][];
        if (out < in) {
          // Area averaging: output pixel i covers source interval [i * scale, (i + 1) * scale).
          double scale = (double) in / out;
          for (int i = 0; i < out; i++) {
            double lo = i * scale;
            double hi = Math.min(in, (i + 1) * scale);
            int first = (int) Math.floor(lo);
            int last = Math.min(in - 1, (int) Math.ceil(hi) - 1);
            index[i] = new int[last - first + 1];
            weight[i] = new float[last - first + 1];
            for (int j = first; j <= last; j++) {
              double overlap = Math.min(hi, j + 1) - Math.max(lo, j);
              index[i][j - first] = j;
              weight[i][j - first] = (float) (overlap / scale);
            }
          }
        } else {
          // Bilinear with pixel centres aligned; equal sizes give weight 1 on the same pixel.
          double scale = (double) in / out;
          for (int i = 0; i < out; i++) {
            double pos = Math.max(0, Math.min(in - 1, (i + 0.5) * scale - 0.5));
            int j0 = (int) Math.floor(pos);
            int j1 = Math.min(in - 1, j0 + 1);
            float frac = (float) (pos - j0);
            if (frac == 0f || j1 == j0) {
              index[i] = new int[] {j0};
              weight[i] = new float[] {1f};
            } else {
              index[i] = new int[] {j0, j1};
              weight[i] = new float[] {1f - frac, frac};
            }
          }
        }
        return new Axis(index, weight);
      }
    }

    static byte[] resize(byte[] src, int sw, int sh, int c, int dw, int dh) {
      if (sw == dw && sh == dh) {
        return src;
      }
      Axis xs = Axis.of(sw, dw);
      Axis ys = Axis.of(sh, dh);
      float[] rowsResized = new float[sh * dw * c];
      for (int y = 0; y < sh; y++) {
        int srcRow = y * sw * c;
        int dstRow = y * dw * c;
        for (int x = 0; x < dw; x++) {
          int[] idx = xs.index()[x];
          float[] w = xs.weight()[x];
          for (int k = 0; k < c; k++) {
            float sum = 0;
            for (int t = 0; t < idx.length; t++) {
              sum += (src[srcRow + idx[t] * c + k] & 0xff) * w[t];
            }
            rowsResized[dstRow + x * c + k] = sum;
          }
        }
      }
      byte[] out = new byte[dh * dw * c];
      int rowLength = dw * c;
      for (int y = 0; y < dh; y++) {
        int[] idx = ys.index()[y];
        float[] w = ys.weight()[y];
        int dstRow = y * rowLength;
        for (int i = 0; i < rowLength; i++) {
          float sum = 0;
          for (int t = 0; t < idx.length; t++) {
            sum += rowsResized[idx[t] * rowLength + i] * w[t];
          }
          int v = Math.round(sum);
          out[dstRow + i] = (byte) (v < 0 ? 0 : Math.min(v, 255));
        }
      }
      return out;
    }
  }
}
