package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.ImageHeader.Format;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Optional;
import java.util.zip.CRC32;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class ImageHeaderTest {

  /** The ways of writing an image that the probe must read. */
  enum Kind {
    JPEG(Format.JPEG),
    JPEG_PROGRESSIVE(Format.JPEG),
    JPEG_GRAY(Format.JPEG),
    JPEG_RESTART_MARKERS(Format.JPEG),
    JPEG_FILL_BYTES_AND_COMMENTS(Format.JPEG),
    PNG(Format.PNG),
    PNG_GRAY(Format.PNG),
    PNG_ALPHA(Format.PNG),
    PNG_INTERLACED_PALETTE(Format.PNG),
    BMP(Format.BMP),
    BMP_GRAY(Format.BMP),
    GIF(Format.GIF),
    TIFF(Format.TIFF);

    final Format format;

    Kind(Format format) {
      this.format = format;
    }
  }

  @Property(tries = 60)
  void theProbeReadsTheSizeOfImagesImageIoWrites(
      @ForAll @IntRange(min = 1, max = 300) int width,
      @ForAll @IntRange(min = 1, max = 300) int height,
      @ForAll Kind kind)
      throws IOException {
    byte[] encoded = write(kind, width, height);
    assertThat(ImageHeader.probe(encoded)).contains(new ImageHeader(kind.format, width, height));
    // ... and ImageIO reads the same size from them (the variants made here are valid images).
    BufferedImage read = ImageIO.read(new java.io.ByteArrayInputStream(encoded));
    assertThat(read.getWidth()).isEqualTo(width);
    assertThat(read.getHeight()).isEqualTo(height);
  }

  @Provide
  Arbitrary<Kind> jpegsAndPngs() {
    return Arbitraries.of(Kind.class)
        .filter(k -> k.format == Format.JPEG || k.format == Format.PNG);
  }

  @Property(tries = 15)
  void everyCutOfAJpegOrPngIsTruncated(
      @ForAll @IntRange(min = 1, max = 40) int width,
      @ForAll @IntRange(min = 1, max = 40) int height,
      @ForAll("jpegsAndPngs") Kind kind)
      throws IOException {
    byte[] encoded = write(kind, width, height);
    int signature = kind.format == Format.JPEG ? 3 : 8;
    for (int cut = signature; cut < encoded.length; cut++) {
      byte[] prefix = Arrays.copyOf(encoded, cut);
      assertThatThrownBy(() -> ImageHeader.probe(prefix))
          .as("%s of %d bytes cut after %d", kind, encoded.length, cut)
          .isInstanceOf(IOException.class)
          .hasMessageStartingWith(
              "truncated " + kind.format + ": the data ends after " + cut + " bytes");
    }
    // Shorter than the signature: not recognised, left to the decoder.
    assertThat(ImageHeader.probe(Arrays.copyOf(encoded, signature - 1))).isEmpty();
  }

  @Test
  void truncationMessagesSayWhere() throws IOException {
    byte[] jpeg = write(Kind.JPEG, 64, 64);
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(jpeg, jpeg.length / 2)))
        .hasMessage(
            "truncated JPEG: the data ends after "
                + jpeg.length / 2
                + " bytes, in the entropy-coded data of scan 1, before the EOI (end of image) marker");
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(jpeg, jpeg.length - 2)))
        .hasMessageContaining("before the EOI (end of image) marker");
    byte[] png = write(Kind.PNG, 64, 64);
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(png, png.length - 12)))
        .hasMessage(
            "truncated PNG: the data ends after "
                + (png.length - 12)
                + " bytes, before the IEND chunk");
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(png, png.length / 2)))
        .hasMessageStartingWith(
            "truncated PNG: the data ends after "
                + png.length / 2
                + " bytes, inside chunk IDAT at offset ");
  }

  @Test
  void bytesAfterTheEndOfTheImageAreIgnored() throws IOException {
    byte[] jpeg = write(Kind.JPEG_PROGRESSIVE, 30, 20);
    byte[] png = write(Kind.PNG, 30, 20);
    for (byte[] encoded : new byte[][] {jpeg, png}) {
      Optional<ImageHeader> expected = ImageHeader.probe(encoded);
      assertThat(ImageHeader.probe(concat(encoded, new byte[1000])))
          .isEqualTo(expected); // zero padding
      assertThat(ImageHeader.probe(concat(encoded, write(Kind.JPEG, 500, 400))))
          .isEqualTo(expected); // a trailer
    }
  }

  @Test
  void onlyTheBytesBetweenPositionAndLimitAreRead() throws IOException {
    byte[] jpeg = write(Kind.JPEG, 17, 9);
    byte[] around = new byte[jpeg.length + 20];
    Arrays.fill(around, (byte) 0xFF);
    System.arraycopy(jpeg, 0, around, 7, jpeg.length);
    for (ByteBuffer buffer :
        new ByteBuffer[] {
          ByteBuffer.wrap(around), ByteBuffer.allocateDirect(around.length).put(around)
        }) {
      buffer.position(7).limit(7 + jpeg.length);
      assertThat(ImageHeader.probe(buffer)).contains(new ImageHeader(Format.JPEG, 17, 9));
      assertThat(buffer.position()).isEqualTo(7);
      assertThat(buffer.limit()).isEqualTo(7 + jpeg.length);
      buffer.limit(7 + jpeg.length - 1); // the EOI marker's last byte outside the window
      assertThatThrownBy(() -> ImageHeader.probe(buffer)).hasMessageStartingWith("truncated JPEG");
    }
  }

  @Test
  void declaredSizesOverTheLimitAreRefusedNamingSizeAndLimit() throws IOException {
    byte[] jpeg = jpegDeclaring(write(Kind.JPEG, 8, 8), 20000, 20000);
    byte[] progressive = jpegDeclaring(write(Kind.JPEG_PROGRESSIVE, 8, 8), 9000, 8000);
    byte[] png = pngDeclaring(write(Kind.PNG, 8, 8), 100_000, 70_000);
    byte[] gif = write(Kind.GIF, 8, 8);
    gif[6] = gif[8] = (byte) 0xFF; // the logical screen
    gif[7] = gif[9] = (byte) 0xFF;
    int descriptor = gifImageDescriptor(gif);
    for (int i = 5; i <= 8; i++) {
      gif[descriptor + i] = (byte) 0xFF;
    }
    record Case(byte[] encoded, ImageHeader header) {}
    for (Case c :
        new Case[] {
          new Case(jpeg, new ImageHeader(Format.JPEG, 20000, 20000)),
          new Case(progressive, new ImageHeader(Format.JPEG, 9000, 8000)),
          new Case(png, new ImageHeader(Format.PNG, 100_000, 70_000)),
          new Case(gif, new ImageHeader(Format.GIF, 65535, 65535))
        }) {
      assertThat(ImageHeader.probe(c.encoded())).contains(c.header());
      assertThatThrownBy(() -> ImageHeader.check(c.encoded(), ImageHeader.DEFAULT_MAX_PIXELS))
          .isInstanceOf(IOException.class)
          .hasMessage(
              c.header().format()
                  + " header declares "
                  + c.header().width()
                  + " x "
                  + c.header().height()
                  + " pixels, more than the limit of 67108864 pixels; not decoded");
      assertThat(ImageHeader.check(c.encoded(), c.header().pixels()))
          .contains(c.header()); // the limit is inclusive
    }
    assertThat(ImageHeader.DEFAULT_MAX_PIXELS)
        .isEqualTo(64L * 1024 * 1024)
        .isEqualTo(ImageDecoder.DEFAULT_MAX_PIXELS);
  }

  @Test
  void inconsistentHeadersOfRecognisedFormatsAreCorrupt() throws IOException {
    byte[] jpeg = write(Kind.JPEG, 16, 16);
    byte[] png = write(Kind.PNG, 16, 16);
    int sof = indexOfMarker(jpeg, 0xC0);
    byte[] strayBytes =
        concat(
            Arrays.copyOf(jpeg, sof),
            new byte[] {0, 0},
            Arrays.copyOfRange(jpeg, sof, jpeg.length));
    byte[] zeroWidth = jpegDeclaring(jpeg, 16, 0);
    byte[] badCrc = png.clone();
    int idat = indexOf(png, (byte) 'I', (byte) 'D', (byte) 'A', (byte) 'T');
    badCrc[idat + 6] ^= 1; // a bit of the compressed data
    byte[] noIdat =
        concat(
            Arrays.copyOf(png, 33),
            Arrays.copyOfRange(png, png.length - 12, png.length)); // signature, IHDR, IEND
    byte[] bigBmpHeader = write(Kind.BMP, 4, 4);
    bigBmpHeader[14] = 99; // a DIB header size no version has
    record Case(String name, byte[] encoded, String message) {}
    for (Case c :
        new Case[] {
          new Case(
              "bytes between segments",
              strayBytes,
              "corrupt JPEG: byte 0x00 at offset " + sof + " where a marker should start"),
          new Case(
              "SOF of 0 rows",
              zeroWidth,
              "corrupt JPEG: frame header (SOF) at offset " + sof + " declares 16 x 0 pixels"),
          new Case(
              "no scan",
              new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xD9},
              "corrupt JPEG: EOI marker at offset 2 before any scan"),
          new Case(
              "IDAT CRC",
              badCrc,
              "corrupt PNG: CRC mismatch in chunk IDAT at offset " + (idat - 4)),
          new Case(
              "no IDAT",
              noIdat,
              "corrupt PNG: IEND chunk at offset 33 without any IDAT chunk before it"),
          new Case("BMP header", bigBmpHeader, "corrupt BMP: a DIB header of 99 bytes")
        }) {
      assertThatThrownBy(() -> ImageHeader.probe(c.encoded()))
          .as(c.name())
          .isInstanceOf(IOException.class)
          .hasMessage(c.message());
    }
  }

  @Test
  void webpHeadersOfEachKindAreRead() throws IOException {
    byte[] vp8 =
        riff(
            "VP8 ",
            new byte[] {
              0x10, 0x02, 0x00, (byte) 0x9D, 0x01, 0x2A, (byte) 0xFF, (byte) 0xFF, 0x01, 0x40, 0, 0
            }); // 14 bits each (2 of scale): 16383, 1
    byte[] vp8l =
        riff(
            "VP8L",
            new byte[] {
              0x2F, (byte) 0xC6, (byte) 0x80, 0x11, 0x00, 0, 0
            }); // 14 bits each, minus one: 199, 71
    byte[] vp8x =
        riff(
            "VP8X",
            new byte[] {
              0x10, 0, 0, 0, (byte) 0xFF, 0x4F, 0, 0x1F, 0x4E, 0
            }); // 24 bits each, minus one: 20480, 20000
    assertThat(ImageHeader.probe(vp8)).contains(new ImageHeader(Format.WEBP, 16383, 1));
    assertThat(ImageHeader.probe(vp8l)).contains(new ImageHeader(Format.WEBP, 199, 71));
    assertThat(ImageHeader.probe(vp8x)).contains(new ImageHeader(Format.WEBP, 20480, 20000));
    assertThatThrownBy(() -> ImageHeader.check(vp8x, ImageHeader.DEFAULT_MAX_PIXELS))
        .hasMessageStartingWith("WEBP header declares 20480 x 20000 pixels, more than the limit");
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(vp8, vp8.length - 1)))
        .hasMessage(
            "truncated WEBP: the data ends after "
                + (vp8.length - 1)
                + " bytes, inside the RIFF container, which declares "
                + vp8.length
                + " bytes");
    byte[] chunkOverRiff = vp8l.clone();
    chunkOverRiff[16] = 50; // the VP8L chunk longer than its container
    assertThatThrownBy(() -> ImageHeader.probe(chunkOverRiff))
        .hasMessageStartingWith("truncated WEBP")
        .hasMessageContaining("inside chunk VP8L at offset 12");
    byte[] notAFrame = vp8.clone();
    notAFrame[23] = 0;
    assertThatThrownBy(() -> ImageHeader.probe(notAFrame))
        .hasMessage("corrupt WEBP: no VP8 key frame header at offset 20");
  }

  @Test
  void truncatedBmpGifAndTiffFilesAreToo() throws IOException {
    byte[] bmp = write(Kind.BMP, 30, 20);
    byte[] gif = write(Kind.GIF, 30, 20);
    byte[] tiff = write(Kind.TIFF, 30, 20);
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(bmp, bmp.length - 1)))
        .hasMessage(
            "truncated BMP: the data ends after "
                + (bmp.length - 1)
                + " bytes, inside the pixel data, which needs "
                + bmp.length
                + " bytes");
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(bmp, 30)))
        .hasMessage("truncated BMP: the data ends after 30 bytes, inside the DIB header");
    int image = gifImageDescriptor(gif);
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(gif, image + 15)))
        .hasMessage(
            "truncated GIF: the data ends after "
                + (image + 15)
                + " bytes, inside the data of the first image");
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(gif, image)))
        .hasMessageStartingWith("truncated GIF");
    assertThat(ImageHeader.probe(Arrays.copyOf(gif, gif.length - 1)))
        .contains(new ImageHeader(Format.GIF, 30, 20)); // only the trailer missing
    assertThatThrownBy(() -> ImageHeader.probe(Arrays.copyOf(tiff, 6)))
        .hasMessage("truncated TIFF: the data ends after 6 bytes, inside the file header");
  }

  @Test
  void otherFormatsAreLeftToTheDecoder() throws IOException {
    assertThat(ImageHeader.probe(new byte[0])).isEmpty();
    assertThat(ImageHeader.probe("not an image at all".getBytes())).isEmpty();
    assertThat(ImageHeader.probe("P6\n4 4\n255\n".getBytes())).isEmpty(); // PNM
    assertThat(ImageHeader.probe(new byte[] {(byte) 0xFF, (byte) 0xD8}))
        .isEmpty(); // shorter than JPEG's signature
  }

  @Test
  void theRecordRefusesEmptySizes() {
    assertThatThrownBy(() -> new ImageHeader(Format.PNG, 0, 3))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(new ImageHeader(Format.PNG, 65535, 65535).pixels()).isEqualTo(65535L * 65535);
  }

  // --- helpers ---

  static byte[] write(Kind kind, int width, int height) throws IOException {
    BufferedImage image =
        switch (kind) {
          case JPEG_GRAY, PNG_GRAY, BMP_GRAY ->
              new BufferedImage(width, height, BufferedImage.TYPE_BYTE_GRAY);
          case PNG_ALPHA -> new BufferedImage(width, height, BufferedImage.TYPE_INT_ARGB);
          case PNG_INTERLACED_PALETTE, GIF ->
              new BufferedImage(width, height, BufferedImage.TYPE_BYTE_INDEXED);
          default -> new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
        };
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        image.setRGB(
            x, y, 0xFF000000 | (x * 7 & 0xFF) << 16 | (y * 13 & 0xFF) << 8 | ((x ^ y) & 0xFF));
      }
    }
    String format = kind.format.name().toLowerCase(java.util.Locale.ROOT);
    ImageWriter writer = ImageIO.getImageWritersByFormatName(format).next();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (MemoryCacheImageOutputStream stream = new MemoryCacheImageOutputStream(out)) {
      writer.setOutput(stream);
      ImageWriteParam param = writer.getDefaultWriteParam();
      IIOMetadata metadata = null;
      if (kind == Kind.JPEG_PROGRESSIVE || kind == Kind.PNG_INTERLACED_PALETTE) {
        param.setProgressiveMode(ImageWriteParam.MODE_DEFAULT);
      }
      if (kind == Kind.JPEG_RESTART_MARKERS) {
        // A restart interval of one MCU: RSTn markers all through the entropy-coded data.
        metadata =
            writer.getDefaultImageMetadata(
                ImageTypeSpecifier.createFromRenderedImage(image), param);
        IIOMetadataNode tree = (IIOMetadataNode) metadata.getAsTree("javax_imageio_jpeg_image_1.0");
        IIOMetadataNode sequence =
            (IIOMetadataNode) tree.getElementsByTagName("markerSequence").item(0);
        IIOMetadataNode dri = new IIOMetadataNode("dri");
        dri.setAttribute("interval", "1");
        sequence.insertBefore(dri, sequence.getFirstChild());
        metadata.setFromTree("javax_imageio_jpeg_image_1.0", tree);
      }
      writer.write(null, new IIOImage(image, null, metadata), param);
    } finally {
      writer.dispose();
    }
    byte[] encoded = out.toByteArray();
    // A restart marker comes between two MCUs (16 x 16 pixels at ImageIO's 4:2:0 sampling, 8 x 8
    // without subsampling): an image of one MCU has none.
    if (kind == Kind.JPEG_RESTART_MARKERS && (width > 16 || height > 16)) {
      assertThat(indexOfMarker(encoded, 0xD0)).as("restart markers written").isPositive();
    }
    if (kind == Kind.JPEG_FILL_BYTES_AND_COMMENTS) {
      // After SOI: fill bytes, a comment holding 0xFF bytes, an APP15 segment, fill bytes again.
      byte[] extra = {
        (byte) 0xFF,
        (byte) 0xFF,
        (byte) 0xFF,
        (byte) 0xFE,
        0,
        6,
        (byte) 0xFF,
        (byte) 0xD9,
        (byte) 0xFF,
        (byte) 0xDA,
        (byte) 0xFF,
        (byte) 0xEF,
        0,
        3,
        42,
        (byte) 0xFF,
      };
      encoded =
          concat(Arrays.copyOf(encoded, 2), extra, Arrays.copyOfRange(encoded, 2, encoded.length));
    }
    return encoded;
  }

  /** A WebP file of one chunk. */
  private static byte[] riff(String fourCc, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(20 + payload.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.put("RIFF".getBytes())
        .putInt(12 + payload.length)
        .put("WEBP".getBytes())
        .put(fourCc.getBytes())
        .putInt(payload.length)
        .put(payload);
    return b.array();
  }

  /** A copy of a JPEG whose (first) SOFn segment declares another size. */
  static byte[] jpegDeclaring(byte[] jpeg, int width, int height) {
    byte[] out = jpeg.clone();
    int sof = indexOfMarker(out, 0xC0);
    if (sof < 0) {
      sof = indexOfMarker(out, 0xC2);
    }
    out[sof + 5] = (byte) (height >> 8);
    out[sof + 6] = (byte) height;
    out[sof + 7] = (byte) (width >> 8);
    out[sof + 8] = (byte) width;
    return out;
  }

  /** A copy of a PNG whose IHDR declares another size (its CRC made right again). */
  static byte[] pngDeclaring(byte[] png, int width, int height) {
    byte[] out = png.clone();
    ByteBuffer.wrap(out, 16, 8).putInt(width).putInt(height);
    CRC32 crc = new CRC32();
    crc.update(out, 12, 17);
    ByteBuffer.wrap(out, 29, 4).putInt((int) crc.getValue());
    return out;
  }

  /** The offset of the first marker {@code 0xFF marker}, or -1. */
  static int indexOfMarker(byte[] jpeg, int marker) {
    return indexOf(jpeg, (byte) 0xFF, (byte) marker);
  }

  static int indexOf(byte[] bytes, byte... pattern) {
    return indexOf(bytes, pattern, 0);
  }

  /**
   * The offset of a GIF's first image descriptor: after the screen's colour table and the
   * extensions.
   */
  private static int gifImageDescriptor(byte[] gif) {
    int flags = gif[10] & 0xFF;
    int pos = 13 + ((flags & 0x80) == 0 ? 0 : 3 << ((flags & 7) + 1));
    while (gif[pos] == 0x21) {
      pos += 2;
      while (gif[pos] != 0) {
        pos += 1 + (gif[pos] & 0xFF);
      }
      pos++;
    }
    assertThat(gif[pos]).isEqualTo((byte) 0x2C);
    return pos;
  }

  private static int indexOf(byte[] bytes, byte[] pattern, int from) {
    for (int i = from; i + pattern.length <= bytes.length; i++) {
      if (Arrays.equals(bytes, i, i + pattern.length, pattern, 0, pattern.length)) {
        return i;
      }
    }
    return -1;
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
