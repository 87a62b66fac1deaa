package dev.sluice.examples.demo;

import dev.sluice.loader.source.WebDatasetWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

/**
 * Generates a synthetic dataset of WebDataset tar shards, for demos, tests and benchmarks.
 *
 * <p>Sample {@code i} (of {@code samples}) has the key {@link #key(long) key(i)} and two fields:
 * {@code bin}, a payload of {@code payloadBytes} pseudo-random bytes (every byte in {@code [0,
 * 192)}, so gzip shrinks it a little, as it would a JPEG), and {@code cls}, its label in {@code [0,
 * classes)} as decimal text. Both are pure functions of ({@code seed}, {@code i}): {@link #payload}
 * and {@link #label} recompute them, for checks. Samples are cut into {@code shards} contiguous
 * runs of (nearly) equal size, one uncompressed tar file each, named {@code shard-00000.tar} and so
 * on.
 *
 * <p><b>Idempotent.</b> {@link #ensure} writes a small manifest ({@value #MANIFEST}) last, after
 * every shard is complete. A later call with the same {@link Spec} finds the manifest, checks that
 * every shard it lists is there with its recorded size, and generates nothing; any mismatch (other
 * spec, missing or truncated shard, no manifest after an interrupted run) regenerates the dataset.
 * Regeneration deletes only this generator's files ({@code shard-*.tar} and the manifest) in the
 * directory. Concurrent generators of one directory in different processes are serialised by a file
 * lock; within one JVM, call {@link #ensure} for a directory from one thread at a time.
 */
public final class SyntheticShards {
  /** The extension (and column) of the payload. */
  public static final String PAYLOAD_EXT = "bin";

  /** The extension (and column) of the label. */
  public static final String LABEL_EXT = "cls";

  /** The manifest's file name. */
  public static final String MANIFEST = "synthetic-shards.properties";

  private static final String LOCK = ".synthetic-shards.lock";
  private static final String FORMAT = "1";
  private static final String SHARD_PREFIX = "shard-";
  private static final String SHARD_SUFFIX = ".tar";

  private SyntheticShards() {}

  /**
   * What to generate. Immutable.
   *
   * @param samples number of samples (at least 1)
   * @param shards number of shard files (at least 1, at most {@code samples})
   * @param payloadBytes bytes of each sample's {@code bin} field (at least 1)
   * @param classes number of distinct labels (at least 1)
   * @param seed seed of the payloads and labels
   */
  public record Spec(long samples, int shards, int payloadBytes, int classes, long seed) {
    public Spec {
      if (samples < 1 || shards < 1 || shards > samples) {
        throw new IllegalArgumentException(
            "need 1 <= shards <= samples, got " + shards + " shards for " + samples + " samples");
      }
      if (payloadBytes < 1) {
        throw new IllegalArgumentException("payloadBytes must be >= 1, got " + payloadBytes);
      }
      if (classes < 1) {
        throw new IllegalArgumentException("classes must be >= 1, got " + classes);
      }
    }

    /**
     * {@code samples} samples of {@code payloadBytes} bytes in {@code shards} shards, 10 classes,
     * seed 42.
     */
    public static Spec of(long samples, int shards, int payloadBytes) {
      return new Spec(samples, shards, payloadBytes, 10, 42);
    }

    /**
     * The first sample index of shard {@code s} (and, for {@code s == shards}, the sample count).
     */
    public long shardStart(int s) {
      return Math.multiplyExact(samples, (long) s) / shards;
    }

    /** Payload bytes of the whole dataset. */
    public long payloadTotal() {
      return samples * payloadBytes;
    }
  }

  /**
   * A generated dataset on disk.
   *
   * @param dir the directory holding the shards
   * @param spec what it holds
   * @param shards the shard files, in order
   * @param bytesOnDisk total size of the shard files
   * @param generated whether this call wrote the files (false: they were already there)
   */
  public record Shards(
      Path dir, Spec spec, List<Path> shards, long bytesOnDisk, boolean generated) {
    public Shards {
      shards = List.copyOf(shards);
    }

    /** The path pattern a {@code WebDatasetSource} reads these shards with. */
    public String pattern() {
      return dir.resolve(SHARD_PREFIX + "*" + SHARD_SUFFIX).toString();
    }
  }

  /**
   * Makes sure {@code dir} holds the dataset {@code spec} describes, generating it unless an
   * identical, complete one is already there.
   *
   * @throws IOException when the directory cannot be created or written
   */
  public static Shards ensure(Path dir, Spec spec) throws IOException {
    Objects.requireNonNull(spec, "spec");
    Files.createDirectories(dir);
    try (FileChannel lockFile =
        FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
      lockFile.lock(); // released when the channel closes
      Shards existing = readIfComplete(dir, spec);
      if (existing != null) {
        return existing;
      }
      return generate(dir, spec);
    }
  }

  /**
   * The complete shards {@code spec} describes if {@code dir} holds them, else null; never writes
   * (for a reader that must not regenerate data, such as a benchmark's child process).
   */
  public static Shards existing(Path dir, Spec spec) throws IOException {
    return Files.isDirectory(dir)
        ? readIfComplete(dir, Objects.requireNonNull(spec, "spec"))
        : null;
  }

  /** The key of sample {@code index}: eight digits, zero-padded. */
  public static String key(long index) {
    return String.format(Locale.ROOT, "%08d", index);
  }

  /** The {@code bin} payload of sample {@code index}. */
  public static byte[] payload(Spec spec, long index) {
    byte[] out = new byte[spec.payloadBytes()];
    long state = mix(spec.seed() ^ mix(index + 0x632BE59BD9B4E019L));
    int i = 0;
    while (i < out.length) {
      state += 0x9E3779B97F4A7C15L;
      long word = mix(state);
      for (int k = 0; k < 8 && i < out.length; k++, i++) {
        // Map 0..255 onto 0..191: about 7.6 bits of entropy per byte, so gzip shrinks it a little.
        out[i] = (byte) ((((int) (word >>> (8 * k)) & 0xFF) * 3) >>> 2);
      }
    }
    return out;
  }

  /** The label of sample {@code index}, in {@code [0, spec.classes())}. */
  public static int label(Spec spec, long index) {
    return (int) Long.remainderUnsigned(mix(spec.seed() * 31 + index), spec.classes());
  }

  private static Shards generate(Path dir, Spec spec) throws IOException {
    // The manifest goes first, so that an interrupted run is never mistaken for a complete one.
    Files.deleteIfExists(dir.resolve(MANIFEST));
    for (Path old : ownShards(dir)) {
      Files.delete(old);
    }
    List<Path> files = new ArrayList<>();
    long bytes = 0;
    for (int s = 0; s < spec.shards(); s++) {
      Path file = dir.resolve(shardName(s));
      try (WebDatasetWriter writer = WebDatasetWriter.create(file)) {
        for (long i = spec.shardStart(s); i < spec.shardStart(s + 1); i++) {
          Map<String, byte[]> fields = new LinkedHashMap<>();
          fields.put(PAYLOAD_EXT, payload(spec, i));
          fields.put(
              LABEL_EXT, Integer.toString(label(spec, i)).getBytes(StandardCharsets.US_ASCII));
          writer.write(key(i), fields);
        }
      }
      files.add(file);
      bytes += Files.size(file);
    }
    writeManifest(dir, spec, files);
    return new Shards(dir, spec, files, bytes, true);
  }

  private static Shards readIfComplete(Path dir, Spec spec) throws IOException {
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(dir.resolve(MANIFEST))) {
      p.load(in);
    } catch (NoSuchFileException e) {
      return null;
    }
    if (!FORMAT.equals(p.getProperty("format")) || !spec.equals(specOf(p))) {
      return null;
    }
    List<Path> files = new ArrayList<>();
    long bytes = 0;
    for (int s = 0; s < spec.shards(); s++) {
      Path file = dir.resolve(shardName(s));
      String size = p.getProperty("shard." + s + ".bytes");
      if (size == null || !Files.isRegularFile(file) || Files.size(file) != Long.parseLong(size)) {
        return null;
      }
      files.add(file);
      bytes += Files.size(file);
    }
    if (ownShards(dir).size() != spec.shards()) {
      return null; // stray shards would be read too
    }
    return new Shards(dir, spec, files, bytes, false);
  }

  private static Spec specOf(Properties p) {
    try {
      return new Spec(
          Long.parseLong(p.getProperty("samples", "")),
          Integer.parseInt(p.getProperty("shards", "")),
          Integer.parseInt(p.getProperty("payloadBytes", "")),
          Integer.parseInt(p.getProperty("classes", "")),
          Long.parseLong(p.getProperty("seed", "")));
    } catch (IllegalArgumentException e) {
      return null; // unreadable or invalid manifest: regenerate
    }
  }

  private static void writeManifest(Path dir, Spec spec, List<Path> files) throws IOException {
    Properties p = new Properties();
    p.setProperty("format", FORMAT);
    p.setProperty("samples", Long.toString(spec.samples()));
    p.setProperty("shards", Integer.toString(spec.shards()));
    p.setProperty("payloadBytes", Integer.toString(spec.payloadBytes()));
    p.setProperty("classes", Integer.toString(spec.classes()));
    p.setProperty("seed", Long.toString(spec.seed()));
    for (int s = 0; s < files.size(); s++) {
      p.setProperty("shard." + s + ".bytes", Long.toString(Files.size(files.get(s))));
    }
    Path tmp = dir.resolve(MANIFEST + ".tmp");
    try (OutputStream out = Files.newOutputStream(tmp)) {
      p.store(out, "Sluice synthetic WebDataset shards; delete to regenerate");
    }
    Files.move(
        tmp,
        dir.resolve(MANIFEST),
        StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
  }

  private static List<Path> ownShards(Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> ds =
        Files.newDirectoryStream(dir, SHARD_PREFIX + "[0-9]*" + SHARD_SUFFIX)) {
      ds.forEach(out::add);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    return out;
  }

  private static String shardName(int s) {
    return String.format(Locale.ROOT, "%s%05d%s", SHARD_PREFIX, s, SHARD_SUFFIX);
  }

  /** SplitMix64's finaliser: a cheap, well-mixed 64-bit hash. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
