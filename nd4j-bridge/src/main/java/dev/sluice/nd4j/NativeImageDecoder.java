package dev.sluice.nd4j;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.ImageHeader;
import dev.sluice.loader.TensorSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.MatVector;
import org.bytedeco.opencv.opencv_core.Size;

/**
 * Decodes an encoded image column (JPEG, PNG, ...) natively with OpenCV's {@code imdecode} (through
 * JavaCV, which DL4J already brings) into a uint8 tensor column {@code [H, W, C]} (RGB or gray,
 * row-major), resizing with area interpolation when shrinking and bilinear when growing. The pass
 * after decoding (colour swap, copy or resize) writes straight into the Arrow tensor buffer: no
 * intermediate copy. Same contract and output as the pure-Java {@link
 * dev.sluice.loader.ImageDecoder}: other columns are carried over; an image that does not decode is
 * a bad record naming its file and key.
 *
 * <p><b>Bad images.</b> Every image is first {@linkplain ImageHeader#check checked} from its
 * header, before OpenCV sees it: a recognised format that is cut short (a JPEG without its EOI
 * marker, which libjpeg would "repair" with gray and decode without error; a PNG without its IEND
 * chunk) or inconsistent, or that declares more than {@link #maxPixels} pixels ({@link
 * ImageHeader#DEFAULT_MAX_PIXELS} unless {@linkplain #withMaxPixels changed}), is a bad record, the
 * same inputs and words as the pure-Java decoder's; no pixel memory is allocated for it. An image
 * in a format the probe does not know (PNM, JPEG 2000, ...) is decoded under OpenCV's own limit and
 * then refused if it is over this one. Null, empty and undecodable images are bad records too. A
 * bad record is reported to the context's {@link dev.sluice.loader.BadRecords} naming its file and
 * entry: skipped and counted within the allowance, else the call fails with a {@link
 * dev.sluice.loader.SluiceException}.
 *
 * <p>Channel order: RGB, unlike DataVec's {@code NativeImageLoader}, which hands OpenCV's BGR on. A
 * model trained on DataVec's images expects BGR: reverse the channel axis for it.
 *
 * <p><b>Float output.</b> {@link #toFloat} makes a decoder that emits the model's input directly: a
 * float32 tensor column of {@code pixel * scale}, either {@code [H, W, C]} (RGB interleaved, {@link
 * Layout#AS_STORED}) or channels first {@code [C, H, W]} (R, G, B planes, {@link Layout#NCHW}). The
 * conversion runs in OpenCV's vectorised {@code convertTo}, inside this function, that is in the
 * pipeline's parallel tasks, rather than later on the bridge's single prefetch thread; and the
 * bridge has nothing left to convert: with a {@link FeatureColumn} of {@code DataType.FLOAT},
 * {@link Layout#AS_STORED} and scale 1, {@link ArrowToNd4j#isZeroCopy} holds and the column goes to
 * the model as it is: a view of the Arrow memory without any copy where the bridge shares columns
 * (the DL4J iterators with {@code shareBatchMemory}, {@link ArrowToNd4j#convert}, {@link
 * ModelInferenceFunction}), else a plain memory copy. So give the scale (say {@code 1 / 255.0}) to
 * the decoder, not to the feature column, and ask the feature column for {@code AS_STORED} even
 * after an NCHW decode: the column is already channels first (a feature column's NCHW would
 * transpose it again). The float values are exactly those of the uint8 output times {@code (float)
 * scale}. The cost: the column is four times the size of the uint8 one in Arrow memory, so the same
 * memory budget holds about a quarter as many batches ahead of the consumer; and for training on a
 * GPU, uint8 batches converted on the device move four times fewer bytes to it.
 *
 * <p>Immutable and thread-safe (it only counts its native decodes, for tests). Each call uses its
 * own native scratch matrices (the resized image, the RGB copy, the colour planes), kept across the
 * call's rows (OpenCV allocates again only when the size changes) and released before it returns.
 */
public final class NativeImageDecoder implements BatchFunction {
  private final String column;
  private final String output;
  private final int height;
  private final int width;
  private final int channels;

  /** UINT8 or FLOAT32. */
  private final ElementType type;

  /** The factor of the float output (1 for uint8). */
  private final double scale;

  /** The layout of the float output (AS_STORED for uint8). */
  private final Layout layout;

  /** Images declaring more pixels are bad records. */
  private final long maxPixels;

  /** Calls of OpenCV's imdecode (images refused from their header are not decoded). */
  private final LongAdder imdecodes = new LongAdder();

  private NativeImageDecoder(
      String column,
      String output,
      int height,
      int width,
      int channels,
      ElementType type,
      double scale,
      Layout layout,
      long maxPixels) {
    if (height <= 0 || width <= 0 || (channels != 1 && channels != 3)) {
      throw new IllegalArgumentException("need a positive size and 1 or 3 channels");
    }
    if (maxPixels <= 0) {
      throw new IllegalArgumentException("maxPixels must be positive: " + maxPixels);
    }
    this.column = column;
    this.output = output;
    this.height = height;
    this.width = width;
    this.channels = channels;
    this.type = type;
    this.scale = scale;
    this.layout = layout;
    this.maxPixels = maxPixels;
  }

  /**
   * A decoder of {@code column} into a uint8 tensor column {@code output} of shape {@code [height,
   * width, channels]}, refusing images of more than {@link ImageHeader#DEFAULT_MAX_PIXELS} pixels.
   */
  public static NativeImageDecoder of(
      String column, String output, int height, int width, int channels) {
    return new NativeImageDecoder(
        column,
        output,
        height,
        width,
        channels,
        ElementType.UINT8,
        1.0,
        Layout.AS_STORED,
        ImageHeader.DEFAULT_MAX_PIXELS);
  }

  /**
   * This decoder with another limit on an image's pixels (width times height): images declaring
   * more are bad records, refused from their header before decoding.
   *
   * @return a new decoder; this one is unchanged
   * @throws IllegalArgumentException when not positive
   */
  public NativeImageDecoder withMaxPixels(long maxPixels) {
    return new NativeImageDecoder(
        column, output, height, width, channels, type, scale, layout, maxPixels);
  }

  /** The limit on an image's pixels; images declaring more are bad records. */
  public long maxPixels() {
    return maxPixels;
  }

  /** How many images this decoder has handed to OpenCV's {@code imdecode} so far: for tests. */
  long imdecodes() {
    return imdecodes.sum();
  }

  /**
   * This decoder emitting float32 instead (see the class comment): values {@code pixel * scale},
   * per-row shape {@code [channels, height, width]} for {@link Layout#NCHW} (planes R, G, B for
   * colour) or {@code [height, width, channels]} for {@link Layout#AS_STORED} (RGB interleaved).
   * Pixels are resized (when they need it) as uint8 before the conversion, so the values are
   * exactly the uint8 decoder's times {@code (float) scale}.
   *
   * @param scale the factor applied to every pixel value, finite and positive ({@code 1 / 255.0}
   *     for values in [0, 1])
   * @param layout the layout of each row's tensor
   * @return a new decoder; this one is unchanged
   * @throws IllegalArgumentException when the scale is not finite and positive
   */
  public NativeImageDecoder toFloat(double scale, Layout layout) {
    Objects.requireNonNull(layout, "layout");
    if (!Double.isFinite(scale) || scale <= 0) {
      throw new IllegalArgumentException("scale must be finite and positive: " + scale);
    }
    return new NativeImageDecoder(
        column, output, height, width, channels, ElementType.FLOAT32, scale, layout, maxPixels);
  }

  /** The spec of the output column. */
  private TensorSpec spec() {
    return type == ElementType.FLOAT32 && layout == Layout.NCHW
        ? TensorSpec.of(type, channels, height, width)
        : TensorSpec.of(type, height, width, channels);
  }

  /** The schema of the output for an input schema. */
  public Schema outputSchema(Schema input) {
    List<Field> fields = new ArrayList<>();
    for (Field f : input.getFields()) {
      if (!f.getName().equals(column) && !f.getName().equals(output)) {
        fields.add(f);
      }
    }
    fields.add(spec().toField(output));
    return new Schema(fields);
  }

  @Override
  public Batch apply(Batch in, BatchContext ctx) {
    FieldVector encoded = in.vector(column);
    if (!(encoded instanceof BaseVariableWidthVector bytes)) {
      throw new IllegalArgumentException("column '" + column + "' is not a binary column");
    }
    int n = in.rowCount();
    TensorSpec spec = spec();
    int rowBytes = spec.rowBytes();
    Schema pixelsOnly = new Schema(List.of(spec.toField(output)));
    int[] good = new int[n];
    int kept = 0;
    Batch pixelBatch;
    try (BatchBuilder out =
            BatchBuilder.createUninitialized(
                ctx.allocator(), pixelsOnly, Math.max(n, 1), 0, in.sources());
        Scratch scratch = new Scratch(width, height)) {
      ArrowBuf pixels = out.tensorData(output);
      ArrowBuf data = bytes.getDataBuffer();
      for (int r = 0; r < n; r++) {
        if (bytes.isNull(r)) {
          report(in, r, ctx, new IllegalArgumentException("no image in column '" + column + "'"));
          continue;
        }
        long start = bytes.getStartOffset(r);
        int length = bytes.getValueLength(r);
        if (length == 0) { // (OpenCV asserts on an empty buffer)
          report(
              in,
              r,
              ctx,
              new IllegalArgumentException("empty image (0 bytes) in column '" + column + "'"));
          continue;
        }
        try {
          ImageHeader.check(data.nioBuffer(start, length), maxPixels);
        } catch (IOException e) {
          report(in, r, ctx, e);
          continue;
        }
        String failure =
            decodeInto(
                data.memoryAddress() + start,
                length,
                pixels.memoryAddress() + (long) kept * rowBytes,
                scratch);
        if (failure != null) {
          report(in, r, ctx, new IllegalArgumentException(failure));
          continue;
        }
        good[kept++] = r;
      }
      pixelBatch = out.build(kept);
    }
    // The other columns: shared with the input when every row decoded (the usual case), else the
    // rows that did, copied.
    try {
      if (kept == n) {
        return in.withColumnsOf(ctx.allocator(), List.of(column, output), pixelBatch);
      }
      try (Batch rows = in.select(ctx.allocator(), java.util.Arrays.copyOf(good, kept))) {
        return rows.withColumnsOf(ctx.allocator(), List.of(column, output), pixelBatch);
      }
    } finally {
      pixelBatch.close(); // (already consumed unless adding failed)
    }
  }

  /**
   * The native matrices one call reuses from row to row. OpenCV's {@code create} keeps a matrix's
   * memory when the size and type asked are those it has, so rows of one size allocate nothing
   * after the first; except the decoded image, whose memory must be released before each decode
   * (see {@link #decodeInto}).
   */
  private static final class Scratch implements AutoCloseable {
    /** What {@code imdecode} decodes into (BGR or gray uint8); its header only is reused. */
    final Mat decoded;

    /** The decoded image resized, when it is not of the output size. */
    final Mat resized;

    /** Colour to float AS_STORED: the RGB uint8 image before the conversion. */
    final Mat rgb;

    /** Colour to float NCHW: the B, G and R uint8 planes before the conversion. */
    final MatVector planes;

    /** The output size. */
    final Size size;

    Scratch(int width, int height) {
      List<Pointer> made = new ArrayList<>(5);
      try {
        decoded = add(made, new Mat());
        resized = add(made, new Mat());
        rgb = add(made, new Mat());
        planes = add(made, new MatVector(3));
        size = add(made, new Size(width, height));
      } catch (RuntimeException | Error e) {
        made.forEach(Pointer::close);
        throw e;
      }
    }

    private static <P extends Pointer> P add(List<Pointer> made, P p) {
      made.add(p);
      return p;
    }

    @Override
    public void close() {
      decoded.close();
      resized.close();
      rgb.close();
      planes.close();
      size.close();
    }
  }

  /**
   * Decodes the bytes at {@code src} into the output row at {@code dst}; null when done, else why
   * not (they do not decode, or decode to more than {@link #maxPixels}). OpenCV decodes into a
   * matrix of the scratch (only an empty result tells a failure apart), and the passes that follow
   * write the row in place: for uint8 the one that must follow anyway (the BGR to RGB swap for
   * colour, a copy for gray, the resize for another size); for float32 the resize if needed, then
   * the swap (AS_STORED) or the split into planes (NCHW), then the scaled conversion into the row.
   */
  private String decodeInto(long src, int length, long dst, Scratch s) {
    try (Pointer encodedBytes = at(src, length);
        Mat encoded = new Mat(1, length, opencv_core.CV_8UC1, encodedBytes)) {
      // Empty first: imdecode leaves its target as it was when it finds no decoder for the bytes or
      // cannot read their header, and the previous row's image must not pass for this one.
      s.decoded.release();
      imdecodes.increment();
      try (Mat same =
          opencv_imgcodecs.imdecode(
              encoded,
              channels == 1 ? opencv_imgcodecs.IMREAD_GRAYSCALE : opencv_imgcodecs.IMREAD_COLOR,
              s.decoded)) {
        // (a second header on s.decoded's memory, returned by value: released at once)
      }
      if (s.decoded.empty()) {
        return "OpenCV cannot decode the image (" + length + " bytes)";
      }
      if ((long) s.decoded.rows() * s.decoded.cols()
          > maxPixels) { // (a format without a header probe)
        return "the image decodes to "
            + s.decoded.cols()
            + " x "
            + s.decoded.rows()
            + " pixels, more than the limit of "
            + maxPixels
            + " pixels";
      }
      boolean resize = s.decoded.rows() != height || s.decoded.cols() != width;
      if (type == ElementType.UINT8) {
        decodedToBytes(s, resize, dst);
      } else {
        Mat sized = s.decoded;
        if (resize) {
          resize(s.decoded, s.resized, s);
          sized = s.resized;
        }
        sizedToFloats(sized, s, dst);
      }
      return null;
    }
  }

  /** uint8 output: the swap, copy or resize that must follow decoding writes the row. */
  private void decodedToBytes(Scratch s, boolean resize, long dst) {
    int cvType = channels == 1 ? opencv_core.CV_8UC1 : opencv_core.CV_8UC3;
    try (Pointer rowBytes = at(dst, (long) height * width * channels);
        Mat row = new Mat(height, width, cvType, rowBytes)) {
      Mat sized = s.decoded;
      if (resize) {
        sized = channels == 1 ? row : s.resized;
        resize(s.decoded, sized, s);
      }
      if (channels == 3) {
        opencv_imgproc.cvtColor(sized, row, opencv_imgproc.COLOR_BGR2RGB);
      } else if (sized != row) {
        sized.copyTo(row);
      }
      checkWrittenAt(row, dst);
    }
  }

  /** float32 output from the decoded image of the output size. */
  private void sizedToFloats(Mat sized, Scratch s, long dst) {
    long plane = (long) height * width * Float.BYTES;
    if (channels == 1) {
      convert(sized, dst, opencv_core.CV_32FC1, plane);
    } else if (layout == Layout.AS_STORED) {
      opencv_imgproc.cvtColor(sized, s.rgb, opencv_imgproc.COLOR_BGR2RGB);
      convert(s.rgb, dst, opencv_core.CV_32FC3, 3 * plane);
    } else {
      opencv_core.split(sized, s.planes);
      for (int c = 0; c < 3; c++) {
        // R, G, B: OpenCV's planes are B, G, R. (get gives a view of the vector's element.)
        try (Mat bgrPlane = s.planes.get(2 - c)) {
          convert(bgrPlane, dst + c * plane, opencv_core.CV_32FC1, plane);
        }
      }
    }
  }

  /**
   * Converts uint8 {@code from} to float32 times the scale into the {@code bytes} at {@code dst}.
   */
  private void convert(Mat from, long dst, int cvType, long bytes) {
    try (Pointer target = at(dst, bytes);
        Mat to = new Mat(height, width, cvType, target)) {
      from.convertTo(to, opencv_core.CV_32F, scale, 0);
      checkWrittenAt(to, dst);
    }
  }

  /** Resizes with area interpolation when shrinking, bilinear when growing. */
  private void resize(Mat from, Mat to, Scratch s) {
    boolean shrinking = from.rows() > height || from.cols() > width;
    opencv_imgproc.resize(
        from,
        to,
        s.size,
        0,
        0,
        shrinking ? opencv_imgproc.INTER_AREA : opencv_imgproc.INTER_LINEAR);
  }

  private static void checkWrittenAt(Mat m, long address) {
    if (m.data().address() != address) {
      throw new IllegalStateException(
          "OpenCV wrote the image to new memory instead of the tensor row");
    }
  }

  /** A pointer to native memory this class does not own (closing it frees nothing). */
  private static Pointer at(long memory, long bytes) {
    return new Pointer() {
      {
        address = memory; // (a parameter named address would be shadowed by Pointer's field here)
        capacity = bytes;
        limit = bytes;
      }
    };
  }

  /** Reports a bad row as the pure-Java decoder does: the same file, entry and wording. */
  private static void report(Batch in, int row, BatchContext ctx, Exception cause) {
    String file;
    if (in.hasColumn(Batch.URL_COLUMN) && !in.isNull(Batch.URL_COLUMN, row)) {
      file = in.getString(Batch.URL_COLUMN, row);
    } else {
      file = in.sources().isEmpty() ? null : String.join(", ", in.sources());
    }
    String key =
        in.hasColumn(Batch.KEY_COLUMN) && !in.isNull(Batch.KEY_COLUMN, row)
            ? in.getString(Batch.KEY_COLUMN, row)
            : "row " + row;
    String why = cause.getMessage() == null ? cause.toString() : cause.getMessage();
    ctx.badRecords()
        .report(
            ctx.operatorName(),
            file,
            key,
            new IOException(
                "cannot decode the image of " + in.describeRow(row) + ": " + why, cause));
  }
}
