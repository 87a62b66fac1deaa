package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.TensorSpec;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

class NativeImageDecoderTest {
  private static final Schema IN = new Schema(List.of(Columns.utf8(Batch.KEY_COLUMN), Columns.binary("img"), Columns.int32("label")));

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
    try (RootAllocator a = new RootAllocator(); Batch in = input(a, encode(img, "png"), encode(img, "png"));
        Batch out = NativeImageDecoder.of("img", "pixels", 30, 40, 3).apply(in, ctx(a, BadRecords.none()))) {
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
    try (RootAllocator a = new RootAllocator(); Batch in = input(a, encode(img, "jpg"));
        Batch out = NativeImageDecoder.of("img", "pixels", 24, 32, 1).apply(in, ctx(a, BadRecords.none()))) {
      assertThat(out.tensorSpec("pixels").shape()).containsExactly(24, 32, 1);
      // The centre pixel of the halved image against the source's 2x2 block, as gray.
      int x = 16;
      int y = 12;
      double expected = 0;
      for (int dy = 0; dy < 2; dy++) {
        for (int dx = 0; dx < 2; dx++) {
          int rgb = img.getRGB(2 * x + dx, 2 * y + dy);
          expected += 0.299 * ((rgb >> 16) & 0xFF) + 0.587 * ((rgb >> 8) & 0xFF) + 0.114 * (rgb & 0xFF);
        }
      }
      expected /= 4;
      assertThat((double) (out.tensorData("pixels").getByte(y * 32 + x) & 0xFF)).isCloseTo(expected, org.assertj.core.data.Offset.offset(12.0));
    }
  }

  @Test
  void aCorruptImageIsABadRecordNamingItsKey() throws IOException {
    byte[] good = encode(pattern(8, 8), "png");
    byte[] bad = new byte[] {1, 2, 3, 4, 5};
    try (RootAllocator a = new RootAllocator()) {
      try (Batch in = input(a, good, bad)) {
        assertThatThrownBy(() -> NativeImageDecoder.of("img", "pixels", 8, 8, 3).apply(in, ctx(a, BadRecords.none())))
            .isInstanceOf(SluiceException.class).hasMessageContaining("k1").hasMessageContaining("decode");
      }
      BadRecords allowance = new BadRecords(1);
      try (Batch in = input(a, good, bad);
          Batch out = NativeImageDecoder.of("img", "pixels", 8, 8, 3).apply(in, ctx(a, allowance))) {
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
   * {@code allowance} bad records, copies the output out and checks that the allocator is left
   * with no memory outstanding.
   */
  private static Decoded run(NativeImageDecoder decoder, long allowance, byte[]... images) {
    BadRecords bad = new BadRecords(allowance);
    Decoded d;
    try (RootAllocator a = new RootAllocator()) {
      try (Batch in = input(a, images); Batch out = decoder.apply(in, ctx(a, bad))) {
        TensorSpec spec = out.tensorSpec("pixels");
        List<String> keys = new ArrayList<>();
        for (int r = 0; r < out.rowCount(); r++) {
          keys.add(out.getString(Batch.KEY_COLUMN, r));
          assertThat(out.getLong("label", r)).isEqualTo(Long.parseLong(keys.get(r).substring(1)));
        }
        ArrowBuf data = out.tensorData("pixels");
        float[] values = new float[out.rowCount() * spec.elementCount()];
        for (int i = 0; i < values.length; i++) {
          values[i] = spec.elementType() == ElementType.UINT8 ? data.getByte(i) & 0xFF : data.getFloat(4L * i);
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
    Decoded f = run(NativeImageDecoder.of("img", "pixels", 30, 40, 3).toFloat(SCALE, Layout.NCHW), 0, png, png);
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
      assertThat(nchw.values()).containsExactly(expectedFloats(u8, size[0], size[1], 3, Layout.NCHW));
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
      assertThat(f.values()).containsExactly(expectedFloats(u8, size[0], size[1], 3, Layout.AS_STORED));
    }
    // Scale 1: the pixel values themselves.
    float[] u8 = run(NativeImageDecoder.of("img", "pixels", 30, 40, 3), 0, png).values();
    assertThat(run(NativeImageDecoder.of("img", "pixels", 30, 40, 3).toFloat(1, Layout.AS_STORED), 0, png).values())
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
      encode(pattern(40, 30), "png"), encode(pattern(80, 60), "png"), encode(pattern(40, 30), "jpg"),
      encode(pattern(20, 10), "png"), encode(pattern(37, 53), "jpg"), encode(pattern(40, 30), "png"),
    };
    NativeImageDecoder bytes = NativeImageDecoder.of("img", "pixels", 30, 40, 3);
    for (NativeImageDecoder d : List.of(bytes, bytes.toFloat(SCALE, Layout.NCHW), bytes.toFloat(SCALE, Layout.AS_STORED),
        NativeImageDecoder.of("img", "pixels", 30, 40, 1), NativeImageDecoder.of("img", "pixels", 30, 40, 1).toFloat(2, Layout.NCHW))) {
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
      first, new byte[] {1, 2, 3, 4, 5}, Arrays.copyOf(first, 20), Arrays.copyOf(encode(pattern(8, 8), "jpg"), 200), new byte[0], last,
    };
    NativeImageDecoder bytes = NativeImageDecoder.of("img", "pixels", 8, 8, 3);
    for (NativeImageDecoder d : List.of(bytes, bytes.toFloat(SCALE, Layout.NCHW), bytes.toFloat(SCALE, Layout.AS_STORED),
        NativeImageDecoder.of("img", "pixels", 8, 8, 1).toFloat(SCALE, Layout.NCHW))) {
      try (RootAllocator a = new RootAllocator(); Batch in = input(a, images)) {
        assertThatThrownBy(() -> d.apply(in, ctx(a, BadRecords.none())))
            .isInstanceOf(SluiceException.class).hasMessageContaining("k1").hasMessageContaining("decode");
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
    Schema in = new Schema(List.of(Columns.utf8(Batch.KEY_COLUMN), Columns.binary("img"), Columns.int32("label")));
    NativeImageDecoder colour = NativeImageDecoder.of("img", "pixels", 30, 40, 3);
    NativeImageDecoder gray = NativeImageDecoder.of("img", "pixels", 30, 40, 1);
    byte[] png = encode(pattern(40, 30), "png");
    record Case(NativeImageDecoder decoder, TensorSpec spec) {}
    for (Case c : List.of(
        new Case(colour, TensorSpec.of(ElementType.UINT8, 30, 40, 3)),
        new Case(colour.toFloat(SCALE, Layout.NCHW), TensorSpec.of(ElementType.FLOAT32, 3, 30, 40)),
        new Case(colour.toFloat(SCALE, Layout.AS_STORED), TensorSpec.of(ElementType.FLOAT32, 30, 40, 3)),
        new Case(gray.toFloat(SCALE, Layout.NCHW), TensorSpec.of(ElementType.FLOAT32, 1, 30, 40)),
        new Case(gray.toFloat(SCALE, Layout.AS_STORED), TensorSpec.of(ElementType.FLOAT32, 30, 40, 1)),
        // toFloat of a float decoder replaces its settings.
        new Case(colour.toFloat(2, Layout.AS_STORED).toFloat(SCALE, Layout.NCHW), TensorSpec.of(ElementType.FLOAT32, 3, 30, 40)))) {
      Schema out = c.decoder().outputSchema(in);
      assertThat(out.getFields()).extracting(Field::getName).containsExactly(Batch.KEY_COLUMN, "label", "pixels");
      Field pixels = out.findField("pixels");
      assertThat(TensorSpec.fromField(pixels)).isEqualTo(c.spec());
      assertThat(pixels.getType()).isEqualTo(c.spec().toField("pixels").getType());
      // ... and the batches have that schema.
      assertThat(run(c.decoder(), 0, png).spec()).isEqualTo(c.spec());
    }
    // The original decoder is unchanged by toFloat.
    assertThat(TensorSpec.fromField(colour.outputSchema(in).findField("pixels"))).isEqualTo(TensorSpec.of(ElementType.UINT8, 30, 40, 3));
  }

  @Test
  void badArgumentsAreRejected() {
    NativeImageDecoder d = NativeImageDecoder.of("img", "pixels", 30, 40, 3);
    for (double scale : new double[] {0, -0.0, -1 / 255.0, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
      assertThatThrownBy(() -> d.toFloat(scale, Layout.NCHW)).as("scale %s", scale)
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scale");
    }
    assertThatThrownBy(() -> d.toFloat(SCALE, null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> NativeImageDecoder.of("img", "pixels", 0, 40, 3)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NativeImageDecoder.of("img", "pixels", 30, -1, 3)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> NativeImageDecoder.of("img", "pixels", 30, 40, 4)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anImageClaimingHugeDimensionsIsABadRecordNotAnAllocation() throws IOException {
    // A JPEG whose frame header claims 65535 x 65535 pixels (4.3 G pixels): OpenCV's size check
    // refuses it (imdecode catches its own exception and returns nothing); nothing of that size may
    // be allocated, and the row is a bad record like any image that does not decode.
    byte[] huge = encode(pattern(8, 8), "jpg");
    for (int i = 0; i + 8 < huge.length; i++) {
      if ((huge[i] & 0xFF) == 0xFF && (huge[i + 1] & 0xFF) == 0xC0) { // SOF0: length(2) precision(1) height(2) width(2)
        huge[i + 5] = (byte) 0xFF;
        huge[i + 6] = (byte) 0xFF;
        huge[i + 7] = (byte) 0xFF;
        huge[i + 8] = (byte) 0xFF;
        break;
      }
    }
    byte[] good = encode(pattern(8, 8), "png");
    NativeImageDecoder d = NativeImageDecoder.of("img", "pixels", 8, 8, 3);
    try (RootAllocator a = new RootAllocator(); Batch in = input(a, good, huge)) {
      assertThatThrownBy(() -> d.apply(in, ctx(a, BadRecords.none())))
          .isInstanceOf(SluiceException.class).hasMessageContaining("k1");
    }
    for (NativeImageDecoder decoder : List.of(d, d.toFloat(SCALE, Layout.NCHW))) {
      Decoded out = run(decoder, 1, good, huge);
      assertThat(out.skipped()).isEqualTo(1);
      assertThat(out.keys()).containsExactly("k0");
    }
  }
}
