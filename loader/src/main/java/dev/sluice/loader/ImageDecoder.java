package dev.sluice.loader;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.ComponentSampleModel;
import java.awt.image.DataBufferByte;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
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
 * <p><b>Bad images.</b> Every image is first {@linkplain ImageHeader#check checked} from its
 * header, before anything is decoded or allocated for it: a recognised format that is cut short (a
 * JPEG without its EOI marker, a PNG without its IEND chunk) or inconsistent, or that declares more
 * than {@link Builder#maxPixels} pixels, is refused there, exactly as the native decoder of {@code
 * sluice-nd4j-bridge} refuses it. A row whose image is null, so refused, not in a readable format,
 * larger than the limit (for a format the probe does not know, as ImageIO reads its header) or
 * decoded with a warning (such as damaged JPEG data, which ImageIO would otherwise fill with gray)
 * is reported to {@link BatchContext#badRecords()} naming the row's file and entry ({@link
 * Batch#describeRow}); within the allowance it is left out of the output, otherwise the resulting
 * {@link SluiceException} fails the call.
 *
 * <p>Images are read through an in-memory {@link MemoryCacheImageInputStream}, never ImageIO's
 * temporary-file cache (which makes decoding about 2.2 times slower), without changing the JVM-wide
 * {@link ImageIO#setUseCache} setting.
 *
 * <p>Immutable and thread-safe (it only counts its decodes, for tests): one instance may serve
 * every task.
 */
public final class ImageDecoder implements BatchFunction {
  /** The default encoded column (WebDataset's {@code .jpg}). */
  public static final String DEFAULT_COLUMN = "jpg";

  /** The default tensor column. */
  public static final String DEFAULT_OUTPUT = "image";

  /**
   * The default limit on an image's pixels (width times height) before decoding: 64 Mi, the same as
   * the native decoder's ({@link ImageHeader#DEFAULT_MAX_PIXELS}).
   */
  public static final long DEFAULT_MAX_PIXELS = ImageHeader.DEFAULT_MAX_PIXELS;

  private final String column;
  private final String output;
  private final int height;
  private final int width;
  private final int channels;
  private final boolean keepEncoded;
  private final long maxPixels;
  private final TensorSpec spec;

  /** Images handed to an ImageIO reader to decode (not those refused from their header). */
  private final LongAdder decodes = new LongAdder();

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

  /**
   * A builder with the defaults: column {@code jpg}, output {@code image}, 224 x 224, 3 channels.
   */
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
        throw new IllegalArgumentException(
            "image size must be positive: " + height + " x " + width);
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

    /**
     * Images declaring more pixels (width times height) than this are bad records, refused from
     * their header before decoding (default {@link #DEFAULT_MAX_PIXELS}).
     *
     * @throws IllegalArgumentException when not positive
     */
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
            "cannot keep the encoded column '"
                + column
                + "' and write the tensor under the same name");
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

  /** The limit on an image's pixels; images declaring more are bad records. */
  public long maxPixels() {
    return maxPixels;
  }

  /** How many images this decoder has handed to an ImageIO reader so far: for tests. */
  long decodes() {
    return decodes.sum();
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
    outputSchema(input.schema()); // checks the column and the output name
    List<String> notCarried = new ArrayList<>();
    for (Field f : input.schema().getFields()) {
      if (!carried(f)) {
        notCarried.add(f.getName());
      }
    }
    FieldVector encoded = input.vector(column);
    if (!(encoded instanceof BaseVariableWidthVector)
        && !(encoded instanceof FixedSizeBinaryVector)) {
      throw new IllegalArgumentException(
          "column '"
              + column
              + "' is "
              + encoded.getField().getType()
              + ", not binary encoded images");
    }
    int rows = input.rowCount();
    int rowBytes = spec.rowBytes();
    BufferAllocator allocator = context.allocator();
    VectorSchemaRoot root =
        VectorSchemaRoot.create(new Schema(List.of(spec.toField(output))), allocator);
    Batch pixelBatch;
    int[] good = new int[rows];
    int count = 0;
    try {
      FixedSizeBinaryVector tensor = (FixedSizeBinaryVector) root.getVector(output);
      BatchBuilder.allocateUninitialized(
          tensor, Math.max(rows, 1)); // every kept row is written in full
      ArrowBuf data = tensor.getDataBuffer();
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
      root.setRowCount(count);
      pixelBatch = new Batch(root, input.sources());
    } catch (RuntimeException | Error e) {
      root.close();
      throw e;
    }
    // The other columns: shared with the input when every row decoded, else the rows that did,
    // copied.
    try {
      if (count == rows) {
        return input.withColumnsOf(allocator, notCarried, pixelBatch);
      }
      try (Batch kept = input.select(allocator, java.util.Arrays.copyOf(good, count))) {
        return kept.withColumnsOf(allocator, notCarried, pixelBatch);
      }
    } finally {
      pixelBatch.close(); // (already consumed unless adding failed)
    }
  }

  /**
   * Decodes one encoded image into {@code height * width * channels} bytes, HWC, RGB order.
   *
   * @throws IOException when the bytes are not a readable image, are refused by {@link
   *     ImageHeader#check} (cut short, inconsistent, or more than {@link #maxPixels} pixels), or
   *     decode with a warning
   */
  public byte[] decode(byte[] encoded) throws IOException {
    ImageHeader.check(encoded, maxPixels);
    BufferedImage image = read(encoded);
    Pixels src = pixels(image);
    byte[] resized = Resampler.resize(src, image.getWidth(), image.getHeight(), width, height);
    return convert(resized, src.channels(), channels);
  }

  @Override
  public String toString() {
    return "ImageDecoder["
        + column
        + " -> "
        + output
        + " "
        + spec
        + (keepEncoded ? ", keeping " + column : "")
        + "]";
  }

  private boolean carried(Field f) {
    return keepEncoded || !f.getName().equals(column);
  }

  /**
   * Decodes with the JDK's own reader for the format when there is one (its JPEG reader decodes
   * natively and is several times faster than pure-Java plugins such as TwelveMonkeys', which DL4J
   * brings onto the class path and which ImageIO would otherwise pick first); another reader is
   * tried only when the JDK's cannot read the image (CMYK JPEGs, for example).
   */
  private BufferedImage read(byte[] encoded) throws IOException {
    List<ImageReader> readers = new ArrayList<>();
    try (ImageInputStream probe =
        new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
      ImageIO.getImageReaders(probe).forEachRemaining(readers::add);
    }
    if (readers.isEmpty()) {
      throw new IOException(
          "not an image format ImageIO reads ("
              + encoded.length
              + " bytes, starting with "
              + hex(encoded)
              + ")");
    }
    readers.sort(
        java.util.Comparator.comparing(
            r -> r.getClass().getName().startsWith("com.sun.imageio.") ? 0 : 1));
    IOException first = null;
    for (ImageReader reader : readers) {
      try {
        return read(reader, encoded);
      } catch (IOException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
        // Only an image the reader does not support goes to the next reader; a damaged one (an
        // error or a warning) is bad whatever reads it.
        String why = String.valueOf(e.getMessage());
        if (!why.contains("Unsupported") && !why.contains("unsupported")) {
          throw first;
        }
      } finally {
        reader.dispose();
      }
    }
    throw first;
  }

  private BufferedImage read(ImageReader reader, byte[] encoded) throws IOException {
    try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(encoded))) {
      List<String> warnings = new ArrayList<>();
      reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
      reader.setInput(in, true, true);
      // Formats the header probe knows were checked already; this covers the others ImageIO reads.
      long pixels = (long) reader.getWidth(0) * reader.getHeight(0);
      if (pixels > maxPixels) {
        throw ImageHeader.tooLarge(
            reader.getFormatName().toUpperCase(java.util.Locale.ROOT),
            reader.getWidth(0),
            reader.getHeight(0),
            maxPixels);
      }
      decodes.increment();
      BufferedImage image = reader.read(0);
      if (!warnings.isEmpty()) {
        throw new IOException(
            reader.getFormatName()
                + " image decodes with warnings: "
                + String.join("; ", warnings));
      }
      return image;
    }
  }

  private static String hex(byte[] bytes) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(8, bytes.length); i++) {
      sb.append(String.format("%02x", bytes[i]));
    }
    return sb.length() == 0 ? "nothing" : sb.toString();
  }

  /**
   * An image's 8-bit samples at its own size, read in place when the decoder's raster allows:
   * channel {@code k} of pixel {@code (x, y)} is {@code data[offset + y * scanline + x *
   * pixelStride + bands[k]]}; 1 channel (gray) or 3 (RGB).
   */
  private record Pixels(byte[] data, int offset, int pixelStride, int scanline, int[] bands) {
    int channels() {
      return bands.length;
    }

    static Pixels packed(byte[] data, int width, int channels) {
      return new Pixels(
          data, 0, channels, width * channels, channels == 1 ? new int[] {0} : new int[] {0, 1, 2});
    }
  }

  private static Pixels pixels(BufferedImage image) {
    int w = image.getWidth();
    int h = image.getHeight();
    ColorModel cm = image.getColorModel();
    Raster raster = image.getRaster();
    ColorSpace cs = cm.getColorSpace();
    boolean gray = cm instanceof ComponentColorModel && cs.getType() == ColorSpace.TYPE_GRAY;
    boolean rgb =
        cm instanceof ComponentColorModel && cs.isCS_sRGB() && cm.getNumColorComponents() == 3;
    if ((gray || rgb)
        && raster.getDataBuffer() instanceof DataBufferByte bytes
        && bytes.getNumBanks() == 1
        && raster.getSampleModel() instanceof ComponentSampleModel layout
        && Arrays.stream(layout.getBandOffsets()).allMatch(b -> b < layout.getPixelStride())) {
      // The usual case (JPEG, 8-bit PNG): pixel-interleaved bytes, read where the decoder put them.
      int[] offsets = layout.getBandOffsets();
      int[] bands = gray ? new int[] {offsets[0]} : new int[] {offsets[0], offsets[1], offsets[2]};
      int offset =
          bytes.getOffset()
              - raster.getSampleModelTranslateY() * layout.getScanlineStride()
              - raster.getSampleModelTranslateX() * layout.getPixelStride();
      return new Pixels(
          bytes.getData(), offset, layout.getPixelStride(), layout.getScanlineStride(), bands);
    }
    if (gray) {
      // Raw gray samples (16-bit, packed): Java2D would treat them as linear gray and
      // gamma-correct them on the way to sRGB, which is not what the file means.
      int bits = cm.getComponentSize(0);
      int[] samples = raster.getSamples(0, 0, w, h, 0, (int[]) null);
      byte[] out = new byte[w * h];
      for (int i = 0; i < out.length; i++) {
        out[i] = (byte) to8Bits(samples[i], bits);
      }
      return Pixels.packed(out, w, 1);
    }
    if (rgb) {
      int numBands = raster.getNumBands();
      int[] samples = raster.getPixels(0, 0, w, h, (int[]) null);
      int[] bits = {cm.getComponentSize(0), cm.getComponentSize(1), cm.getComponentSize(2)};
      byte[] out = new byte[w * h * 3];
      for (int p = 0, o = 0; o < out.length; p += numBands) {
        out[o++] = (byte) to8Bits(samples[p], bits[0]);
        out[o++] = (byte) to8Bits(samples[p + 1], bits[1]);
        out[o++] = (byte) to8Bits(samples[p + 2], bits[2]);
      }
      return Pixels.packed(out, w, 3);
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
    return Pixels.packed(out, w, 3);
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
    context
        .badRecords()
        .report(
            context.operatorName(),
            source,
            entry,
            new IOException(
                "cannot decode the image of " + input.describeRow(row) + ": " + why, cause));
  }

  /**
   * Separable resampling of interleaved 8-bit images: each output pixel along an axis is a weighted
   * sum of neighbouring source pixels, the weights precomputed per axis. The vertical pass runs
   * first, over whole source rows in their own byte order (a loop the JIT vectorizes); the
   * horizontal pass then picks the channels out of the blended row.
   */
  private static final class Resampler {
    /**
     * For output position {@code i}: source positions {@code first[i] .. first[i] + taps[i] - 1}
     * with weights {@code weight[i * maxTaps + t]}.
     */
    private record Axis(int[] first, int[] taps, float[] weight, int maxTaps) {
      static Axis of(int in, int out) {
        double scale = (double) in / out;
        int maxTaps = out < in ? (int) Math.ceil(scale) + 1 : 2;
        int[] first = new int[out];
        int[] taps = new int[out];
        float[] weight = new float[out * maxTaps];
        for (int i = 0; i < out; i++) {
          if (out < in) {
            // Area averaging: output pixel i covers the source interval [i * scale, (i + 1) *
            // scale).
            double lo = i * scale;
            double hi = Math.min(in, (i + 1) * scale);
            int from = (int) Math.floor(lo);
            int to = Math.min(in - 1, (int) Math.ceil(hi) - 1);
            first[i] = from;
            taps[i] = to - from + 1;
            for (int j = from; j <= to; j++) {
              weight[i * maxTaps + j - from] =
                  (float) ((Math.min(hi, j + 1) - Math.max(lo, j)) / scale);
            }
          } else {
            // Bilinear with pixel centres aligned; equal sizes give weight 1 on the same pixel.
            double pos = Math.max(0, Math.min(in - 1, (i + 0.5) * scale - 0.5));
            int j0 = (int) Math.floor(pos);
            float frac = (float) (pos - j0);
            first[i] = j0;
            if (frac == 0f || j0 == in - 1) {
              taps[i] = 1;
              weight[i * maxTaps] = 1f;
            } else {
              taps[i] = 2;
              weight[i * maxTaps] = 1f - frac;
              weight[i * maxTaps + 1] = frac;
            }
          }
        }
        return new Axis(first, taps, weight, maxTaps);
      }
    }

    static byte[] resize(Pixels src, int sw, int sh, int dw, int dh) {
      int c = src.channels();
      byte[] data = src.data();
      int stride = src.pixelStride();
      int scanline = src.scanline();
      int offset = src.offset();
      int[] bands = src.bands();
      byte[] out = new byte[dh * dw * c];
      if (sw == dw && sh == dh) {
        copy(src, sw, sh, out);
        return out;
      }
      Axis xs = Axis.of(sw, dw);
      Axis ys = Axis.of(sh, dh);
      int[] xFirst = xs.first();
      int[] xTaps = xs.taps();
      float[] xWeight = xs.weight();
      int xMax = xs.maxTaps();
      int rowBytes = sw * stride;
      float[] row = new float[rowBytes];
      int o = 0;
      for (int y = 0; y < dh; y++) {
        Arrays.fill(row, 0f);
        for (int t = 0; t < ys.taps()[y]; t++) {
          float w = ys.weight()[y * ys.maxTaps() + t];
          int from = offset + (ys.first()[y] + t) * scanline;
          for (int j = 0; j < rowBytes; j++) {
            row[j] += (data[from + j] & 0xff) * w;
          }
        }
        if (c == 3) {
          int b0 = bands[0];
          int b1 = bands[1];
          int b2 = bands[2];
          for (int x = 0; x < dw; x++) {
            float s0 = 0;
            float s1 = 0;
            float s2 = 0;
            int p = xFirst[x] * stride;
            for (int t = 0, wAt = x * xMax; t < xTaps[x]; t++, wAt++, p += stride) {
              float w = xWeight[wAt];
              s0 += row[p + b0] * w;
              s1 += row[p + b1] * w;
              s2 += row[p + b2] * w;
            }
            out[o++] = toByte(s0);
            out[o++] = toByte(s1);
            out[o++] = toByte(s2);
          }
        } else {
          int b0 = bands[0];
          for (int x = 0; x < dw; x++) {
            float s0 = 0;
            int p = xFirst[x] * stride + b0;
            for (int t = 0, wAt = x * xMax; t < xTaps[x]; t++, wAt++, p += stride) {
              s0 += row[p] * xWeight[wAt];
            }
            out[o++] = toByte(s0);
          }
        }
      }
      return out;
    }

    private static byte toByte(float v) {
      int i = (int) (v + 0.5f);
      return (byte) (i > 255 ? 255 : i);
    }

    private static void copy(Pixels src, int w, int h, byte[] out) {
      byte[] data = src.data();
      int stride = src.pixelStride();
      int[] bands = src.bands();
      int o = 0;
      if (bands.length == 3) {
        int b0 = bands[0];
        int b1 = bands[1];
        int b2 = bands[2];
        for (int y = 0; y < h; y++) {
          int p = src.offset() + y * src.scanline();
          for (int x = 0; x < w; x++, p += stride) {
            out[o++] = data[p + b0];
            out[o++] = data[p + b1];
            out[o++] = data[p + b2];
          }
        }
      } else {
        int b0 = bands[0];
        for (int y = 0; y < h; y++) {
          int p = src.offset() + y * src.scanline() + b0;
          for (int x = 0; x < w; x++, p += stride) {
            out[o++] = data[p];
          }
        }
      }
    }
  }
}
