package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.ImageHeader;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.TensorSpec;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Scalar;
import org.junit.jupiter.api.Test;

class NativeImageDecoderTest {
  private static final Schema IN =
      new Schema(
          List.of(Columns.utf8(Batch.KEY_COLUMN), Columns.binary("img"), Columns.int32("label")));

  private static BufferedImage pattern(int w, int h) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, ((x * 7) & 0xFF) << 16 | ((y * 5) & 0xFF) << 8 | ((x + y) & 0xFF));
      }
    }
    return img;
  }

  private static byte[] encode(BufferedImage img, String format) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(img, format, out);
    return out.toByteArray();
  }

  private static Batch input(BufferAllocator a, byte[]... images) {
    try (BatchBuilder b = BatchBuilder.create(a, IN, images.length)) {
      for (int i = 0; i < images.length; i++) {
        b.setString(Batch.KEY_COLUMN, i, "k" + i);
        b.setBytes("img", i, images[i]);
        b.setLong("label", i, i);
      }
      return b.build(images.length);
    }
  }

  private static BatchContext ctx(BufferAllocator a, BadRecords bad) {
    return BatchContext.of(a, bad, "Decode");
  }

  @Test
  void pngDecodesExactlyAsRgbHwcAndCarriesColumns() throws IOException {
    BufferedImage img = pattern(40, 30);
    try (RootAllocator a = new RootAllocator();
        Batch in = input(a, encode(img, "png"), encode(img, "png"));
        Batch out =
            NativeImageDecoder.of("img", "pixels", 30, 40, 3)
                .apply(in, ctx(a, BadRecords.none()))) {
      assertThat(out.rowCount()).isEqualTo(2);
      assertThat(out.hasColumn("img")).isFalse();
      assertThat(out.getLong("label", 1)).isEqualTo(1);
      assertThat(out.getString(Batch.KEY_COLUMN, 1)).isEqualTo("k1");
      ArrowBuf px = out.tensorData("pixels");
      long row = 30 * 40 * 3;
      for (int y = 0; y < 30; y++) {
        for (int x = 0; x < 40; x++) {
          int rgb = img.getRGB(x, y);
          long at = row + (long) (y * 40 + x) * 3;
          assertThat(px.getByte(at) & 0xFF).isEqualTo((rgb >> 16) & 0xFF);
          assertThat(px.getByte(at + 1) & 0xFF).isEqualTo((rgb >> 8) & 0xFF);
          assertThat(px.getByte(at + 2) & 0xFF).isEqualTo(rgb & 0xFF);
        }
      }
    }
  }

  @Test
  void jpegResizedAndGrayscaleAreClose() throws IOException {
    BufferedImage img = pattern(64, 48);
    try (RootAllocator a = new RootAllocator();
        Batch in = input(a, encode(img, "jpg"));
        Batch out =
            NativeImageDecoder.of("img", "pixels", 24, 32, 1)
                .apply(in, ctx(a, BadRecords.none()))) {
      assertThat(out.tensorSpec("pixels").shape()).containsExactly(24, 32, 1);
      // The centre pixel of the halved image against the source's 2x2 block, as gray.
      int x = 16;
      int y = 12;
      double expected = 0;
      for (int dy = 0; dy < 2; dy++) {
        for (int dx = 0; dx < 2; dx++) {
          int rgb = img.getRGB(2 * x + dx, 2 * y + dy);
          expected +=
              0.299 * ((rgb >> 16) & 0xFF) + 0.587 * ((rgb >> 8) & 0xFF) + 0.114 * (rgb & 0xFF);
        }
      }
      expected /= 4;
      assertThat((double) (out.tensorData("pixels").getByte(y * 32 + x) & 0xFF))
          .isCloseTo(expected, org.assertj.core.data.Offset.offset(12.0));
    }
  }

  @Test
  void aCorruptImageIsABadRecordNamingItsKey() throws IOException {
    byte[] good = encode(pattern(8, 8), "png");
    byte[] bad = new byte[] {1, 2, 3, 4, 5};
    try (RootAllocator a = new RootAllocator()) {
      try (Batch in = input(a, good, bad)) {
        assertThatThrownBy(
                () ->
                    NativeImageDecoder.of("img", "pixels", 8, 8, 3)
                        .apply(in, ctx(a, BadRecords.none())))
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining("k1")
            .hasMessageContaining("decode");
      }
      BadRecords allowance = new BadRecords(1);
      try (Batch in = input(a, good, bad);
          Batch out =
              NativeImageDecoder.of("img", "pixels", 8, 8, 3).apply(in, ctx(a, allowance))) {
        assertThat(out.rowCount()).isEqualTo(1);
        assertThat(out.getString(Batch.KEY_COLUMN, 0)).isEqualTo("k0");
        assertThat(allowance.skipped()).isEqualTo(1);
      }
    }
  }

  // ---- float output ----

  private static final double SCALE = 1 / 255.0;

  /** One decoder run, copied out of Arrow memory: the kept keys, the output spec, every value. */
  private record Decoded(List<String> keys, TensorSpec spec, float[] values, long skipped) {
    /** The values of one kept row. */
    float[] row(int r) {
      int e = spec.elementCount();
      return Arrays.copyOfRange(values, r * e, (r + 1) * e);
    }
  }

  /**
   * Runs {@code decoder} on a batch of {@code images} (keys k0, k1, ...) with an allowance of
   * {@code allowance} bad records, copies the output out and checks that the allocator is left with
   * no memory outstanding.
   */
  private static Decoded run(NativeImageDecoder decoder, long allowance, byte[]... images) {
    BadRecords bad = new BadRecords(allowance);
    Decoded d;
    try (RootAllocator a = new RootAllocator()) {
      try (Batch in = input(a, images);
          Batch out = decoder.apply(in, ctx(a, bad))) {
        TensorSpec spec = out.tensorSpec("pixels");
        List<String> keys = new ArrayList<>();
        for (int r = 0; r < out.rowCount(); r++) {
          keys.add(out.getString(Batch.KEY_COLUMN, r));
          assertThat(out.getLong("label", r)).isEqualTo(Long.parseLong(keys.get(r).substring(1)));
        }
        ArrowBuf data = out.tensorData("pixels");
        float[] values = new float[out.rowCount() * spec.elementCount()];
        for (int i = 0; i < values.length; i++) {
          values[i] =
              spec.elementType() == ElementType.UINT8
                  ? data.getByte(i) & 0xFF
                  : data.getFloat(4L * i);
        }
        d = new Decoded(keys, spec, values, bad.skipped());
      }
      assertThat(a.getAllocatedMemory()).isZero();
    }
    return d;
  }

  /** The uint8 HWC values scaled as the float decoder must give them, laid out CHW when asked. */
  private static float[] expectedFloats(float[] hwc, int h, int w, int c, Layout layout) {
    float s = (float) SCALE;
    float[] out = new float[hwc.length];
    int e = h * w * c;
    for (int base = 0; base < hwc.length; base += e) {
      for (int p = 0; p < h * w; p++) {
        for (int ch = 0; ch < c; ch++) {
          int to = layout == Layout.NCHW ? ch * h * w + p : p * c + ch;
          out[base + to] = hwc[base + p * c + ch] * s;
        }
      }
    }
    return out;
  }

  @Test
  void floatNchwOfAPngIsTheRgbDecodeTransposedTimesTheScale() throws IOException {
    BufferedImage img = pattern(40, 30);
    byte[] png = encode(img, "png");
    Decoded f =
        run(
            NativeImageDecoder.of("img", "pixels", 30, 40, 3).toFloat(SCALE, Layout.NCHW),
            0,
            png,
            png);
    assertThat(f.keys()).containsExactly("k0", "k1");
    assertThat(f.spec().elementType()).isEqualTo(ElementType.FLOAT32);
    assertThat(f.spec().shape()).containsExactly(3, 30, 40);
    // Against the source pixels: plane R, then G, then B.
    float[] row = f.row(1);
    for (int y = 0; y < 30; y++) {
      for (int x = 0; x < 40; x++) {
        int rgb = img.getRGB(x, y);
        int p = y * 40 + x;
        assertThat(row[p]).isEqualTo(((rgb >> 16) & 0xFF) * (float) SCALE);
        assertThat(row[1200 + p]).isEqualTo(((rgb >> 8) & 0xFF) * (float) SCALE);
        assertThat(row[2400 + p]).isEqualTo((rgb & 0xFF) * (float) SCALE);
      }
    }
    // Against the uint8 decoder, bit for bit, without and with a resize (shrinking and growing):
    // the resize is done on the uint8 pixels, before the conversion.
    for (int[] size : new int[][] {{30, 40}, {15, 20}, {13, 17}, {45, 61}}) {
      NativeImageDecoder bytes = NativeImageDecoder.of("img", "pixels", size[0], size[1], 3);
      float[] u8 = run(bytes, 0, png).values();
      Decoded nchw = run(bytes.toFloat(SCALE, Layout.NCHW), 0, png);
      assertThat(nchw.spec().shape()).containsExactly(3, size[0], size[1]);
      assertThat(nchw.values())
          .containsExactly(expectedFloats(u8, size[0], size[1], 3, Layout.NCHW));
    }
  }

  @Test
  void floatAsStoredIsTheUint8OutputTimesTheScale() throws IOException {
    byte[] png = encode(pattern(40, 30), "png");
    byte[] jpg = encode(pattern(64, 48), "jpg");
    for (int[] size : new int[][] {{30, 40}, {24, 32}, {50, 70}}) {
      NativeImageDecoder bytes = NativeImageDecoder.of("img", "pixels", size[0], size[1], 3);
      float[] u8 = run(bytes, 0, png, jpg).values();
      Decoded f = run(bytes.toFloat(SCALE, Layout.AS_STORED), 0, png, jpg);
      assertThat(f.spec()).isEqualTo(TensorSpec.of(ElementType.FLOAT32, size[0], size[1], 3));
      assertThat(f.values())
          .containsExactly(expectedFloats(u8, size[0], size[1], 3, Layout.AS_STORED));
    }
    // Scale 1: the pixel values themselves.
    float[] u8 = run(NativeImageDecoder.of("img", "pixels", 30, 40, 3), 0, png).values();
    assertThat(
            run(
                    NativeImageDecoder.of("img", "pixels", 30, 40, 3).toFloat(1, Layout.AS_STORED),
                    0,
                    png)
                .values())
        .containsExactly(u8);
  }

  @Test
  void grayFloatIsTheUint8GrayTimesTheScaleInEitherLayout() throws IOException {
    byte[] png = encode(pattern(40, 30), "png");
    byte[] jpg = encode(pattern(64, 48), "jpg");
    for (int[] size : new int[][] {{30, 40}, {24, 32}}) {
      NativeImageDecoder bytes = NativeImageDecoder.of("img", "pixels", size[0], size[1], 1);
      float[] u8 = run(bytes, 0, png, jpg).values();
      float[] expected = expectedFloats(u8, size[0], size[1], 1, Layout.AS_STORED);
      Decoded hwc = run(bytes.toFloat(SCALE, Layout.AS_STORED), 0, png, jpg);
      assertThat(hwc.spec()).isEqualTo(TensorSpec.of(ElementType.FLOAT32, size[0], size[1], 1));
      assertThat(hwc.values()).containsExactly(expected);
      Decoded chw = run(bytes.toFloat(SCALE, Layout.NCHW), 0, png, jpg);
      assertThat(chw.spec()).isEqualTo(TensorSpec.of(ElementType.FLOAT32, 1, size[0], size[1]));
      assertThat(chw.values()).containsExactly(expected);
    }
  }

  @Test
  void aBatchOfImagesOfDifferentSizesDecodesEachRowAsAlone() throws IOException {
    // The scratch matrices are reused from row to row: sizes change, come back, and match the
    // output size (no resize) or not.
    byte[][] images = {
      encode(pattern(40, 30), "png"), encode(pattern(80, 60), "png"),
          encode(pattern(40, 30), "jpg"),
      encode(pattern(20, 10), "png"), encode(pattern(37, 53), "jpg"),
          encode(pattern(40, 30), "png"),
    };
    NativeImageDecoder bytes = NativeImageDecoder.of("img", "pixels", 30, 40, 3);
    for (NativeImageDecoder d :
        List.of(
            bytes,
            bytes.toFloat(SCALE, Layout.NCHW),
            bytes.toFloat(SCALE, Layout.AS_STORED),
            NativeImageDecoder.of("img", "pixels", 30, 40, 1),
            NativeImageDecoder.of("img", "pixels", 30, 40, 1).toFloat(2, Layout.NCHW))) {
      Decoded all = run(d, 0, images);
      assertThat(all.keys()).containsExactly("k0", "k1", "k2", "k3", "k4", "k5");
      for (int r = 0; r < images.length; r++) {
        assertThat(all.row(r)).as("row %d", r).containsExactly(run(d, 0, images[r]).values());
      }
    }
  }

  @Test
  void corruptImagesAmongGoodOnesAreBadRecordsAndTheOthersAreCorrect() throws IOException {
    // Undecodable bytes of every kind after a good image of the output size: no known signature,
    // a PNG cut inside its header, a JPEG cut short. OpenCV leaves the matrix it decodes into as it
    // was for some of them: the previous row's image must not pass for them.
    byte[] first = encode(pattern(8, 8), "png");
    byte[] last = encode(pattern(16, 8), "png");
    byte[][] images = {
      first,
      new byte[] {1, 2, 3, 4, 5},
      Arrays.copyOf(first, 20),
      Arrays.copyOf(encode(pattern(8, 8), "jpg"), 200),
      new byte[0],
      last,
    };
    NativeImageDecoder bytes = NativeImageDecoder.of("img", "pixels", 8, 8, 3);
    for (NativeImageDecoder d :
        List.of(
            bytes,
            bytes.toFloat(SCALE, Layout.NCHW),
            bytes.toFloat(SCALE, Layout.AS_STORED),
            NativeImageDecoder.of("img", "pixels", 8, 8, 1).toFloat(SCALE, Layout.NCHW))) {
      try (RootAllocator a = new RootAllocator();
          Batch in = input(a, images)) {
        assertThatThrownBy(() -> d.apply(in, ctx(a, BadRecords.none())))
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining("k1")
            .hasMessageContaining("decode");
      }
      Decoded out = run(d, 4, images);
      assertThat(out.skipped()).isEqualTo(4);
      assertThat(out.keys()).containsExactly("k0", "k5");
      assertThat(out.row(0)).containsExactly(run(d, 0, first).values());
      assertThat(out.row(1)).containsExactly(run(d, 0, last).values());
    }
  }

  @Test
  void outputSchemaDescribesTheFloatModes() throws IOException {
    Schema in =
        new Schema(
            List.of(Columns.utf8(Batch.KEY_COLUMN), Columns.binary("img"), Columns.int32("label")));
    NativeImageDecoder colour = NativeImageDecoder.of("img", "pixels", 30, 40, 3);
    NativeImageDecoder gray = NativeImageDecoder.of("img", "pixels", 30, 40, 1);
    byte[] png = encode(pattern(40, 30), "png");
    record Case(NativeImageDecoder decoder, TensorSpec spec) {}
    for (Case c :
        List.of(
            new Case(colour, TensorSpec.of(ElementType.UINT8, 30, 40, 3)),
            new Case(
                colour.toFloat(SCALE, Layout.NCHW), TensorSpec.of(ElementType.FLOAT32, 3, 30, 40)),
            new Case(
                colour.toFloat(SCALE, Layout.AS_STORED),
                TensorSpec.of(ElementType.FLOAT32, 30, 40, 3)),
            new Case(
                gray.toFloat(SCALE, Layout.NCHW), TensorSpec.of(ElementType.FLOAT32, 1, 30, 40)),
            new Case(
                gray.toFloat(SCALE, Layout.AS_STORED),
                TensorSpec.of(ElementType.FLOAT32, 30, 40, 1)),
            // toFloat of a float decoder replaces its settings.
            new Case(
                colour.toFloat(2, Layout.AS_STORED).toFloat(SCALE, Layout.NCHW),
                TensorSpec.of(ElementType.FLOAT32, 3, 30, 40)))) {
      Schema out = c.decoder().outputSchema(in);
      assertThat(out.getFields())
          .extracting(Field::getName)
          .containsExactly(Batch.KEY_COLUMN, "label", "pixels");
      Field pixels = out.findField("pixels");
      assertThat(TensorSpec.fromField(pixels)).isEqualTo(c.spec());
      assertThat(pixels.getType()).isEqualTo(c.spec().toField("pixels").getType());
      // ... and the batches have that schema.
      assertThat(run(c.decoder(), 0, png).spec()).isEqualTo(c.spec());
    }
    // The original decoder is unchanged by toFloat.
    assertThat(TensorSpec.fromField(colour.outputSchema(in).findField("pixels")))
        .isEqualTo(TensorSpec.of(ElementType.UINT8, 30, 40, 3));
  }

  @Test
  void badArgumentsAreRejected() {
    NativeImageDecoder d = NativeImageDecoder.of("img", "pixels", 30, 40, 3);
    for (double scale :
        new double[] {
          0, -0.0, -1 / 255.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY
        }) {
      assertThatThrownBy(() -> d.toFloat(scale, Layout.NCHW))
          .as("scale %s", scale)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("scale");
    }
    assertThatThrownBy(() -> d.toFloat(SCALE, null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> NativeImageDecoder.of("img", "pixels", 0, 40, 3))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NativeImageDecoder.of("img", "pixels", 30, -1, 3))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NativeImageDecoder.of("img", "pixels", 30, 40, 4))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anImageClaimingHugeDimensionsIsABadRecordNotAnAllocation() throws IOException {
    // A JPEG whose frame header claims 65535 x 65535 pixels (4.3 G pixels). OpenCV alone would
    // refuse it too, but only because it is over OpenCV's own limit of 2^30 pixels (a 20000 x 20000
    // claim is under it: see the next test); the header check refuses it before OpenCV sees it.
    byte[] huge = jpegDeclaring(encode(pattern(8, 8), "jpg"), 65535, 65535);
    byte[] good = encode(pattern(8, 8), "png");
    NativeImageDecoder d = NativeImageDecoder.of("img", "pixels", 8, 8, 3);
    try (RootAllocator a = new RootAllocator();
        Batch in = input(a, good, huge)) {
      assertThatThrownBy(() -> d.apply(in, ctx(a, BadRecords.none())))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining("k1")
          .hasMessageContaining("65535 x 65535");
    }
    assertThat(d.imdecodes()).isEqualTo(1);
    for (NativeImageDecoder decoder : List.of(d, d.toFloat(SCALE, Layout.NCHW))) {
      Decoded out = run(decoder, 1, good, huge);
      assertThat(out.skipped()).isEqualTo(1);
      assertThat(out.keys()).containsExactly("k0");
    }
  }

  @Test
  void aJpegDeclaring20000By20000PixelsIsRefusedFromItsHeaderWithinTheBudget() throws IOException {
    // 1.5 KB of JPEG that OpenCV, trusting its header, decodes into 1.2 GB (about 10 s) of gray.
    byte[] huge = jpegDeclaring(encode(pattern(64, 64), "jpg"), 20000, 20000);
    byte[] good = encode(pattern(8, 8), "png");
    assumeTrue(
        resetPeakRss(), "needs Linux's /proc/self/clear_refs to measure the peak resident memory");
    long rssBefore = peakRssBytes();
    NativeImageDecoder uint8 = NativeImageDecoder.of("img", "pixels", 8, 8, 3);
    NativeImageDecoder floats = uint8.toFloat(SCALE, Layout.NCHW);
    // A budget of 1 MiB of Arrow memory for the input and the output.
    try (RootAllocator a = new RootAllocator(1 << 20)) {
      for (NativeImageDecoder d : List.of(uint8, floats)) {
        try (Batch in = input(a, good, huge)) {
          assertThatThrownBy(() -> d.apply(in, ctx(a, BadRecords.none())))
              .isInstanceOf(SluiceException.class)
              .hasMessageContaining(
                  "cannot decode the image of entry k1: JPEG header declares 20000 x 20000 pixels, more than the limit of 67108864 pixels")
              .satisfies(e -> assertThat(((SluiceException) e).entry()).isEqualTo("k1"));
        }
        BadRecords allowance = new BadRecords(2);
        try (Batch in = input(a, huge, good, huge);
            Batch out = d.apply(in, ctx(a, allowance))) {
          assertThat(out.rowCount()).isEqualTo(1);
          assertThat(out.getString(Batch.KEY_COLUMN, 0)).isEqualTo("k1");
        }
        assertThat(allowance.skipped()).isEqualTo(2);
        assertThat(d.imdecodes()).as("only the good image reaches OpenCV").isEqualTo(2);
      }
      assertThat(a.getAllocatedMemory()).isZero();
    }
    // The process's peak resident memory: decoding the claim would add 1.2 GB.
    assertThat(peakRssBytes() - rssBefore).isLessThan(256L << 20);
  }

  @Test
  void truncatedJpegsAndPngsAreBadRecordsAndNeverReachOpenCv() throws IOException {
    byte[] jpeg = encode(pattern(256, 256), "jpg");
    byte[] png = encode(pattern(64, 64), "png");
    byte[] good = encode(pattern(8, 8), "png");
    byte[][] truncated = {
      Arrays.copyOf(
          jpeg, jpeg.length / 2), // libjpeg fills the missing half with gray and only warns
      Arrays.copyOf(jpeg, jpeg.length - 2), // only the EOI marker missing
      Arrays.copyOf(png, png.length / 2),
      Arrays.copyOf(png, png.length - 12), // only the IEND chunk missing
    };
    String[] why = {
      "truncated JPEG: the data ends after "
          + jpeg.length / 2
          + " bytes, in the entropy-coded data of scan 1",
      "truncated JPEG: the data ends after " + (jpeg.length - 2) + " bytes",
      "truncated PNG: the data ends after " + png.length / 2 + " bytes, inside chunk IDAT",
      "truncated PNG: the data ends after " + (png.length - 12) + " bytes, before the IEND chunk"
    };
    NativeImageDecoder d = NativeImageDecoder.of("img", "pixels", 8, 8, 3);
    try (RootAllocator a = new RootAllocator()) {
      for (int i = 0; i < truncated.length; i++) {
        try (Batch in = input(a, good, truncated[i])) {
          assertThatThrownBy(() -> d.apply(in, ctx(a, BadRecords.none())))
              .isInstanceOf(SluiceException.class)
              .hasMessageContaining("cannot decode the image of entry k1: " + why[i])
              .satisfies(e -> assertThat(((SluiceException) e).entry()).isEqualTo("k1"));
        }
      }
    }
    assertThat(d.imdecodes()).as("only the good image reaches OpenCV").isEqualTo(truncated.length);
    Decoded out = run(d, 4, truncated[0], good, truncated[1], truncated[2], truncated[3], good);
    assertThat(out.skipped()).isEqualTo(4);
    assertThat(out.keys()).containsExactly("k1", "k5");
  }

  @Test
  void badRecordsNameTheFileFromTheUrlColumnOrTheSources() throws IOException {
    Schema schema =
        new Schema(
            List.of(
                Columns.utf8(Batch.KEY_COLUMN),
                Columns.utf8(Batch.URL_COLUMN),
                Columns.binary("img")));
    byte[] half = encode(pattern(256, 256), "jpg");
    half = Arrays.copyOf(half, half.length / 2);
    NativeImageDecoder d = NativeImageDecoder.of("img", "pixels", 8, 8, 3);
    try (RootAllocator a = new RootAllocator()) {
      Batch in;
      try (BatchBuilder b = BatchBuilder.create(a, schema, 1, 1024, List.of("shard-7.tar"))) {
        b.setString(Batch.KEY_COLUMN, 0, "sample-3")
            .setString(Batch.URL_COLUMN, 0, "s3://bucket/shard-7.tar")
            .setBytes("img", 0, half);
        in = b.build(1);
      }
      try (in) {
        assertThatThrownBy(() -> d.apply(in, ctx(a, BadRecords.none())))
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining(
                "cannot decode the image of s3://bucket/shard-7.tar entry sample-3: truncated JPEG")
            .satisfies(
                e ->
                    assertThat(((SluiceException) e).source()).isEqualTo("s3://bucket/shard-7.tar"))
            .satisfies(e -> assertThat(((SluiceException) e).entry()).isEqualTo("sample-3"));
      }
    }
  }

  @Test
  void theLimitIsConfigurableInclusiveAndKeptByToFloat() throws IOException {
    byte[] png = encode(pattern(8, 6), "png");
    NativeImageDecoder d = NativeImageDecoder.of("img", "pixels", 6, 8, 3);
    assertThat(d.maxPixels()).isEqualTo(ImageHeader.DEFAULT_MAX_PIXELS);
    assertThat(run(d.withMaxPixels(48), 0, png).keys()).containsExactly("k0");
    for (NativeImageDecoder tight :
        List.of(
            d.withMaxPixels(47),
            d.withMaxPixels(47).toFloat(SCALE, Layout.NCHW),
            d.toFloat(SCALE, Layout.NCHW).withMaxPixels(47))) {
      assertThat(tight.maxPixels()).isEqualTo(47);
      try (RootAllocator a = new RootAllocator();
          Batch in = input(a, png)) {
        assertThatThrownBy(() -> tight.apply(in, ctx(a, BadRecords.none())))
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining(
                "PNG header declares 8 x 6 pixels, more than the limit of 47 pixels");
      }
      assertThat(tight.imdecodes()).isZero();
    }
    assertThat(d.maxPixels()).isEqualTo(ImageHeader.DEFAULT_MAX_PIXELS); // unchanged
    assertThatThrownBy(() -> d.withMaxPixels(0)).isInstanceOf(IllegalArgumentException.class);
    // A format without a header probe (PNM: OpenCV reads it, the probe does not): refused once
    // decoded.
    byte[] ppm = ppm(8, 6);
    assertThat(ImageHeader.probe(ppm)).isEmpty();
    assertThat(run(d.withMaxPixels(48), 0, ppm).keys()).containsExactly("k0");
    try (RootAllocator a = new RootAllocator();
        Batch in = input(a, ppm)) {
      assertThatThrownBy(() -> d.withMaxPixels(47).apply(in, ctx(a, BadRecords.none())))
          .isInstanceOf(SluiceException.class)
          .hasMessageContaining(
              "the image decodes to 8 x 6 pixels, more than the limit of 47 pixels");
    }
  }

  @Test
  void theProbeReadsTheSizeOfWhatOpenCvWrites() throws IOException {
    // OpenCV's own encoders (libjpeg-turbo, libpng, libwebp when built in), with the options that
    // change the JPEG's structure: progressive scans, restart markers.
    record Case(String ext, boolean alpha, int[] params, ImageHeader.Format format) {}
    List<Case> cases =
        new ArrayList<>(
            List.of(
                new Case(".jpg", false, new int[] {}, ImageHeader.Format.JPEG),
                new Case(
                    ".jpg",
                    false,
                    new int[] {opencv_imgcodecs.IMWRITE_JPEG_PROGRESSIVE, 1},
                    ImageHeader.Format.JPEG),
                new Case(
                    ".jpg",
                    false,
                    new int[] {opencv_imgcodecs.IMWRITE_JPEG_RST_INTERVAL, 1},
                    ImageHeader.Format.JPEG),
                new Case(".png", false, new int[] {}, ImageHeader.Format.PNG),
                new Case(".png", true, new int[] {}, ImageHeader.Format.PNG),
                new Case(".bmp", false, new int[] {}, ImageHeader.Format.BMP),
                new Case(".tiff", false, new int[] {}, ImageHeader.Format.TIFF)));
    boolean webp = opencv_imgcodecs.haveImageWriter(".webp");
    if (webp) {
      cases.add(
          new Case(
              ".webp",
              false,
              new int[] {opencv_imgcodecs.IMWRITE_WEBP_QUALITY, 80},
              ImageHeader.Format.WEBP)); // VP8
      cases.add(
          new Case(
              ".webp",
              false,
              new int[] {opencv_imgcodecs.IMWRITE_WEBP_QUALITY, 101},
              ImageHeader.Format.WEBP)); // VP8L
      cases.add(
          new Case(
              ".webp",
              true,
              new int[] {opencv_imgcodecs.IMWRITE_WEBP_QUALITY, 80},
              ImageHeader.Format.WEBP)); // VP8X, ALPH, VP8
    }
    for (int[] size : new int[][] {{1, 1}, {17, 5}, {64, 48}, {33, 257}}) {
      byte[] png = encode(pattern(size[0], size[1]), "png");
      for (Case c : cases) {
        byte[] encoded = imencode(png, c.ext(), c.alpha(), c.params());
        assertThat(ImageHeader.probe(encoded))
            .as("%s", c)
            .contains(new ImageHeader(c.format(), size[0], size[1]));
        if (c.ext().equals(".webp")) {
          assertThat(new String(encoded, 12, 4, java.nio.charset.StandardCharsets.US_ASCII))
              .as("%s", c)
              .isEqualTo(c.alpha() ? "VP8X" : c.params()[1] > 100 ? "VP8L" : "VP8 ");
        }
        // ... and they decode, while the same bytes cut short do not.
        Decoded out =
            run(
                NativeImageDecoder.of("img", "pixels", 8, 8, 3),
                1,
                encoded,
                Arrays.copyOf(encoded, encoded.length - 1));
        assertThat(out.keys()).as("%s", c).containsExactly("k0");
      }
    }
    System.out.println("OpenCV writes WebP: " + webp);
  }

  // ---- helpers for the checks before decoding ----

  /** A binary PPM (P6, a format ImageIO does not read) of {@code w x h} pixels. */
  private static byte[] ppm(int w, int h) {
    byte[] header =
        ("P6\n" + w + " " + h + "\n255\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    byte[] out = Arrays.copyOf(header, header.length + w * h * 3);
    for (int i = header.length; i < out.length; i++) {
      out[i] = (byte) (i * 5);
    }
    return out;
  }

  /** A copy of a JPEG whose first SOF0 segment declares another size. */
  private static byte[] jpegDeclaring(byte[] jpeg, int width, int height) {
    byte[] out = jpeg.clone();
    for (int i = 0; i + 8 < out.length; i++) {
      if ((out[i] & 0xFF) == 0xFF
          && (out[i + 1] & 0xFF) == 0xC0) { // SOF0: length(2) precision(1) height(2) width(2)
        out[i + 5] = (byte) (height >> 8);
        out[i + 6] = (byte) height;
        out[i + 7] = (byte) (width >> 8);
        out[i + 8] = (byte) width;
        return out;
      }
    }
    throw new AssertionError("no SOF0 segment");
  }

  /** Re-encodes an image with OpenCV's {@code imencode}, with an alpha channel when asked. */
  private static byte[] imencode(byte[] image, String ext, boolean alpha, int[] params) {
    try (Mat encoded = new Mat(new BytePointer(image));
        Mat decoded = opencv_imgcodecs.imdecode(encoded, opencv_imgcodecs.IMREAD_COLOR);
        Mat bgra = new Mat();
        BytePointer out = new BytePointer();
        IntPointer p = new IntPointer(params)) {
      if (alpha) { // half transparent (an opaque alpha channel is dropped by some encoders)
        opencv_imgproc.cvtColor(decoded, bgra, opencv_imgproc.COLOR_BGR2BGRA);
        try (Scalar half = new Scalar(128.0);
            Mat a = new Mat(decoded.rows(), decoded.cols(), opencv_core.CV_8UC1, half)) {
          opencv_core.insertChannel(a, bgra, 3);
        }
      }
      assertThat(opencv_imgcodecs.imencode(ext, alpha ? bgra : decoded, out, p)).isTrue();
      byte[] bytes = new byte[(int) out.limit()];
      out.get(bytes);
      return bytes;
    }
  }

  /**
   * Resets the process's peak resident memory (Linux's VmHWM) to its current resident memory; false
   * where that is not possible.
   */
  private static boolean resetPeakRss() {
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
      return peakRssBytes() > 0;
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  /** The process's peak resident memory since the last reset, in bytes. */
  private static long peakRssBytes() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmHWM:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
      return -1;
    } catch (IOException e) {
      return -1;
    }
  }
}
