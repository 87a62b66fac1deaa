package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ImageDecoder;
import dev.sluice.loader.SluiceException;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;

/**
 * The pure-Java {@link ImageDecoder} and the native {@link NativeImageDecoder} refuse the same
 * inputs: a table of good and damaged images of the formats both read, each decoded alone by both
 * (the same verdict, and for what the header check refuses the same words) and all together under
 * an allowance (the same rows kept).
 */
class ImageDecodersAgreeTest {
  private static final Schema IN =
      new Schema(List.of(Columns.utf8(Batch.KEY_COLUMN), Columns.binary("jpg")));

  /** An input, and why both decoders must refuse it (null: both must decode it). */
  private record Input(String name, byte[] bytes, String refusal) {}

  @Test
  void bothDecodersRefuseTheSameImagesInTheSameWords() throws Exception {
    List<Input> inputs = inputs();
    BatchFunction java = ImageDecoder.builder().size(16, 16).build();
    BatchFunction nativeDecoder = NativeImageDecoder.of("jpg", "image", 16, 16, 3);
    for (Input input : inputs) {
      String javaVerdict = verdict(java, input.bytes());
      String nativeVerdict = verdict(nativeDecoder, input.bytes());
      if (input.refusal() == null) {
        assertThat(javaVerdict).as("pure Java, %s", input.name()).isNull();
        assertThat(nativeVerdict).as("native, %s", input.name()).isNull();
      } else {
        assertThat(javaVerdict)
            .as("pure Java, %s", input.name())
            .contains("cannot decode the image of entry k0: ")
            .contains(input.refusal());
        assertThat(nativeVerdict)
            .as("native, %s", input.name())
            .contains("cannot decode the image of entry k0: ")
            .contains(input.refusal());
        if (!input.refusal().isEmpty()) { // refused from the header: word for word
          assertThat(nativeVerdict).as(input.name()).isEqualTo(javaVerdict);
        }
      }
    }
    // All in one batch, under an allowance of every bad one: the same rows kept.
    long bad = inputs.stream().filter(i -> i.refusal() != null).count();
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < inputs.size(); i++) {
      if (inputs.get(i).refusal() == null) {
        expected.add("k" + i);
      }
    }
    byte[][] all = inputs.stream().map(Input::bytes).toArray(byte[][]::new);
    assertThat(keptKeys(java, bad, all)).isEqualTo(expected);
    assertThat(keptKeys(nativeDecoder, bad, all)).isEqualTo(expected);
  }

  private static List<Input> inputs() throws IOException {
    byte[] jpeg = write(pattern(200, 150), "jpeg", false);
    byte[] progressive = write(pattern(200, 150), "jpeg", true);
    byte[] restarts = imencode(jpeg, ".jpg", opencv_imgcodecs.IMWRITE_JPEG_RST_INTERVAL, 2);
    byte[] png = write(pattern(120, 90), "png", false);
    byte[] gray = write(grayPattern(120, 90), "png", false);
    byte[] bmp = write(pattern(31, 9), "bmp", false); // rows of 93 bytes, padded to 96
    int sof = indexOf(jpeg, (byte) 0xFF, (byte) 0xC0);
    int idat = indexOf(png, (byte) 'I', (byte) 'D', (byte) 'A', (byte) 'T');
    byte[] badCrc = png.clone();
    badCrc[idat + 10] ^= 0x10;
    return List.of(
        new Input("JPEG", jpeg, null),
        new Input("progressive JPEG", progressive, null),
        new Input("JPEG with restart markers", restarts, null),
        new Input("JPEG and zeros after EOI", concat(jpeg, new byte[100]), null),
        new Input("JPEG and another image after EOI", concat(jpeg, png), null),
        new Input("PNG", png, null),
        new Input("gray PNG", gray, null),
        new Input("PNG and bytes after IEND", concat(png, new byte[] {1, 2, 3}), null),
        new Input("BMP", bmp, null),
        new Input(
            "JPEG cut in half",
            Arrays.copyOf(jpeg, jpeg.length / 2),
            "truncated JPEG: the data ends after "
                + jpeg.length / 2
                + " bytes, in the entropy-coded data of scan 1"),
        new Input(
            "progressive JPEG cut in half",
            Arrays.copyOf(progressive, progressive.length / 2),
            "truncated JPEG: the data ends after " + progressive.length / 2 + " bytes"),
        new Input(
            "JPEG with restart markers cut in half",
            Arrays.copyOf(restarts, restarts.length / 2),
            "truncated JPEG: the data ends after " + restarts.length / 2 + " bytes"),
        new Input(
            "JPEG without EOI",
            Arrays.copyOf(jpeg, jpeg.length - 2),
            "truncated JPEG: the data ends after " + (jpeg.length - 2) + " bytes"),
        new Input(
            "JPEG cut in its frame header",
            Arrays.copyOf(jpeg, sof + 6),
            "truncated JPEG: the data ends after " + (sof + 6) + " bytes, inside segment 0xffc0"),
        new Input(
            "JPEG with bytes between segments",
            concat(
                Arrays.copyOf(jpeg, sof),
                new byte[] {0x55},
                Arrays.copyOfRange(jpeg, sof, jpeg.length)),
            "corrupt JPEG: byte 0x55 at offset " + sof + " where a marker should start"),
        new Input(
            "JPEG declaring 20000 x 20000",
            jpegDeclaring(jpeg, 20000, 20000),
            "JPEG header declares 20000 x 20000 pixels, more than the limit of 67108864 pixels"),
        new Input(
            "JPEG declaring 65535 x 65535",
            jpegDeclaring(jpeg, 65535, 65535),
            "JPEG header declares 65535 x 65535 pixels"),
        new Input(
            "PNG cut in half",
            Arrays.copyOf(png, png.length / 2),
            "truncated PNG: the data ends after " + png.length / 2 + " bytes, inside chunk IDAT"),
        new Input(
            "PNG without IEND",
            Arrays.copyOf(png, png.length - 12),
            "truncated PNG: the data ends after "
                + (png.length - 12)
                + " bytes, before the IEND chunk"),
        new Input(
            "PNG cut in IHDR",
            Arrays.copyOf(png, 20),
            "truncated PNG: the data ends after 20 bytes"),
        new Input("PNG with a damaged IDAT", badCrc, "corrupt PNG: CRC mismatch in chunk IDAT"),
        new Input(
            "PNG declaring 100000 x 70000",
            pngDeclaring(png, 100_000, 70_000),
            "PNG header declares 100000 x 70000 pixels, more than the limit of 67108864 pixels"),
        new Input(
            "BMP cut in half",
            Arrays.copyOf(bmp, bmp.length / 2),
            "truncated BMP: the data ends after " + bmp.length / 2 + " bytes"),
        new Input("BMP without its last byte", Arrays.copyOf(bmp, bmp.length - 1), "truncated BMP"),
        // Not recognised by the header check: each decoder's own words.
        new Input("no image", "not an image at all".getBytes(), ""),
        new Input("nothing", new byte[0], ""));
  }

  /** Null when {@code decoder} decodes the image alone, else the message it fails with. */
  private static String verdict(BatchFunction decoder, byte[] image) throws Exception {
    try (BufferAllocator a = new RootAllocator();
        Batch in = input(a, image)) {
      try (Batch out = decoder.apply(in, BatchContext.of(a, BadRecords.none(), "Decode"))) {
        assertThat(out.rowCount()).isEqualTo(1);
        return null;
      } catch (SluiceException e) {
        assertThat(e.entry()).isEqualTo("k0");
        return e.getMessage();
      }
    }
  }

  private static List<String> keptKeys(BatchFunction decoder, long allowance, byte[]... images)
      throws Exception {
    BadRecords bad = new BadRecords(allowance);
    List<String> keys = new ArrayList<>();
    try (BufferAllocator a = new RootAllocator();
        Batch in = input(a, images);
        Batch out = decoder.apply(in, BatchContext.of(a, bad, "Decode"))) {
      for (int r = 0; r < out.rowCount(); r++) {
        keys.add(out.getString(Batch.KEY_COLUMN, r));
      }
    }
    assertThat(bad.skipped()).isEqualTo(allowance);
    return keys;
  }

  private static Batch input(BufferAllocator a, byte[]... images) {
    try (BatchBuilder b = BatchBuilder.create(a, IN, images.length)) {
      for (int i = 0; i < images.length; i++) {
        b.setString(Batch.KEY_COLUMN, i, "k" + i).setBytes("jpg", i, images[i]);
      }
      return b.build(images.length);
    }
  }

  private static BufferedImage pattern(int w, int h) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, ((x * 7) & 0xFF) << 16 | ((y * 5) & 0xFF) << 8 | ((x * y) & 0xFF));
      }
    }
    return img;
  }

  private static BufferedImage grayPattern(int w, int h) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.getRaster().setSample(x, y, 0, (x * 3 + y) & 0xFF);
      }
    }
    return img;
  }

  private static byte[] write(BufferedImage image, String format, boolean progressive)
      throws IOException {
    ImageWriter writer = ImageIO.getImageWritersByFormatName(format).next();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (MemoryCacheImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
      writer.setOutput(stream);
      ImageWriteParam param = writer.getDefaultWriteParam();
      if (progressive) {
        param.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
      }
      writer.write(null, new IIOImage(image, null, null), param);
    } finally {
      writer.dispose();
    }
    return out.toByteArray();
  }

  private static byte[] imencode(byte[] image, String ext, int... params) {
    try (Mat encoded = new Mat(new BytePointer(image));
        Mat decoded = opencv_imgcodecs.imdecode(encoded, opencv_imgcodecs.IMREAD_COLOR);
        BytePointer out = new BytePointer();
        IntPointer p = new IntPointer(params)) {
      assertThat(opencv_imgcodecs.imencode(ext, decoded, out, p)).isTrue();
      byte[] bytes = new byte[(int) out.limit()];
      out.get(bytes);
      return bytes;
    }
  }

  private static byte[] jpegDeclaring(byte[] jpeg, int width, int height) {
    byte[] out = jpeg.clone();
    int sof = indexOf(out, (byte) 0xFF, (byte) 0xC0);
    out[sof + 5] = (byte) (height >> 8);
    out[sof + 6] = (byte) height;
    out[sof + 7] = (byte) (width >> 8);
    out[sof + 8] = (byte) width;
    return out;
  }

  private static byte[] pngDeclaring(byte[] png, int width, int height) {
    byte[] out = png.clone();
    ByteBuffer.wrap(out, 16, 8).putInt(width).putInt(height);
    CRC32 crc = new CRC32();
    crc.update(out, 12, 17);
    ByteBuffer.wrap(out, 29, 4).putInt((int) crc.getValue());
    return out;
  }

  private static int indexOf(byte[] bytes, byte... pattern) {
    for (int i = 0; i + pattern.length <= bytes.length; i++) {
      if (Arrays.equals(bytes, i, i + pattern.length, pattern, 0, pattern.length)) {
        return i;
      }
    }
    throw new AssertionError("pattern not found");
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
