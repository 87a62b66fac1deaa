package dev.sluice.loader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.Optional;
import java.util.zip.CRC32;

/**
 * The format and declared size of an encoded image, read from its header without decoding it, and
 * the check that the encoded image is complete. Both image decoders ({@link ImageDecoder} and the
 * native one in {@code sluice-nd4j-bridge}) run {@link #check} on every image before decoding it,
 * so that they refuse the same inputs, with the same words, before any pixel memory is allocated: a
 * 1.5 KB JPEG may declare 20000 x 20000 pixels, and a decoder that trusts it allocates 1.2 GB.
 *
 * <p><b>What {@link #probe} reads.</b> It recognises a format by its signature, then:
 *
 * <ul>
 *   <li><b>JPEG</b> ({@code FF D8 FF}): walks the marker segments (fill bytes, APPn, COM, tables,
 *       restart markers) to the frame header (any SOFn: baseline, extended, progressive, lossless,
 *       arithmetic) for the size, then through every scan's entropy-coded data to the EOI (end of
 *       image) marker. A JPEG without EOI was cut short; libjpeg would fill the missing part with
 *       gray and only warn. Bytes after EOI (zero padding, a camera's trailer, the further images
 *       of a multi-picture file) are ignored, as both decoders ignore them.
 *   <li><b>PNG</b>: the IHDR chunk for the size, then every chunk up to IEND, each whole, with at
 *       least one IDAT; the CRCs of the critical chunks (IHDR, PLTE, IDAT, IEND) are verified, as
 *       libpng does (ImageIO does not). Bytes after IEND are ignored.
 *   <li><b>GIF</b>: the size of the first frame (the image a decoder reads), whose data must be
 *       complete; later frames and the trailer are not looked at.
 *   <li><b>BMP</b>: the size from the DIB header; for uncompressed pixels, that every row is there,
 *       with its padding to 4 bytes.
 *   <li><b>WebP</b>: the size from the VP8, VP8L or VP8X chunk; that the RIFF container and each of
 *       its chunks are complete.
 *   <li><b>TIFF</b> (classic, not BigTIFF): the size from the first IFD; the pixel data is not
 *       checked.
 * </ul>
 *
 * <p>Anything else is not recognised: {@link #probe} returns empty and leaves the bytes to the
 * decoder. A recognised format whose header is inconsistent or cut short, or whose data is
 * incomplete as above, throws an {@link IOException} whose message starts with {@code "truncated
 * <FORMAT>: "} or {@code "corrupt <FORMAT>: "} and says where (the byte offset).
 *
 * <p>What the probe cannot see: damage inside a structurally complete JPEG's entropy-coded data (a
 * bad Huffman code, a scan that stops early before a marker). The pure-Java decoder still reports
 * it (libjpeg warns and {@link ImageDecoder} treats warnings as errors); OpenCV repairs it
 * silently.
 *
 * <p>Cost: one pass over the encoded bytes (the JPEG scan for markers, the CRC of the PNG chunks),
 * small next to decoding them. Reads only; the buffer's position and limit are left as they were.
 *
 * @param format the format recognised from the signature
 * @param width the declared width in pixels, positive
 * @param height the declared height in pixels, positive
 */
public record ImageHeader(Format format, int width, int height) {

  /**
   * The default limit on an image's declared pixels (width times height) that both decoders refuse
   * to decode: 64 Mi pixels (an 8192 x 8192 image; 192 MiB of RGB samples once decoded).
   */
  public static final long DEFAULT_MAX_PIXELS = 1L << 26;

  /** The image formats {@link #probe} recognises. */
  public enum Format {
    JPEG,
    PNG,
    GIF,
    BMP,
    WEBP,
    TIFF
  }

  /**
   * A header; the size must be positive.
   *
   * @throws IllegalArgumentException when the width or height is not positive
   */
  public ImageHeader {
    Objects.requireNonNull(format, "format");
    if (width <= 0 || height <= 0) {
      throw new IllegalArgumentException("image size must be positive: " + width + " x " + height);
    }
  }

  /** The declared number of pixels, width times height. */
  public long pixels() {
    return (long) width * height;
  }

  /**
   * The header of the image in {@code encoded}, or empty when its format is not one of {@link
   * Format}; see the class comment for what is checked.
   *
   * @throws IOException when the format is recognised but the header is inconsistent or the data
   *     incomplete; the message names the format and the offset
   */
  public static Optional<ImageHeader> probe(byte[] encoded) throws IOException {
    return probe(ByteBuffer.wrap(encoded));
  }

  /**
   * {@link #probe(byte[])} over the bytes between the buffer's position and its limit (a heap or a
   * direct buffer, such as a view of Arrow memory). The buffer is not modified.
   */
  public static Optional<ImageHeader> probe(ByteBuffer encoded) throws IOException {
    Bytes b = new Bytes(encoded);
    if (b.startsWith(0, 0xFF, 0xD8, 0xFF)) {
      return Optional.of(jpeg(b));
    }
    if (b.startsWith(0, 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A)) {
      return Optional.of(png(b));
    }
    if (b.startsWith(0, 'G', 'I', 'F', '8', '7', 'a')
        || b.startsWith(0, 'G', 'I', 'F', '8', '9', 'a')) {
      return Optional.of(gif(b));
    }
    if (b.startsWith(0, 'B', 'M')) {
      return Optional.of(bmp(b));
    }
    if (b.startsWith(0, 'R', 'I', 'F', 'F') && b.startsWith(8, 'W', 'E', 'B', 'P')) {
      return Optional.of(webp(b));
    }
    if (b.startsWith(0, 'I', 'I', 0x2A, 0x00) || b.startsWith(0, 'M', 'M', 0x00, 0x2A)) {
      return Optional.of(tiff(b));
    }
    return Optional.empty();
  }

  /**
   * What a decoder runs before decoding: {@link #probe} and then {@link #requireAtMost} the given
   * pixels.
   *
   * @return the header, or empty when the format is not recognised (the decoder decides)
   * @throws IOException when the image is recognised but bad, or declares more than {@code
   *     maxPixels} pixels
   */
  public static Optional<ImageHeader> check(ByteBuffer encoded, long maxPixels) throws IOException {
    Optional<ImageHeader> header = probe(encoded);
    if (header.isPresent()) {
      header.get().requireAtMost(maxPixels);
    }
    return header;
  }

  /** {@link #check(ByteBuffer, long)} of a whole array. */
  public static Optional<ImageHeader> check(byte[] encoded, long maxPixels) throws IOException {
    return check(ByteBuffer.wrap(encoded), maxPixels);
  }

  /**
   * Throws unless this image has at most {@code maxPixels} pixels.
   *
   * @throws IOException naming the declared size and the limit
   */
  public void requireAtMost(long maxPixels) throws IOException {
    if (pixels() > maxPixels) {
      throw tooLarge(format.name(), width, height, maxPixels);
    }
  }

  /**
   * The error for an image whose header declares more pixels than the limit, in the words {@link
   * #requireAtMost} uses; for a decoder that reads the header of a format the probe does not know
   * by other means.
   *
   * @param format the format's name, for the message
   */
  public static IOException tooLarge(String format, long width, long height, long maxPixels) {
    return new IOException(
        format
            + " header declares "
            + width
            + " x "
            + height
            + " pixels, more than the limit of "
            + maxPixels
            + " pixels; not decoded");
  }

  // ---- JPEG ----

  private static ImageHeader jpeg(Bytes b) throws IOException {
    int n = b.length();
    int pos = 2;
    int width = 0;
    int height = 0;
    int scans = 0;
    while (true) {
      if (pos >= n) {
        throw truncated(Format.JPEG, n, "before the EOI (end of image) marker");
      }
      if (b.u8(pos) != 0xFF) {
        // libjpeg skips such bytes with a warning ("extraneous bytes before marker"), which the
        // pure-Java decoder treats as an error: the native one must refuse them too.
        throw corrupt(
            Format.JPEG, "byte 0x%02x at offset %d where a marker should start", b.u8(pos), pos);
      }
      int at = pos;
      while (pos < n && b.u8(pos) == 0xFF) { // a marker may be preceded by any number of fill bytes
        pos++;
      }
      if (pos >= n) {
        throw truncated(Format.JPEG, n, "before the EOI (end of image) marker");
      }
      int marker = b.u8(pos++);
      if (marker == 0xD9) { // EOI
        if (scans == 0) {
          throw corrupt(Format.JPEG, "EOI marker at offset %d before any scan", at);
        }
        return new ImageHeader(Format.JPEG, width, height);
      }
      if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) { // RSTn, TEM: no segment follows
        continue;
      }
      if (marker == 0x00 || marker == 0xD8) {
        throw corrupt(Format.JPEG, "marker 0xff%02x at offset %d", marker, at);
      }
      if (pos + 2 > n) {
        throw truncated(Format.JPEG, n, "inside the marker at offset " + at);
      }
      int length = b.u16be(pos); // (counts itself, not the marker)
      if (length < 2) {
        throw corrupt(
            Format.JPEG,
            "segment 0xff%02x at offset %d declares a length of %d",
            marker,
            at,
            length);
      }
      if (pos + length > n) {
        throw truncated(
            Format.JPEG,
            n,
            String.format(
                "inside segment 0xff%02x at offset %d, which declares %d bytes",
                marker, at, length));
      }
      if (isStartOfFrame(marker)) {
        if (width != 0) {
          throw corrupt(Format.JPEG, "a second frame header (SOF) at offset %d", at);
        }
        int components = length >= 8 ? b.u8(pos + 7) : 0;
        if (length < 8 || components == 0 || length != 8 + 3 * components) {
          throw corrupt(
              Format.JPEG,
              "frame header (SOF) at offset %d of %d bytes for %d components",
              at,
              length,
              components);
        }
        height = b.u16be(pos + 3);
        width = b.u16be(pos + 5);
        if (width == 0
            || height == 0) { // (a height defined later by a DNL marker: no decoder here reads it)
          throw corrupt(
              Format.JPEG,
              "frame header (SOF) at offset %d declares %d x %d pixels",
              at,
              width,
              height);
        }
      }
      pos += length;
      if (marker == 0xDA) { // SOS: the entropy-coded data follows, up to the next marker
        if (width == 0) {
          throw corrupt(Format.JPEG, "scan (SOS) at offset %d before the frame header (SOF)", at);
        }
        scans++;
        pos = endOfEntropyCodedData(b, pos);
        if (pos < 0) {
          throw truncated(
              Format.JPEG,
              n,
              "in the entropy-coded data of scan "
                  + scans
                  + ", before the EOI (end of image) marker");
        }
      }
    }
  }

  private static boolean isStartOfFrame(int marker) {
    // SOF0-SOF15 but DHT (C4), JPG (C8) and DAC (CC), which share the range.
    return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
  }

  /**
   * The offset of the marker that ends the entropy-coded data starting at {@code from} (of its
   * first fill byte), or -1 when the data ends first. Inside the data, a 0xFF byte is followed by 0
   * (a stuffed 0xFF) or a restart marker; anything else is a marker.
   */
  private static int endOfEntropyCodedData(Bytes b, int from) {
    int n = b.length();
    int i = from;
    while (true) {
      i = b.indexOfFF(i);
      if (i < 0) {
        return -1;
      }
      int j = i + 1;
      while (j < n && b.u8(j) == 0xFF) {
        j++;
      }
      if (j >= n) {
        return -1;
      }
      int next = b.u8(j);
      if (next != 0x00 && (next < 0xD0 || next > 0xD7)) {
        return i;
      }
      i = j + 1;
    }
  }

  // ---- PNG ----

  private static final int IHDR = chunkType("IHDR");
  private static final int IDAT = chunkType("IDAT");
  private static final int IEND = chunkType("IEND");

  private static int chunkType(String name) {
    byte[] b = name.getBytes(StandardCharsets.US_ASCII);
    return (b[0] & 0xFF) << 24 | (b[1] & 0xFF) << 16 | (b[2] & 0xFF) << 8 | (b[3] & 0xFF);
  }

  private static ImageHeader png(Bytes b) throws IOException {
    int n = b.length();
    int pos = 8;
    int width = 0;
    int height = 0;
    boolean data = false;
    while (true) {
      if (pos + 8 > n) {
        throw truncated(
            Format.PNG, n, pos == 8 ? "inside the IHDR chunk" : "before the IEND chunk");
      }
      long length = b.u32be(pos);
      int type = (int) b.u32be(pos + 4);
      String name = chunkName(type);
      if (name == null) {
        throw corrupt(Format.PNG, "no chunk type at offset %d", pos + 4);
      }
      if (length > Integer.MAX_VALUE) {
        throw corrupt(Format.PNG, "chunk %s at offset %d declares %d bytes", name, pos, length);
      }
      if (pos + 12 + length > n) {
        throw truncated(
            Format.PNG,
            n,
            "inside chunk " + name + " at offset " + pos + ", which declares " + length + " bytes");
      }
      if (pos == 8 && (type != IHDR || length != 13)) {
        throw corrupt(
            Format.PNG,
            "the first chunk is %s of %d bytes, not the IHDR header of 13",
            name,
            length);
      }
      boolean critical = (type & 0x2000_0000) == 0; // (the first letter is upper case)
      if (critical && crc(b, pos + 4, 4 + (int) length) != b.u32be(pos + 8 + (int) length)) {
        throw corrupt(Format.PNG, "CRC mismatch in chunk %s at offset %d", name, pos);
      }
      if (type == IHDR) {
        if (pos != 8) {
          throw corrupt(Format.PNG, "a second IHDR chunk at offset %d", pos);
        }
        long w = b.u32be(pos + 8);
        long h = b.u32be(pos + 12);
        if (w == 0 || h == 0 || w > Integer.MAX_VALUE || h > Integer.MAX_VALUE) {
          throw corrupt(Format.PNG, "the IHDR chunk declares %d x %d pixels", w, h);
        }
        width = (int) w;
        height = (int) h;
      } else if (type == IDAT) {
        data = true;
      } else if (type == IEND) {
        if (!data) {
          throw corrupt(
              Format.PNG, "IEND chunk at offset %d without any IDAT chunk before it", pos);
        }
        return new ImageHeader(Format.PNG, width, height);
      }
      pos += 12 + (int) length;
    }
  }

  /** The four letters of a chunk type, or null when they are not letters. */
  private static String chunkName(int type) {
    char[] c = new char[4];
    for (int i = 0; i < 4; i++) {
      c[i] = (char) ((type >>> (24 - 8 * i)) & 0xFF);
      if (!Character.isLetter(c[i]) || c[i] > 'z') {
        return null;
      }
    }
    return new String(c);
  }

  private static long crc(Bytes b, int from, int length) {
    CRC32 crc = new CRC32();
    crc.update(b.slice(from, length));
    return crc.getValue();
  }

  // ---- GIF ----

  private static ImageHeader gif(Bytes b) throws IOException {
    int n = b.length();
    if (n < 13) {
      throw truncated(Format.GIF, n, "inside the logical screen descriptor");
    }
    int pos = 13 + colorTableBytes(b.u8(10));
    while (true) {
      if (pos >= n) {
        throw truncated(Format.GIF, n, "before the first image");
      }
      int block = b.u8(pos);
      if (block == 0x21) { // an extension: label, then sub-blocks
        pos = skipSubBlocks(b, pos + 2);
        if (pos < 0) {
          throw truncated(Format.GIF, n, "inside an extension, before the first image");
        }
      } else if (block == 0x2C) { // the image descriptor
        if (pos + 10 > n) {
          throw truncated(Format.GIF, n, "inside the image descriptor at offset " + pos);
        }
        int width = b.u16le(pos + 5);
        int height = b.u16le(pos + 7);
        if (width == 0 || height == 0) {
          throw corrupt(Format.GIF, "the first image declares %d x %d pixels", width, height);
        }
        int data = pos + 10 + colorTableBytes(b.u8(pos + 9)) + 1; // (+1: the LZW minimum code size)
        if (skipSubBlocks(b, data) < 0) {
          throw truncated(Format.GIF, n, "inside the data of the first image");
        }
        return new ImageHeader(Format.GIF, width, height);
      } else {
        throw corrupt(Format.GIF, "block 0x%02x at offset %d before the first image", block, pos);
      }
    }
  }

  private static int colorTableBytes(int flags) {
    return (flags & 0x80) == 0 ? 0 : 3 << ((flags & 7) + 1);
  }

  /** The offset after the sub-blocks starting at {@code pos} and their terminator, or -1. */
  private static int skipSubBlocks(Bytes b, int pos) {
    int n = b.length();
    while (pos < n) {
      int size = b.u8(pos);
      pos += 1 + size;
      if (size == 0) {
        return pos;
      }
    }
    return -1;
  }

  // ---- BMP ----

  private static ImageHeader bmp(Bytes b) throws IOException {
    int n = b.length();
    if (n < 18) {
      throw truncated(Format.BMP, n, "inside the file header");
    }
    long dibSize = b.u32le(14);
    long width;
    long height;
    int bitsPerPixel;
    long compression;
    if (dibSize == 12) { // OS/2 BITMAPCOREHEADER
      if (n < 26) {
        throw truncated(Format.BMP, n, "inside the DIB header");
      }
      width = b.u16le(18);
      height = b.u16le(20);
      bitsPerPixel = b.u16le(24);
      compression = 0;
    } else if (dibSize == 40
        || dibSize == 52
        || dibSize == 56
        || dibSize == 64
        || dibSize == 108
        || dibSize == 124) {
      // BITMAPINFOHEADER, its successors and OS/2's second version: the size where the first has
      // it.
      if (n < 14 + 40) {
        throw truncated(Format.BMP, n, "inside the DIB header");
      }
      width = (int) b.u32le(18);
      height = Math.abs((long) (int) b.u32le(22)); // (negative: stored top-down)
      bitsPerPixel = b.u16le(28);
      compression = b.u32le(30);
    } else {
      throw corrupt(Format.BMP, "a DIB header of %d bytes", dibSize);
    }
    if (width <= 0 || height <= 0 || height > Integer.MAX_VALUE) {
      throw corrupt(Format.BMP, "the DIB header declares %d x %d pixels", width, height);
    }
    boolean uncompressed =
        compression == 0 || compression == 3 || compression == 6; // RGB, BITFIELDS, ALPHABITFIELDS
    if (uncompressed
        && (bitsPerPixel == 1
            || bitsPerPixel == 4
            || bitsPerPixel == 8
            || bitsPerPixel == 16
            || bitsPerPixel == 24
            || bitsPerPixel == 32)) {
      // Rows are padded to 4 bytes, the last one too (OpenCV refuses a file without its padding,
      // ImageIO reads it: the check makes them agree).
      long pixels = b.u32le(10) + (width * bitsPerPixel + 31) / 32 * 4 * height;
      if (pixels > n) {
        throw truncated(Format.BMP, n, "inside the pixel data, which needs " + pixels + " bytes");
      }
    }
    return new ImageHeader(Format.BMP, (int) width, (int) height);
  }

  // ---- WebP ----

  private static ImageHeader webp(Bytes b) throws IOException {
    int n = b.length();
    long riff = 8 + b.u32le(4);
    if (riff > n) {
      throw truncated(
          Format.WEBP, n, "inside the RIFF container, which declares " + riff + " bytes");
    }
    int end = (int) riff;
    if (20 > end) {
      throw truncated(Format.WEBP, n, "before the first chunk");
    }
    // Every chunk whole (each padded to an even size).
    for (long pos = 12; pos < end; ) {
      if (pos + 8 > end) {
        throw truncated(Format.WEBP, n, "inside the chunk header at offset " + pos);
      }
      long next = pos + 8 + b.u32le((int) pos + 4);
      if (next > end) {
        throw truncated(
            Format.WEBP, n, "inside chunk " + fourCc(b, (int) pos) + " at offset " + pos);
      }
      pos = next + (next & 1);
    }
    String first = fourCc(b, 12);
    long size = b.u32le(16);
    int width;
    int height;
    switch (first) {
      case "VP8 " -> {
        if (size < 10 || !b.startsWith(23, 0x9D, 0x01, 0x2A)) {
          throw corrupt(Format.WEBP, "no VP8 key frame header at offset 20");
        }
        width = b.u16le(26) & 0x3FFF;
        height = b.u16le(28) & 0x3FFF;
      }
      case "VP8L" -> {
        if (size < 5 || b.u8(20) != 0x2F) {
          throw corrupt(Format.WEBP, "no VP8L header at offset 20");
        }
        long bits = b.u32le(21);
        width = (int) (bits & 0x3FFF) + 1;
        height = (int) ((bits >>> 14) & 0x3FFF) + 1;
      }
      case "VP8X" -> {
        if (size < 10) {
          throw corrupt(Format.WEBP, "a VP8X chunk of %d bytes", size);
        }
        width = b.u24le(24) + 1;
        height = b.u24le(27) + 1;
      }
      default ->
          throw corrupt(
              Format.WEBP, "first chunk '%s' at offset 12 is not VP8, VP8L or VP8X", first);
    }
    if (width == 0 || height == 0) {
      throw corrupt(
          Format.WEBP, "the %s header declares %d x %d pixels", first.trim(), width, height);
    }
    return new ImageHeader(Format.WEBP, width, height);
  }

  private static String fourCc(Bytes b, int at) {
    char[] c = new char[4];
    for (int i = 0; i < 4; i++) {
      c[i] = (char) b.u8(at + i);
    }
    return new String(c);
  }

  // ---- TIFF ----

  private static ImageHeader tiff(Bytes b) throws IOException {
    int n = b.length();
    boolean little = b.u8(0) == 'I';
    if (n < 8) {
      throw truncated(Format.TIFF, n, "inside the file header");
    }
    long ifd = little ? b.u32le(4) : b.u32be(4);
    if (ifd < 8 || ifd + 2 > n) {
      throw truncated(Format.TIFF, n, "before the first IFD at offset " + ifd);
    }
    int entries = little ? b.u16le((int) ifd) : b.u16be((int) ifd);
    if (ifd + 2 + 12L * entries > n) {
      throw truncated(Format.TIFF, n, "inside the first IFD at offset " + ifd);
    }
    long width = -1;
    long height = -1;
    for (int i = 0; i < entries; i++) {
      int e = (int) ifd + 2 + 12 * i;
      int tag = little ? b.u16le(e) : b.u16be(e);
      int type = little ? b.u16le(e + 2) : b.u16be(e + 2);
      if (tag != 256 && tag != 257) { // ImageWidth, ImageLength
        continue;
      }
      long value;
      if (type == 3) { // SHORT, left-justified in the value field
        value = little ? b.u16le(e + 8) : b.u16be(e + 8);
      } else if (type == 4) { // LONG
        value = little ? b.u32le(e + 8) : b.u32be(e + 8);
      } else {
        throw corrupt(Format.TIFF, "tag %d of type %d in the first IFD", tag, type);
      }
      if (tag == 256) {
        width = value;
      } else {
        height = value;
      }
    }
    if (width <= 0 || height <= 0 || width > Integer.MAX_VALUE || height > Integer.MAX_VALUE) {
      throw corrupt(Format.TIFF, "the first IFD declares %d x %d pixels", width, height);
    }
    return new ImageHeader(Format.TIFF, (int) width, (int) height);
  }

  // ---- errors ----

  private static IOException truncated(Format format, int length, String where) {
    return new IOException(
        "truncated " + format + ": the data ends after " + length + " bytes, " + where);
  }

  private static IOException corrupt(Format format, String what, Object... args) {
    return new IOException("corrupt " + format + ": " + String.format(what, args));
  }

  /** Absolute reads relative to the buffer's position, up to its limit. */
  private static final class Bytes {
    private final ByteBuffer buffer;
    private final int base;
    private final int length;

    Bytes(ByteBuffer buffer) {
      this.buffer = buffer;
      this.base = buffer.position();
      this.length = buffer.remaining();
    }

    int length() {
      return length;
    }

    int u8(int i) {
      return buffer.get(base + i) & 0xFF;
    }

    int u16be(int i) {
      return u8(i) << 8 | u8(i + 1);
    }

    int u16le(int i) {
      return u8(i) | u8(i + 1) << 8;
    }

    int u24le(int i) {
      return u8(i) | u8(i + 1) << 8 | u8(i + 2) << 16;
    }

    long u32be(int i) {
      return (long) u16be(i) << 16 | u16be(i + 2);
    }

    long u32le(int i) {
      return u16le(i) | (long) u16le(i + 2) << 16;
    }

    boolean startsWith(int at, int... signature) {
      if (at + signature.length > length) {
        return false;
      }
      for (int k = 0; k < signature.length; k++) {
        if (u8(at + k) != signature[k]) {
          return false;
        }
      }
      return true;
    }

    /** The first offset at or after {@code from} holding 0xFF, or -1. */
    int indexOfFF(int from) {
      for (int i = from; i < length; i++) {
        if (buffer.get(base + i) == (byte) 0xFF) {
          return i;
        }
      }
      return -1;
    }

    /** A view of {@code [from, from + n)}. */
    ByteBuffer slice(int from, int n) {
      return buffer.slice(base + from, n);
    }
  }
}
