package dev.sluice.nd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.BadRecords;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.BatchContext;
import dev.sluice.loader.Columns;
import dev.sluice.loader.SluiceException;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import javax.imageio.ImageIO;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
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
}
