package dev.sluice.loader.source;

import dev.sluice.loader.Batch;
import dev.sluice.loader.Columns;
import dev.sluice.sharding.EpochPlan;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * Images in the ImageNet folder layout, {@code root/<class>/<image files>}, read whole (still
 * encoded; decode them with {@link dev.sluice.loader.ImageDecoder}). Columns: {@link
 * Batch#KEY_COLUMN} ({@code <class>/<file>}, relative to the root), {@link Batch#URL_COLUMN} (the
 * absolute path), {@link #IMAGE_COLUMN} (binary, the encoded bytes), {@link #LABEL_COLUMN} (int32,
 * the index of the class in {@link #classNames()}) and {@link #CLASS_COLUMN} (utf8, the class
 * name).
 *
 * <p>The classes are the root's subdirectories whose name does not start with a dot, sorted by name
 * (as torchvision's {@code ImageFolder} does), fixed when the source is built. The images of a
 * class are the files anywhere under its directory whose extension is one of {@link
 * Builder#extensions} (case-insensitive; default {@link #DEFAULT_EXTENSIONS}), hidden ones
 * excepted.
 *
 * <p><b>Splits</b> group the images into splits of at most {@link Builder#targetSplitBytes} bytes
 * and {@link Builder#targetSplitFiles} files, as {@link BinaryFilesSource} does: in sorted path
 * order by {@link #planSplits()} (a split then holds one class or two: fine for evaluation), and in
 * an order seeded by (seed, epoch) through {@link SupportsFileShuffle}, which {@link
 * dev.sluice.loader.Dataset#shuffleFiles(long)} uses, so that every split mixes the classes as the
 * whole folder does. Train on a folder sorted by class only with its files shuffled. <b>Batches</b>
 * close at {@link ReadContext#targetRows()} images or once their bytes reach {@link
 * ReadContext#targetBytes()}. An image that vanished or cannot be read is a bad record naming it.
 *
 * <p>Immutable and thread-safe; each reader is used by one thread at a time.
 */
public final class ImageFolderSource implements Source, SupportsFileShuffle {
  /** The operator name readers report bad records under. */
  public static final String NAME = "ReadImageFolder";

  /** The column holding the encoded image. */
  public static final String IMAGE_COLUMN = "image";

  /** The column holding the class index. */
  public static final String LABEL_COLUMN = "label";

  /** The column holding the class name. */
  public static final String CLASS_COLUMN = "class";

  /** The image extensions read by default (torchvision's). */
  public static final Set<String> DEFAULT_EXTENSIONS =
      Set.of("jpg", "jpeg", "png", "ppm", "bmp", "pgm", "tif", "tiff", "webp");

  private static final Schema SCHEMA =
      new Schema(
          List.of(
              Columns.utf8(Batch.KEY_COLUMN),
              Columns.utf8(Batch.URL_COLUMN),
              Columns.binary(IMAGE_COLUMN),
              Columns.int32(LABEL_COLUMN),
              Columns.utf8(CLASS_COLUMN)));

  private final Path root;
  private final List<String> classNames;
  private final Set<String> extensions;
  private final long targetSplitBytes;
  private final int targetSplitFiles;
  private final String sourceId;

  private ImageFolderSource(Builder b, List<String> classNames) {
    this.root = b.root;
    this.classNames = classNames;
    this.extensions = Set.copyOf(b.extensions);
    this.targetSplitBytes = b.targetSplitBytes;
    this.targetSplitFiles = b.targetSplitFiles;
    this.sourceId = b.sourceId != null ? b.sourceId : "image-folder:" + root;
  }

  /** The image folder at {@code root}, with default settings. */
  public static ImageFolderSource of(String root) throws IOException {
    return builder(Paths.get(root)).build();
  }

  /** A builder over the image folder at {@code root}. */
  public static Builder builder(Path root) {
    return new Builder(root);
  }

  /** Configures an {@link ImageFolderSource}. Not thread-safe. */
  public static final class Builder {
    private final Path root;
    private Set<String> extensions = DEFAULT_EXTENSIONS;
    private long targetSplitBytes = BinaryFilesSource.DEFAULT_SPLIT_BYTES;
    private int targetSplitFiles = BinaryFilesSource.DEFAULT_SPLIT_FILES;
    private String sourceId;

    private Builder(Path root) {
      this.root = root.toAbsolutePath().normalize();
    }

    /** The file extensions that count as images (without the dot, case-insensitive). */
    public Builder extensions(String... extensions) {
      TreeSet<String> set = new TreeSet<>();
      for (String e : extensions) {
        String ext = (e.startsWith(".") ? e.substring(1) : e).toLowerCase(Locale.ROOT);
        if (ext.isEmpty()) {
          throw new IllegalArgumentException("empty image extension");
        }
        set.add(ext);
      }
      if (set.isEmpty()) {
        throw new IllegalArgumentException("no image extensions given");
      }
      this.extensions = set;
      return this;
    }

    /** The size splits are grouped to (default {@link BinaryFilesSource#DEFAULT_SPLIT_BYTES}). */
    public Builder targetSplitBytes(long targetSplitBytes) {
      if (targetSplitBytes <= 0) {
        throw new IllegalArgumentException(
            "targetSplitBytes must be positive: " + targetSplitBytes);
      }
      this.targetSplitBytes = targetSplitBytes;
      return this;
    }

    /** The most images a split groups (default {@link BinaryFilesSource#DEFAULT_SPLIT_FILES}). */
    public Builder targetSplitFiles(int targetSplitFiles) {
      this.targetSplitFiles = BinaryFilesSource.checkSplitFiles(targetSplitFiles);
      return this;
    }

    /** The identifier of the source in splits (default: derived from the root). */
    public Builder sourceId(String sourceId) {
      this.sourceId = Objects.requireNonNull(sourceId, "sourceId");
      return this;
    }

    /**
     * The source: lists the class directories.
     *
     * @throws IOException naming the root when it is not a directory or holds no class directory
     */
    public ImageFolderSource build() throws IOException {
      if (!Files.isDirectory(root)) {
        throw new NoSuchFileException(
            root.toString(), null, "image folder root is not a directory");
      }
      List<String> classes = new ArrayList<>();
      try (Stream<Path> children = Files.list(root)) {
        children
            .filter(Files::isDirectory)
            .map(p -> p.getFileName().toString())
            .filter(name -> !name.startsWith("."))
            .forEach(classes::add);
      } catch (UncheckedIOException e) {
        throw e.getCause();
      }
      if (classes.isEmpty()) {
        throw new IOException(
            "image folder " + root + " holds no class directory (expected root/<class>/<images>)");
      }
      Collections.sort(classes);
      return new ImageFolderSource(this, List.copyOf(classes));
    }
  }

  /** The class names, sorted; a row's label is its class's index here. */
  public List<String> classNames() {
    return classNames;
  }

  /** The root directory (absolute). */
  public Path root() {
    return root;
  }

  /** The identifier of the source in its splits. */
  public String sourceId() {
    return sourceId;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Schema schema() {
    return SCHEMA;
  }

  @Override
  public List<SourceSplit> planSplits() throws IOException {
    return BinaryFilesSource.groupFiles(sourceId, images(), targetSplitBytes, targetSplitFiles);
  }

  @Override
  public List<SourceSplit> planSplits(long seed, int epoch) throws IOException {
    return BinaryFilesSource.groupFiles(
        sourceId,
        EpochPlan.shuffleFiles(images(), seed, epoch),
        targetSplitBytes,
        targetSplitFiles);
  }

  /** Every image, in sorted path order. */
  private List<Path> images() throws IOException {
    List<Path> images = new ArrayList<>();
    for (String name : classNames) {
      Path dir = root.resolve(name);
      try (Stream<Path> walk = Files.walk(dir, FileVisitOption.FOLLOW_LINKS)) {
        walk.filter(p -> isImage(dir, p)).forEach(images::add);
      } catch (UncheckedIOException e) {
        throw e.getCause();
      }
    }
    if (images.isEmpty()) {
      throw new IOException(
          "image folder "
              + root
              + " holds no image (extensions "
              + new TreeSet<>(extensions)
              + ") in its classes "
              + classNames);
    }
    Collections.sort(images);
    return images;
  }

  @Override
  public SplitReader open(SourceSplit split, ReadContext context) {
    return new ImagesReader(split, context);
  }

  @Override
  public String toString() {
    return NAME + "[" + root + ", " + classNames.size() + " classes]";
  }

  private boolean isImage(Path classDir, Path p) {
    String name = p.getFileName().toString();
    int dot = name.lastIndexOf('.');
    if (dot < 0 || !extensions.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT))) {
      return false;
    }
    for (Path part : classDir.relativize(p)) {
      if (part.toString().startsWith(".")) {
        return false;
      }
    }
    return Files.isRegularFile(p);
  }

  private final class ImagesReader implements SplitReader {
    private final SourceSplit split;
    private final ReadContext context;
    private final HeapBatch rows = new HeapBatch(SCHEMA);
    private int next;
    private boolean closed;

    ImagesReader(SourceSplit split, ReadContext context) {
      this.split = split;
      this.context = context;
    }

    @Override
    public Batch next(BufferAllocator allocator) {
      if (closed) {
        throw new IllegalStateException("reader of " + split.describe() + " is closed");
      }
      List<String> paths = split.paths();
      while (next < paths.size()
          && rows.rows() < context.targetRows()
          && rows.bytes() < context.targetBytes()) {
        String url = paths.get(next++);
        Path file = Paths.get(url);
        String key = BinaryFilesSource.key(root, file);
        int slash = key.indexOf('/');
        int label = slash < 0 ? -1 : Collections.binarySearch(classNames, key.substring(0, slash));
        if (label < 0) {
          context
              .badRecords()
              .report(
                  NAME,
                  url,
                  key,
                  new IOException(
                      file + " is not in a class directory of " + root + " " + classNames));
          continue;
        }
        byte[] image;
        try {
          image = BinaryFilesSource.readWhole(file);
        } catch (IOException e) {
          context.badRecords().report(NAME, url, key, e);
          continue;
        }
        rows.add(url, key, url, image, label, classNames.get(label));
      }
      return rows.rows() == 0 ? null : rows.build(allocator);
    }

    @Override
    public void close() {
      closed = true;
      rows.clear();
    }
  }
}
