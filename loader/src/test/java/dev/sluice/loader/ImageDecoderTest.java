package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

class ImageDecoderTest {
  private static final Schema INPUT =
      new Schema(
          List.of(
              Columns.utf8(Batch.KEY_COLUMN),
              Columns.utf8(Batch.URL_COLUMN),
              Columns.binary("jpg"),
              Columns.int32("cls")));

  /** The context a {@link BatchFunction} runs in, for tests. */
  record Context(BufferAllocator allocator, BadRecords badRecords) implements BatchContext {
    @Override
    public String operatorName() {
      return "DecodeImages";
    }
  }

  @Test
  void aPngOfTheTargetSizeDecodesExactly() throws IOException {
    BufferedImage image = rgbPattern(8, 6);
    ImageDecoder decoder = ImageDecoder.builder().size(6, 8).build();
    try (BufferAllocator allocator = new RootAllocator();
        Batch input = input(allocator, encode(image, "png"));
        Batch output = decoder.apply(input, new Context(allocator, BadRecords.none()))) {
      assertThat(output.tensorSpec("image")).isEqualTo(TensorSpec.of(ElementType.UINT8, 6, 8, 3));
      assertThat(output.rowCount()).isEqualTo(1);
      assertThat(pixels(output, 0)).isEqualTo(hwc(image));
      assertThat(input.isClosed()).isFalse();
    }
  }

  @Test
  void aJpegDecodesCloseToTheOriginal() throws IOException {
    BufferedImage image = gradient(32, 24);
    ImageDecoder decoder = ImageDecoder.builder().size(24, 32).build();
    try (BufferAllocator allocator = new RootAllocator();
        Batch input = input(allocator, jpeg(image, 0.95f));
        Batch output = decoder.apply(input, new Context(allocator, BadRecords.none()))) {
      byte[] got = pixels(output, 0);
      byte[] want = hwc(image);
      double meanError = 0;
      for (int i = 0; i < got.length; i++) {
        meanError += Math.abs((got[i] & 0xff) - (want[i] & 0xff));
      }
      assertThat(meanError / got.length).isLessThan(3.0);
    }
  }

  @Test
  void shrinkingAveragesAreasAndGrowingInterpolates() throws IOException {
    // 2x2 blocks of distinct colours: halving the size gives each block's colour exactly.
    BufferedImage blocks = new BufferedImage(8, 4, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 4; y++) {
      for (int x = 0; x < 8; x++) {
        int block = (y / 2) * 4 + x / 2;
        blocks.setRGB(x, y, rgb(block * 30, 255 - block * 30, block * 7));
      }
    }
    try (BufferAllocator allocator = new RootAllocator();
        Batch input = input(allocator, encode(blocks, "png"));
        Batch half =
            ImageDecoder.builder()
                .size(2, 4)
                .build()
                .apply(input, new Context(allocator, BadRecords.none()));
        Batch big =
            ImageDecoder.builder()
                .size(8, 16)
                .build()
                .apply(input, new Context(allocator, BadRecords.none()))) {
      byte[] got = pixels(half, 0);
      for (int block = 0; block < 8; block++) {
        assertThat(Arrays.copyOfRange(got, block * 3, block * 3 + 3))
            .containsExactly((byte) (block * 30), (byte) (255 - block * 30), (byte) (block * 7));
      }
      assertThat(big.tensorSpec("image").shape()).containsExactly(8, 16, 3);
      byte[] up = pixels(big, 0);
      // A pixel in the middle of a block keeps the block's colour; one between blocks lies between.
      assertThat(up[(1 * 16 + 1) * 3] & 0xff).isEqualTo(0);
      int between = up[(1 * 16 + 4) * 3] & 0xff;
      assertThat(between).isStrictlyBetween(0, 30);
    }
  }

  @Test
  void grayAndRgbConvertBothWays() throws IOException {
    BufferedImage gray = new BufferedImage(5, 4, BufferedImage.TYPE_BYTE_GRAY);
    byte[] levels = new byte[20];
    for (int i = 0; i < 20; i++) {
      levels[i] = (byte) (i * 13);
    }
    gray.getRaster().setDataElements(0, 0, 5, 4, levels);
    BufferedImage color = rgbPattern(5, 4);
    try (BufferAllocator allocator = new RootAllocator();
        Batch grayInput = input(allocator, encode(gray, "png"));
        Batch colorInput = input(allocator, encode(color, "png"));
        Batch grayToRgb =
            ImageDecoder.builder()
                .size(4, 5)
                .channels(3)
                .build()
                .apply(grayInput, new Context(allocator, BadRecords.none()));
        Batch grayToGray =
            ImageDecoder.builder()
                .size(4, 5)
                .channels(1)
                .build()
                .apply(grayInput, new Context(allocator, BadRecords.none()));
        Batch rgbToGray =
            ImageDecoder.builder()
                .size(4, 5)
                .channels(1)
                .build()
                .apply(colorInput, new Context(allocator, BadRecords.none()))) {
      byte[] rgb = pixels(grayToRgb, 0);
      for (int i = 0; i < 20; i++) {
        assertThat(new byte[] {rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]})
            .containsExactly(levels[i], levels[i], levels[i]);
      }
      assertThat(pixels(grayToGray, 0)).isEqualTo(levels);
      assertThat(grayToGray.tensorSpec("image").shape()).containsExactly(4, 5, 1);
      byte[] luma = pixels(rgbToGray, 0);
      byte[] src = hwc(color);
      for (int i = 0; i < 20; i++) {
        int r = src[i * 3] & 0xff;
        int g = src[i * 3 + 1] & 0xff;
        int b = src[i * 3 + 2] & 0xff;
        assertThat(luma[i] & 0xff)
            .isCloseTo((int) Math.round(0.299 * r + 0.587 * g + 0.114 * b), within(1));
      }
    }
  }

  @Test
  void otherColumnsAreCarriedAndTheEncodedOneDroppedUnlessKept() throws IOException {
    byte[] png = encode(rgbPattern(4, 4), "png");
    try (BufferAllocator allocator = new RootAllocator();
        Batch input = input(allocator, png, png);
        Batch dropped =
            ImageDecoder.builder()
                .size(4, 4)
                .build()
                .apply(input, new Context(allocator, BadRecords.none()));
        Batch kept =
            ImageDecoder.builder()
                .size(4, 4)
                .keepEncoded(true)
                .output("pixels")
                .build()
                .apply(input, new Context(allocator, BadRecords.none()))) {
      assertThat(dropped.columnNames())
          .containsExactly(Batch.KEY_COLUMN, Batch.URL_COLUMN, "cls", "image");
      assertThat(kept.columnNames())
          .containsExactly(Batch.KEY_COLUMN, Batch.URL_COLUMN, "jpg", "cls", "pixels");
      assertThat(kept.getBytes("jpg", 1)).isEqualTo(png);
      assertThat(dropped.getInt("cls", 1)).isEqualTo(1);
      assertThat(dropped.getString(Batch.KEY_COLUMN, 1)).isEqualTo("sample-1");
      assertThat(dropped.sources()).isEqualTo(input.sources());
    }
    assertThatThrownBy(() -> ImageDecoder.builder().column("image").keepEncoded(true).build())
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anImageThatDoesNotDecodeIsABadRecordNamingItsFileAndKey() throws IOException {
    byte[] good = encode(rgbPattern(4, 4), "png");
    byte[] jpeg = jpeg(gradient(64, 64), 0.9f);
    byte[] truncated = Arrays.copyOf(jpeg, jpeg.length / 2);
    byte[] garbage = "not an image at all".getBytes();
    ImageDecoder decoder = ImageDecoder.builder().size(4, 4).build();
    try (BufferAllocator allocator = new RootAllocator()) {
      try (Batch input = input(allocator, good, garbage, good)) {
        assertThatThrownBy(() -> decoder.apply(input, new Context(allocator, BadRecords.none())))
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining("shard-0.tar")
            .hasMessageContaining("sample-1")
            .hasMessageContaining("DecodeImages")
            .satisfies(e -> assertThat(((SluiceException) e).entry()).isEqualTo("sample-1"));
      }
      try (Batch input = input(allocator, truncated)) {
        assertThatThrownBy(() -> decoder.apply(input, new Context(allocator, BadRecords.none())))
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining("sample-0");
      }
      BadRecords allowance = new BadRecords(3);
      try (Batch input = input(allocator, garbage, good, truncated, null, good);
          Batch output = decoder.apply(input, new Context(allocator, allowance))) {
        assertThat(output.rowCount()).isEqualTo(2);
        assertThat(output.getString(Batch.KEY_COLUMN, 0)).isEqualTo("sample-1");
        assertThat(output.getInt("cls", 1)).isEqualTo(4);
        assertThat(pixels(output, 1)).isEqualTo(hwc(rgbPattern(4, 4)));
      }
      assertThat(allowance.skipped()).isEqualTo(3);
    }
  }

  @Test
  void anImageDeclaringMorePixelsThanTheLimitIsRefusedFromItsHeader() throws IOException {
    // 1.5 KB of JPEG whose frame header declares 20000 x 20000 pixels (1.2 GB of RGB once decoded).
    byte[] huge = ImageHeaderTest.jpegDeclaring(jpeg(gradient(64, 64), 0.9f), 20000, 20000);
    byte[] good = encode(rgbPattern(4, 4), "png");
    ImageDecoder decoder = ImageDecoder.builder().size(4, 4).build();
    assertThat(decoder.maxPixels()).isEqualTo(ImageHeader.DEFAULT_MAX_PIXELS);
    // A budget of 1 MiB for the whole call: the input, the output and whatever decoding would need.
    try (BufferAllocator allocator = new RootAllocator(1 << 20)) {
      try (Batch input = input(allocator, good, huge)) {
        long heap = allocatedOnThisThread();
        assertThatThrownBy(() -> decoder.apply(input, new Context(allocator, BadRecords.none())))
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining("shard-0.tar")
            .hasMessageContaining("sample-1")
            .hasMessageContaining(
                "JPEG header declares 20000 x 20000 pixels, more than the limit of 67108864 pixels")
            .satisfies(e -> assertThat(((SluiceException) e).entry()).isEqualTo("sample-1"));
        // Nothing of the image's size was allocated on the heap (ImageIO's raster would be 1.2 GB),
        // and only the good image reached a reader.
        assertThat(allocatedOnThisThread() - heap).isLessThan(16L << 20);
        assertThat(decoder.decodes()).isEqualTo(1);
      }
      BadRecords allowance = new BadRecords(2);
      try (Batch input = input(allocator, huge, good, huge);
          Batch output = decoder.apply(input, new Context(allocator, allowance))) {
        assertThat(output.rowCount()).isEqualTo(1);
        assertThat(output.getString(Batch.KEY_COLUMN, 0)).isEqualTo("sample-1");
        assertThat(pixels(output, 0)).isEqualTo(hwc(rgbPattern(4, 4)));
      }
      assertThat(allowance.skipped()).isEqualTo(2);
      assertThat(decoder.decodes()).isEqualTo(2);
    }
  }

  @Test
  void theLimitIsConfigurableAndInclusive() throws IOException {
    byte[] png = encode(rgbPattern(8, 6), "png");
    try (BufferAllocator allocator = new RootAllocator()) {
      try (Batch input = input(allocator, png);
          Batch output =
              ImageDecoder.builder()
                  .size(6, 8)
                  .maxPixels(48)
                  .build()
                  .apply(input, new Context(allocator, BadRecords.none()))) {
        assertThat(pixels(output, 0)).isEqualTo(hwc(rgbPattern(8, 6)));
      }
      try (Batch input = input(allocator, png)) {
        assertThatThrownBy(
                () ->
                    ImageDecoder.builder()
                        .size(6, 8)
                        .maxPixels(47)
                        .build()
                        .apply(input, new Context(allocator, BadRecords.none())))
            .isInstanceOf(SluiceException.class)
            .hasMessageContaining(
                "PNG header declares 8 x 6 pixels, more than the limit of 47 pixels");
      }
    }
    assertThatThrownBy(() -> ImageDecoder.builder().maxPixels(0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void truncatedJpegsAndPngsAreBadRecords() throws IOException {
    byte[] jpeg = jpeg(gradient(256, 256), 0.9f);
    byte[] png = encode(rgbPattern(64, 64), "png");
    byte[] good = encode(rgbPattern(4, 4), "png");
    byte[][] truncated = {
      Arrays.copyOf(jpeg, jpeg.length / 2), // cut in half: libjpeg would fill the rest with gray
      Arrays.copyOf(jpeg, jpeg.length - 2), // only the EOI marker missing
      Arrays.copyOf(png, png.length / 2),
      Arrays.copyOf(png, png.length - 12), // only the IEND chunk missing: every pixel is there
    };
    String[] why = {
      "truncated JPEG: the data ends after "
          + jpeg.length / 2
          + " bytes, in the entropy-coded data of scan 1",
      "truncated JPEG: the data ends after " + (jpeg.length - 2) + " bytes",
      "truncated PNG: the data ends after " + png.length / 2 + " bytes, inside chunk IDAT",
      "truncated PNG: the data ends after " + (png.length - 12) + " bytes, before the IEND chunk"
    };
    ImageDecoder decoder = ImageDecoder.builder().size(4, 4).build();
    try (BufferAllocator allocator = new RootAllocator()) {
      for (int i = 0; i < truncated.length; i++) {
        try (Batch input = input(allocator, good, truncated[i])) {
          assertThatThrownBy(() -> decoder.apply(input, new Context(allocator, BadRecords.none())))
              .isInstanceOf(SluiceException.class)
              .hasMessageContaining(
                  "cannot decode the image of shard-0.tar entry sample-1: " + why[i])
              .satisfies(e -> assertThat(((SluiceException) e).source()).isEqualTo("shard-0.tar"))
              .satisfies(e -> assertThat(((SluiceException) e).entry()).isEqualTo("sample-1"));
        }
      }
      assertThat(decoder.decodes()).as("only the good image decoded").isEqualTo(truncated.length);
      BadRecords allowance = new BadRecords(4);
      try (Batch input =
              input(allocator, truncated[0], good, truncated[1], truncated[2], truncated[3], good);
          Batch output = decoder.apply(input, new Context(allocator, allowance))) {
        assertThat(output.rowCount()).isEqualTo(2);
        assertThat(output.getString(Batch.KEY_COLUMN, 1)).isEqualTo("sample-5");
      }
      assertThat(allowance.skipped()).isEqualTo(4);
    }
  }

  @Test
  void jpegsWithFillBytesCommentsRestartMarkersOrProgressiveScansStillDecode() throws IOException {
    ImageDecoder decoder = ImageDecoder.builder().size(24, 40).build();
    for (ImageHeaderTest.Kind kind :
        List.of(
            ImageHeaderTest.Kind.JPEG_PROGRESSIVE,
            ImageHeaderTest.Kind.JPEG_RESTART_MARKERS,
            ImageHeaderTest.Kind.JPEG_FILL_BYTES_AND_COMMENTS)) {
      byte[] plain = ImageHeaderTest.write(ImageHeaderTest.Kind.JPEG, 40, 24);
      byte[] variant = ImageHeaderTest.write(kind, 40, 24);
      byte[] padded = ImageHeaderTest.concat(variant, new byte[64]); // zeros after EOI
      try (BufferAllocator allocator = new RootAllocator();
          Batch input = input(allocator, plain, variant, padded);
          Batch output = decoder.apply(input, new Context(allocator, BadRecords.none()))) {
        assertThat(output.rowCount()).as("%s", kind).isEqualTo(3);
        assertThat(pixels(output, 2)).isEqualTo(pixels(output, 1));
        if (kind
            == ImageHeaderTest.Kind
                .JPEG_FILL_BYTES_AND_COMMENTS) { // the same entropy-coded data as the plain one
          assertThat(pixels(output, 1)).isEqualTo(pixels(output, 0));
        }
      }
    }
  }

  /** Bytes allocated on the Java heap by this thread so far. */
  private static long allocatedOnThisThread() {
    return ((com.sun.management.ThreadMXBean)
            java.lang.management.ManagementFactory.getThreadMXBean())
        .getCurrentThreadAllocatedBytes();
  }

  // --- helpers ---

  /** One row per image: key sample-i, url shard-(i/2).tar, the bytes in "jpg", i in "cls". */
  private static Batch input(BufferAllocator allocator, byte[]... images) {
    try (BatchBuilder b =
        BatchBuilder.create(allocator, INPUT, images.length, 1024, List.of("shard-0.tar"))) {
      for (int i = 0; i < images.length; i++) {
        b.setString(Batch.KEY_COLUMN, i, "sample-" + i)
            .setString(Batch.URL_COLUMN, i, "shard-" + i / 2 + ".tar")
            .setBytes("jpg", i, images[i])
            .setLong("cls", i, i);
      }
      return b.build(images.length);
    }
  }

  private static byte[] pixels(Batch batch, int row) {
    int bytes = batch.tensorSpec("image").rowBytes();
    ArrowBuf data = batch.tensorData("image");
    byte[] out = new byte[bytes];
    data.getBytes((long) row * bytes, out);
    return out;
  }

  private static int rgb(int r, int g, int b) {
    return (r << 16) | (g << 8) | b;
  }

  private static BufferedImage rgbPattern(int w, int h) {
    BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        image.setRGB(
            x, y, rgb((x * 37 + y * 11) & 0xff, (x * 5 + y * 61) & 0xff, (x * y * 13) & 0xff));
      }
    }
    return image;
  }

  private static BufferedImage gradient(int w, int h) {
    BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        image.setRGB(x, y, rgb(x * 255 / w, y * 255 / h, 128));
      }
    }
    return image;
  }

  private static byte[] hwc(BufferedImage image) {
    byte[] out = new byte[image.getWidth() * image.getHeight() * 3];
    int o = 0;
    for (int y = 0; y < image.getHeight(); y++) {
      for (int x = 0; x < image.getWidth(); x++) {
        int v = image.getRGB(x, y);
        out[o++] = (byte) (v >> 16);
        out[o++] = (byte) (v >> 8);
        out[o++] = (byte) v;
      }
    }
    return out;
  }

  private static byte[] encode(BufferedImage image, String format) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertThat(ImageIO.write(image, format, out)).isTrue();
    return out.toByteArray();
  }

  private static byte[] jpeg(BufferedImage image, float quality) throws IOException {
    Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("jpeg");
    ImageWriter writer = writers.next();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (MemoryCacheImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
      writer.setOutput(stream);
      ImageWriteParam param = writer.getDefaultWriteParam();
      param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
      param.setCompressionQuality(quality);
      writer.write(null, new IIOImage(image, null, null), param);
    } finally {
      writer.dispose();
    }
    return out.toByteArray();
  }
}
