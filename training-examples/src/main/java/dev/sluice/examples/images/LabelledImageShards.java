package dev.sluice.examples.images;

import dev.sluice.loader.source.WebDatasetWriter;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.GradientPaint;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Line2D;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.SplittableRandom;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * Generates a labelled image dataset that a small CNN can learn: JPEG images of ten classes, each a
 * distinct shape or pattern ({@link #CLASS_NAMES}: circle, square, triangle, horizontal stripes,
 * vertical stripes, cross, ring, diagonal, checkerboard, dot grid) drawn with {@code java.awt} at a
 * random position, size and colour pair on a gradient background, plus Gaussian pixel noise, and
 * encoded by {@code javax.imageio} at the configured quality.
 *
 * <p><b>Two layouts of the same bytes.</b> {@link #ensure} writes WebDataset tar shards: sample
 * {@code i} is the entries {@code KEY.jpg} and {@code KEY.cls} (its class index as decimal text),
 * {@code KEY = }{@link #key(long) key(i)}; the training samples ({@code 0 .. train-1}) go to {@code
 * train-00000.tar}, ..., the held-out ones ({@code train .. train+heldOut-1}) to {@code
 * heldout-00000.tar}, ..., each split cut into contiguous runs of (nearly) equal size. {@link
 * #ensureImageFolder} writes the same JPEG files as {@code root/train/<class>/<KEY>.jpg} and {@code
 * root/heldout/<class>/<KEY>.jpg}, where {@code <class>} is {@link #classDirName(int)} (such as
 * {@code 3-hstripes}): the names sort in class-index order, so DataVec's {@code
 * ParentPathLabelGenerator} (which sorts the label names) gives every image its class index.
 *
 * <p><b>Deterministic.</b> A sample's image and label are pure functions of ({@link Spec}, index):
 * {@link #jpeg} and {@link #label} recompute them, and a spec always produces the same files (on
 * one JDK: the bytes depend on Java2D's rasteriser and the JPEG encoder).
 *
 * <p><b>Idempotent.</b> Each layout writes its manifest last, after every file is complete; a later
 * call with the same spec that finds the manifest and every file it lists (with its recorded size)
 * generates nothing; anything else (another spec, a missing or truncated file, an interrupted run)
 * regenerates that layout, deleting only this generator's files. Concurrent generators of one
 * directory in different processes are serialised by a file lock.
 */
public final class LabelledImageShards {
  /** The classes, in label order. */
  public static final List<String> CLASS_NAMES =
      List.of(
          "circle",
          "square",
          "triangle",
          "hstripes",
          "vstripes",
          "cross",
          "ring",
          "diagonal",
          "checkerboard",
          "dotgrid");

  /** The number of classes. */
  public static final int CLASSES = CLASS_NAMES.size();

  /** The extension (and column) of the image. */
  public static final String IMAGE_EXT = "jpg";

  /** The extension (and column) of the label. */
  public static final String LABEL_EXT = "cls";

  /** The tar shards' manifest. */
  public static final String MANIFEST = "labelled-images.properties";

  /** The image folder's manifest. */
  public static final String FOLDER_MANIFEST = "labelled-images-folder.properties";

  /** The prefix of training shards and the image folder's training directory. */
  public static final String TRAIN = "train";

  /** The prefix of held-out shards and the image folder's held-out directory. */
  public static final String HELD_OUT = "heldout";

  private static final String LOCK = ".labelled-images.lock";
  private static final String FORMAT = "1";
  private static final String SHARD_SUFFIX = ".tar";

  private LabelledImageShards() {}

  /**
   * What to generate. Immutable.
   *
   * @param train training samples (at least 1)
   * @param heldOut held-out samples (0 for none)
   * @param trainShards shards of the training samples (1 to {@code train})
   * @param heldOutShards shards of the held-out samples (1 to {@code heldOut}; 0 when there are
   *     none)
   * @param size width and height of every image, in pixels (16 to 4096)
   * @param quality JPEG quality in percent (1 to 100)
   * @param noise standard deviation of the Gaussian pixel noise, in 8-bit levels (0 to 64)
   * @param seed seed of the images and labels
   */
  public record Spec(
      int train,
      int heldOut,
      int trainShards,
      int heldOutShards,
      int size,
      int quality,
      double noise,
      long seed) {
    public Spec {
      if (train < 1 || trainShards < 1 || trainShards > train) {
        throw new IllegalArgumentException(
            "need 1 <= trainShards <= train, got "
                + trainShards
                + " shards for "
                + train
                + " samples");
      }
      if (heldOut < 0
          || (heldOut == 0 ? heldOutShards != 0 : heldOutShards < 1 || heldOutShards > heldOut)) {
        throw new IllegalArgumentException(
            "need 1 <= heldOutShards <= heldOut (or both 0), got "
                + heldOutShards
                + " shards for "
                + heldOut
                + " samples");
      }
      if (size < 16 || size > 4096) {
        throw new IllegalArgumentException("size must be in [16, 4096], got " + size);
      }
      if (quality < 1 || quality > 100) {
        throw new IllegalArgumentException("quality must be in [1, 100], got " + quality);
      }
      if (!(noise >= 0 && noise <= 64)) {
        throw new IllegalArgumentException("noise must be in [0, 64], got " + noise);
      }
    }

    /**
     * The defaults: 6,000 training and 1,000 held-out 64x64 images, 6 + 1 shards, quality 90, noise
     * 8, seed 42.
     */
    public static Spec defaults() {
      return new Spec(6_000, 1_000, 6, 1, 64, 90, 8, 42);
    }

    /** This spec with {@code train} and {@code heldOut} samples in the given numbers of shards. */
    public Spec withSamples(int train, int trainShards, int heldOut, int heldOutShards) {
      return new Spec(train, heldOut, trainShards, heldOutShards, size, quality, noise, seed);
    }

    /** This spec at {@code size x size} pixels. */
    public Spec withSize(int size) {
      return new Spec(train, heldOut, trainShards, heldOutShards, size, quality, noise, seed);
    }

    /** This spec with another seed. */
    public Spec withSeed(long seed) {
      return new Spec(train, heldOut, trainShards, heldOutShards, size, quality, noise, seed);
    }

    /** All samples, training and held-out. */
    public int total() {
      return train + heldOut;
    }

    /**
     * The first sample index of training shard {@code s} (and, for {@code s == trainShards}, {@code
     * train}).
     */
    public int trainShardStart(int s) {
      return (int) ((long) train * s / trainShards);
    }

    /**
     * The first sample index of held-out shard {@code s} (and, for {@code s == heldOutShards},
     * {@code train + heldOut}).
     */
    public int heldOutShardStart(int s) {
      return train + (int) ((long) heldOut * s / heldOutShards);
    }
  }

  /**
   * Tar shards on disk.
   *
   * @param dir the directory holding them
   * @param spec what they hold
   * @param train the training shards, in order
   * @param heldOut the held-out shards, in order (empty when the spec has none)
   * @param bytesOnDisk total size of the shard files
   * @param generated whether this call wrote them (false: they were already there)
   */
  public record Shards(
      Path dir,
      Spec spec,
      List<Path> train,
      List<Path> heldOut,
      long bytesOnDisk,
      boolean generated) {
    public Shards {
      train = List.copyOf(train);
      heldOut = List.copyOf(heldOut);
    }

    /** The path pattern a {@code WebDatasetSource} reads the training shards with. */
    public String trainPattern() {
      return dir.resolve(TRAIN + "-*" + SHARD_SUFFIX).toString();
    }

    /** The path pattern a {@code WebDatasetSource} reads the held-out shards with. */
    public String heldOutPattern() {
      return dir.resolve(HELD_OUT + "-*" + SHARD_SUFFIX).toString();
    }
  }

  /**
   * An image folder on disk: {@code root/train/<class>/<key>.jpg} and {@code
   * root/heldout/<class>/<key>.jpg}.
   *
   * @param root its root
   * @param spec what it holds
   * @param files number of image files
   * @param bytesOnDisk total size of the image files
   * @param generated whether this call wrote them
   */
  public record ImageFolder(Path root, Spec spec, long files, long bytesOnDisk, boolean generated) {
    /**
     * The training images' directory (one sub-directory per class), for DataVec's {@code
     * FileSplit}.
     */
    public Path trainDir() {
      return root.resolve(TRAIN);
    }

    /**
     * The held-out images' directory (one sub-directory per class; absent when the spec has none).
     */
    public Path heldOutDir() {
      return root.resolve(HELD_OUT);
    }
  }

  /**
   * Makes sure {@code dir} holds the tar shards {@code spec} describes, generating them unless an
   * identical, complete set is already there.
   */
  public static Shards ensure(Path dir, Spec spec) throws IOException {
    Objects.requireNonNull(spec, "spec");
    Files.createDirectories(dir);
    try (FileChannel lock =
        FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      lock.lock(); // released when the channel closes
      Shards existing = shardsIfComplete(dir, spec);
      return existing != null ? existing : generateShards(dir, spec);
    }
  }

  /**
   * The complete shards {@code spec} describes if {@code dir} holds them, else null; never writes
   * (for a reader that must not regenerate data, such as a benchmark's child process).
   */
  public static Shards existingShards(Path dir, Spec spec) throws IOException {
    return Files.isDirectory(dir)
        ? shardsIfComplete(dir, Objects.requireNonNull(spec, "spec"))
        : null;
  }

  /**
   * The complete image folder {@code spec} describes if {@code root} holds it, else null; never
   * writes.
   */
  public static ImageFolder existingImageFolder(Path root, Spec spec) throws IOException {
    return Files.isDirectory(root)
        ? folderIfComplete(root, Objects.requireNonNull(spec, "spec"))
        : null;
  }

  /**
   * Makes sure {@code root} holds the image folder {@code spec} describes (the same JPEG bytes as
   * the tar shards), generating it unless an identical, complete one is already there.
   */
  public static ImageFolder ensureImageFolder(Path root, Spec spec) throws IOException {
    Objects.requireNonNull(spec, "spec");
    Files.createDirectories(root);
    try (FileChannel lock =
        FileChannel.open(root.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      lock.lock();
      ImageFolder existing = folderIfComplete(root, spec);
      return existing != null ? existing : generateFolder(root, spec);
    }
  }

  /** The key of sample {@code index}: eight digits, zero-padded. */
  public static String key(long index) {
    return String.format(Locale.ROOT, "%08d", index);
  }

  /**
   * The image-folder directory name of class {@code label}, such as {@code 0-circle}; these sort in
   * label order.
   */
  public static String classDirName(int label) {
    return label + "-" + CLASS_NAMES.get(label);
  }

  /** The label of sample {@code index}, in {@code [0, CLASSES)}. */
  public static int label(Spec spec, long index) {
    return (int)
        Long.remainderUnsigned(mix(spec.seed() * 31 + index + 0x2545F4914F6CDD1DL), CLASSES);
  }

  /** Whether sample {@code index} is a training sample (else a held-out one). */
  public static boolean isTrain(Spec spec, long index) {
    return index < spec.train();
  }

  /**
   * The image of sample {@code index}, before encoding: {@code TYPE_3BYTE_BGR}, {@code size x
   * size}.
   */
  public static BufferedImage image(Spec spec, long index) {
    return draw(
        spec,
        label(spec, index),
        new SplittableRandom(mix(spec.seed() ^ mix(index + 0x632BE59BD9B4E019L))));
  }

  /** The JPEG bytes of sample {@code index}. */
  public static byte[] jpeg(Spec spec, long index) {
    try {
      return encode(image(spec, index), spec.quality());
    } catch (IOException e) {
      throw new UncheckedIOException(e); // in-memory: not expected
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Drawing

  private static BufferedImage draw(Spec spec, int label, SplittableRandom rnd) {
    int s = spec.size();
    BufferedImage img = new BufferedImage(s, s, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = img.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
      g.setRenderingHint(RenderingHints.KEY_STROKE_CONTROL, RenderingHints.VALUE_STROKE_PURE);
      Color bg = randomColor(rnd);
      Color fg;
      do {
        fg = randomColor(rnd);
      } while (Math.abs(luma(fg) - luma(bg)) < 70);
      Color bg2 = shift(bg, rnd, 40);
      g.setPaint(new GradientPaint(0, 0, bg, (float) (s * rnd.nextDouble()), s, bg2));
      g.fillRect(0, 0, s, s);
      g.setColor(fg);
      // The shape's bounding box: 40 to 85 % of the image, anywhere inside it.
      double d = s * (0.40 + 0.45 * rnd.nextDouble());
      double x = (s - d) * rnd.nextDouble();
      double y = (s - d) * rnd.nextDouble();
      drawShape(g, label, x, y, d, rnd);
    } finally {
      g.dispose();
    }
    addNoise(img, spec.noise(), rnd);
    return img;
  }

  private static void drawShape(
      Graphics2D g, int label, double x, double y, double d, SplittableRandom rnd) {
    switch (label) {
      case 0 -> g.fill(new Ellipse2D.Double(x, y, d, d)); // circle
      case 1 -> { // square
        double side = d * 0.9;
        g.fill(
            new java.awt.geom.Rectangle2D.Double(
                x + (d - side) / 2, y + (d - side) / 2, side, side));
      }
      case 2 -> { // triangle, pointing up or down
        Polygon p = new Polygon();
        boolean up = rnd.nextBoolean();
        p.addPoint((int) Math.round(x), (int) Math.round(up ? y + d : y));
        p.addPoint((int) Math.round(x + d), (int) Math.round(up ? y + d : y));
        p.addPoint((int) Math.round(x + d / 2), (int) Math.round(up ? y : y + d));
        g.fill(p);
      }
      case 3, 4 -> { // horizontal or vertical stripes: 3 to 5 bars with equal gaps
        int bars = 3 + rnd.nextInt(3);
        double period = d / bars;
        for (int i = 0; i < bars; i++) {
          double o = i * period;
          g.fill(
              label == 3
                  ? new java.awt.geom.Rectangle2D.Double(x, y + o, d, period / 2)
                  : new java.awt.geom.Rectangle2D.Double(x + o, y, period / 2, d));
        }
      }
      case 5 -> { // cross (plus sign)
        double t = d * (0.18 + 0.12 * rnd.nextDouble());
        g.fill(new java.awt.geom.Rectangle2D.Double(x + (d - t) / 2, y, t, d));
        g.fill(new java.awt.geom.Rectangle2D.Double(x, y + (d - t) / 2, d, t));
      }
      case 6 -> { // ring
        float t = (float) (d * (0.10 + 0.08 * rnd.nextDouble()));
        g.setStroke(new BasicStroke(t));
        g.draw(new Ellipse2D.Double(x + t / 2, y + t / 2, d - t, d - t));
      }
      case 7 -> { // one thick diagonal, either way
        float t = (float) (d * (0.15 + 0.10 * rnd.nextDouble()));
        g.setStroke(new BasicStroke(t, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER));
        g.draw(
            rnd.nextBoolean()
                ? new Line2D.Double(x, y, x + d, y + d)
                : new Line2D.Double(x + d, y, x, y + d));
      }
      case 8 -> { // checkerboard of 3x3 to 5x5 cells
        int k = 3 + rnd.nextInt(3);
        double c = d / k;
        for (int i = 0; i < k; i++) {
          for (int j = 0; j < k; j++) {
            if ((i + j) % 2 == 0) {
              g.fill(new java.awt.geom.Rectangle2D.Double(x + i * c, y + j * c, c, c));
            }
          }
        }
      }
      case 9 -> { // grid of 3x3 to 5x5 dots
        int k = 3 + rnd.nextInt(3);
        double c = d / k;
        double r = c * (0.22 + 0.10 * rnd.nextDouble());
        for (int i = 0; i < k; i++) {
          for (int j = 0; j < k; j++) {
            g.fill(
                new Ellipse2D.Double(x + (i + 0.5) * c - r, y + (j + 0.5) * c - r, 2 * r, 2 * r));
          }
        }
      }
      default -> throw new IllegalArgumentException("no class " + label);
    }
  }

  private static void addNoise(BufferedImage img, double sigma, SplittableRandom rnd) {
    if (sigma == 0) {
      return;
    }
    byte[] px = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
    for (int i = 0; i < px.length; i++) {
      int v = (px[i] & 0xFF) + (int) Math.round(gaussian(rnd) * sigma);
      px[i] = (byte) Math.max(0, Math.min(255, v));
    }
  }

  /**
   * A standard normal deviate (Box-Muller, one of the pair), from {@code rnd} only: reproducible.
   */
  private static double gaussian(SplittableRandom rnd) {
    double u = 1.0 - rnd.nextDouble(); // (0, 1]
    double v = rnd.nextDouble();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  private static Color randomColor(SplittableRandom rnd) {
    return new Color(rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256));
  }

  private static Color shift(Color c, SplittableRandom rnd, int by) {
    return new Color(
        clamp(c.getRed() + rnd.nextInt(-by, by + 1)),
        clamp(c.getGreen() + rnd.nextInt(-by, by + 1)),
        clamp(c.getBlue() + rnd.nextInt(-by, by + 1)));
  }

  private static int clamp(int v) {
    return Math.max(0, Math.min(255, v));
  }

  private static double luma(Color c) {
    return 0.299 * c.getRed() + 0.587 * c.getGreen() + 0.114 * c.getBlue();
  }

  private static byte[] encode(BufferedImage img, int quality) throws IOException {
    ImageWriter writer = ImageIO.getImageWritersByFormatName("jpeg").next();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(img.getWidth() * img.getHeight() / 2);
    try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
      writer.setOutput(out);
      ImageWriteParam param = writer.getDefaultWriteParam();
      param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
      param.setCompressionQuality(quality / 100f);
      writer.write(null, new IIOImage(img, null, null), param);
    } finally {
      writer.dispose();
    }
    return bytes.toByteArray();
  }

  // ---------------------------------------------------------------------------------------------
  // Tar shards

  private static Shards generateShards(Path dir, Spec spec) throws IOException {
    // The manifest goes first, so that an interrupted run is never mistaken for a complete one.
    Files.deleteIfExists(dir.resolve(MANIFEST));
    for (Path old : ownShards(dir)) {
      Files.delete(old);
    }
    List<Path> train = new ArrayList<>();
    List<Path> heldOut = new ArrayList<>();
    for (int s = 0; s < spec.trainShards(); s++) {
      train.add(
          writeShard(
              dir.resolve(shardName(TRAIN, s)),
              spec,
              spec.trainShardStart(s),
              spec.trainShardStart(s + 1)));
    }
    for (int s = 0; s < spec.heldOutShards(); s++) {
      heldOut.add(
          writeShard(
              dir.resolve(shardName(HELD_OUT, s)),
              spec,
              spec.heldOutShardStart(s),
              spec.heldOutShardStart(s + 1)));
    }
    Properties p = specProperties(spec);
    long bytes = 0;
    for (Path f : concat(train, heldOut)) {
      long size = Files.size(f);
      p.setProperty("file." + f.getFileName(), Long.toString(size));
      bytes += size;
    }
    storeAtomically(dir.resolve(MANIFEST), p, "Sluice labelled image shards; delete to regenerate");
    return new Shards(dir, spec, train, heldOut, bytes, true);
  }

  private static Path writeShard(Path file, Spec spec, int from, int to) throws IOException {
    try (WebDatasetWriter writer = WebDatasetWriter.create(file)) {
      for (int i = from; i < to; i++) {
        Map<String, byte[]> fields = new LinkedHashMap<>();
        fields.put(IMAGE_EXT, jpeg(spec, i));
        fields.put(LABEL_EXT, Integer.toString(label(spec, i)).getBytes(StandardCharsets.US_ASCII));
        writer.write(key(i), fields);
      }
    }
    return file;
  }

  private static Shards shardsIfComplete(Path dir, Spec spec) throws IOException {
    Properties p = loadManifest(dir.resolve(MANIFEST), spec);
    if (p == null) {
      return null;
    }
    List<Path> train = new ArrayList<>();
    List<Path> heldOut = new ArrayList<>();
    for (int s = 0; s < spec.trainShards(); s++) {
      train.add(dir.resolve(shardName(TRAIN, s)));
    }
    for (int s = 0; s < spec.heldOutShards(); s++) {
      heldOut.add(dir.resolve(shardName(HELD_OUT, s)));
    }
    long bytes = 0;
    for (Path f : concat(train, heldOut)) {
      String size = p.getProperty("file." + f.getFileName());
      if (size == null || !Files.isRegularFile(f) || Files.size(f) != Long.parseLong(size)) {
        return null;
      }
      bytes += Files.size(f);
    }
    if (ownShards(dir).size() != spec.trainShards() + spec.heldOutShards()) {
      return null; // stray shards would be read too
    }
    return new Shards(dir, spec, train, heldOut, bytes, false);
  }

  private static List<Path> ownShards(Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(dir, "{" + TRAIN + "," + HELD_OUT + "}-[0-9]*" + SHARD_SUFFIX)) {
      ds.forEach(out::add);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    return out;
  }

  private static String shardName(String split, int s) {
    return String.format(Locale.ROOT, "%s-%05d%s", split, s, SHARD_SUFFIX);
  }

  // ---------------------------------------------------------------------------------------------
  // Image folder

  private static ImageFolder generateFolder(Path root, Spec spec) throws IOException {
    Files.deleteIfExists(root.resolve(FOLDER_MANIFEST));
    deleteTree(root.resolve(TRAIN));
    deleteTree(root.resolve(HELD_OUT));
    long bytes = 0;
    for (int i = 0; i < spec.total(); i++) {
      Path file = imageFile(root, spec, i);
      Files.createDirectories(file.getParent());
      byte[] jpeg = jpeg(spec, i);
      Files.write(file, jpeg, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      bytes += jpeg.length;
    }
    Properties p = specProperties(spec);
    p.setProperty("files", Integer.toString(spec.total()));
    p.setProperty("bytes", Long.toString(bytes));
    storeAtomically(
        root.resolve(FOLDER_MANIFEST), p, "Sluice labelled image folder; delete to regenerate");
    return new ImageFolder(root, spec, spec.total(), bytes, true);
  }

  /** Where sample {@code index} lives in an image folder rooted at {@code root}. */
  public static Path imageFile(Path root, Spec spec, long index) {
    return root.resolve(isTrain(spec, index) ? TRAIN : HELD_OUT)
        .resolve(classDirName(label(spec, index)))
        .resolve(key(index) + "." + IMAGE_EXT);
  }

  private static ImageFolder folderIfComplete(Path root, Spec spec) throws IOException {
    Properties p = loadManifest(root.resolve(FOLDER_MANIFEST), spec);
    if (p == null) {
      return null;
    }
    long[] found = new long[2]; // files, bytes
    for (Path dir : List.of(root.resolve(TRAIN), root.resolve(HELD_OUT))) {
      if (Files.isDirectory(dir)) {
        Files.walkFileTree(
            dir,
            new SimpleFileVisitor<>() {
              @Override
              public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                found[0]++;
                found[1] += attrs.size();
                return FileVisitResult.CONTINUE;
              }
            });
      }
    }
    if (!Long.toString(found[0]).equals(p.getProperty("files"))
        || !Long.toString(found[1]).equals(p.getProperty("bytes"))) {
      return null;
    }
    return new ImageFolder(root, spec, found[0], found[1], false);
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    Files.walkFileTree(
        dir,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.delete(file);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
            if (e != null) {
              throw e;
            }
            Files.delete(d);
            return FileVisitResult.CONTINUE;
          }
        });
  }

  // ---------------------------------------------------------------------------------------------
  // Manifests

  private static Properties specProperties(Spec spec) {
    Properties p = new Properties();
    p.setProperty("format", FORMAT);
    p.setProperty("train", Integer.toString(spec.train()));
    p.setProperty("heldOut", Integer.toString(spec.heldOut()));
    p.setProperty("trainShards", Integer.toString(spec.trainShards()));
    p.setProperty("heldOutShards", Integer.toString(spec.heldOutShards()));
    p.setProperty("size", Integer.toString(spec.size()));
    p.setProperty("quality", Integer.toString(spec.quality()));
    p.setProperty("noise", Double.toString(spec.noise()));
    p.setProperty("seed", Long.toString(spec.seed()));
    p.setProperty("java.version", System.getProperty("java.version"));
    return p;
  }

  /**
   * The manifest at {@code file} if it describes {@code spec} (in this generator's format), else
   * null.
   */
  private static Properties loadManifest(Path file, Spec spec) throws IOException {
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(file)) {
      p.load(in);
    } catch (NoSuchFileException e) {
      return null;
    }
    if (!FORMAT.equals(p.getProperty("format")) || !spec.equals(specOf(p))) {
      return null;
    }
    return p;
  }

  private static Spec specOf(Properties p) {
    try {
      return new Spec(
          Integer.parseInt(p.getProperty("train", "")),
          Integer.parseInt(p.getProperty("heldOut", "")),
          Integer.parseInt(p.getProperty("trainShards", "")),
          Integer.parseInt(p.getProperty("heldOutShards", "")),
          Integer.parseInt(p.getProperty("size", "")),
          Integer.parseInt(p.getProperty("quality", "")),
          Double.parseDouble(p.getProperty("noise", "")),
          Long.parseLong(p.getProperty("seed", "")));
    } catch (IllegalArgumentException e) {
      return null; // unreadable or invalid manifest: regenerate
    }
  }

  private static void storeAtomically(Path file, Properties p, String comment) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      p.store(out, comment);
    }
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static List<Path> concat(List<Path> a, List<Path> b) {
    List<Path> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  /** SplitMix64's finaliser: a cheap, well-mixed 64-bit hash. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
