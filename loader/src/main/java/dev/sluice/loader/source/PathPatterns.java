package dev.sluice.loader.source;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystem;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Expands the path patterns users give to sources into a sorted list of existing files.
 *
 * <p>A pattern is expanded in two steps:
 *
 * <ol>
 *   <li><b>Braces</b>, as in a shell: {@code train-{0000..0099}.tar} is a numeric range (inclusive,
 *       ascending or descending; zero-padded to the width of the wider bound when either bound has
 *       a leading zero), {@code {train,val}/x.tar} lists alternatives. Braces nest. A brace group
 *       that is neither (no comma, not a range) is kept literally.
 *   <li><b>Globs</b>, by {@link PathMatcher} ({@code glob:} syntax) relative to the pattern's base
 *       directory (its leading components without wildcards): {@code *} and {@code ?} stay within
 *       one path component, {@code **} crosses directories, and a {@code **}{@code /} component
 *       also matches no directory at all ({@code data/**}{@code /*.tar} matches {@code
 *       data/a.tar}). Only regular files match a glob. A component is a glob when it contains
 *       {@code *}, {@code ?} or {@code [}.
 * </ol>
 *
 * <p>A brace expansion without wildcards names files literally: each must exist, so a missing shard
 * in {@code train-{0000..0099}.tar} is an error naming it. A glob that matches nothing is an error
 * naming the pattern; expansion never returns an empty list silently. A literal directory is
 * handled as the caller's {@link Directories} says: rejected (the default) or replaced by the
 * regular files under it.
 *
 * <p>Results are absolute, normalized, free of duplicates and sorted by path. This class is
 * stateless and thread-safe.
 */
public final class PathPatterns {
  /** The most paths one pattern may expand to before braces are deemed a mistake. */
  public static final int MAX_EXPANSION = 1_000_000;

  private static final Pattern RANGE = Pattern.compile("(-?\\d+)\\.\\.(-?\\d+)");

  private PathPatterns() {}

  /**
   * What a literal directory in the patterns stands for.
   *
   * @param expand whether a directory is replaced by its files (when false it is an error)
   * @param recursive whether files in subdirectories count too
   * @param accept which of the directory's files to keep (by path); files and directories whose
   *     name starts with a dot are always left out
   */
  public record Directories(boolean expand, boolean recursive, Predicate<Path> accept) {
    public Directories {
      Objects.requireNonNull(accept, "accept");
    }

    /** A literal directory is an error (the default). */
    public static Directories reject() {
      return new Directories(false, false, p -> false);
    }

    /** A literal directory stands for the accepted files directly in it. */
    public static Directories list(Predicate<Path> accept) {
      return new Directories(true, false, accept);
    }

    /** A literal directory stands for the accepted files anywhere under it. */
    public static Directories walk(Predicate<Path> accept) {
      return new Directories(true, true, accept);
    }
  }

  /** Expands patterns, rejecting literal directories. */
  public static List<Path> expand(String... patterns) throws IOException {
    return expand(List.of(patterns), Directories.reject());
  }

  /**
   * Expands patterns into the sorted, de-duplicated list of the files they name.
   *
   * @param patterns paths, brace expressions and globs, relative to the working directory or
   *     absolute
   * @param directories what a literal directory stands for
   * @throws NoSuchFileException naming the pattern when a glob matches nothing, or the file when a
   *     literal path does not exist; an {@link IOException} naming the directory when a literal
   *     directory is not allowed or holds no accepted file
   * @throws IllegalArgumentException when there are no patterns, a pattern is blank, or its braces
   *     expand to more than {@link #MAX_EXPANSION} paths
   */
  public static List<Path> expand(Collection<String> patterns, Directories directories)
      throws IOException {
    Objects.requireNonNull(directories, "directories");
    if (patterns.isEmpty()) {
      throw new IllegalArgumentException("no path patterns given");
    }
    TreeSet<Path> files = new TreeSet<>();
    for (String pattern : patterns) {
      if (pattern == null || pattern.isBlank()) {
        throw new IllegalArgumentException("blank path pattern in " + patterns);
      }
      for (String expanded : expandBraces(pattern)) {
        if (isGlob(expanded)) {
          files.addAll(matchGlob(pattern, expanded));
        } else {
          files.addAll(literal(expanded, directories));
        }
      }
    }
    return List.copyOf(files);
  }

  /**
   * The base directory of patterns: the deepest directory that contains every file they can name
   * (for one pattern, its leading components without wildcards or braces; for a literal directory,
   * the directory itself; for a literal file, its parent). Absolute and normalized. Touches storage
   * only to tell a literal directory from a file.
   */
  public static Path baseDirectory(Collection<String> patterns) {
    if (patterns.isEmpty()) {
      throw new IllegalArgumentException("no path patterns given");
    }
    Path common = null;
    for (String pattern : patterns) {
      for (String expanded : expandBraces(pattern)) {
        Path base;
        if (isGlob(expanded)) {
          base = globBase(expanded);
        } else {
          Path p = absolute(expanded);
          base = Files.isDirectory(p) ? p : parentOf(p);
        }
        common = common == null ? base : commonAncestor(common, base);
      }
    }
    return common;
  }

  /**
   * Expands the braces of one pattern (see the class comment), in order of appearance.
   *
   * @throws IllegalArgumentException when the expansion exceeds {@link #MAX_EXPANSION} paths
   */
  public static List<String> expandBraces(String pattern) {
    List<String> out = new ArrayList<>();
    expandInto(pattern, out, pattern);
    return out;
  }

  private static void expandInto(String s, List<String> out, String original) {
    int open = -1;
    int close = -1;
    // The first brace group that is an alternative list or a range; a literal group is kept as is.
    for (int i = s.indexOf('{'); i >= 0; i = s.indexOf('{', i + 1)) {
      int end = matchingBrace(s, i);
      if (end < 0) {
        break;
      }
      String body = s.substring(i + 1, end);
      if (!splitTopLevel(body).isEmpty() || RANGE.matcher(body).matches()) {
        open = i;
        close = end;
        break;
      }
    }
    if (open < 0) {
      if (out.size() >= MAX_EXPANSION) {
        throw new IllegalArgumentException(
            "pattern '" + original + "' expands to more than " + MAX_EXPANSION + " paths");
      }
      out.add(s);
      return;
    }
    String prefix = s.substring(0, open);
    String suffix = s.substring(close + 1);
    String body = s.substring(open + 1, close);
    Matcher range = RANGE.matcher(body);
    if (range.matches()) {
      String lo = range.group(1);
      String hi = range.group(2);
      long from = Long.parseLong(lo);
      long to = Long.parseLong(hi);
      if (Math.abs(to - from) >= MAX_EXPANSION) {
        throw new IllegalArgumentException(
            "pattern '" + original + "' expands to more than " + MAX_EXPANSION + " paths");
      }
      int width = padded(lo) || padded(hi) ? Math.max(digits(lo), digits(hi)) : 0;
      long step = from <= to ? 1 : -1;
      for (long v = from; ; v += step) {
        expandInto(prefix + pad(v, width) + suffix, out, original);
        if (v == to) {
          break;
        }
      }
    } else {
      for (String alternative : splitTopLevel(body)) {
        expandInto(prefix + alternative + suffix, out, original);
      }
    }
  }

  /** The alternatives of a brace body split at top-level commas; empty when there is no comma. */
  private static List<String> splitTopLevel(String body) {
    List<String> parts = new ArrayList<>();
    int depth = 0;
    int start = 0;
    for (int i = 0; i < body.length(); i++) {
      char c = body.charAt(i);
      if (c == '{') {
        depth++;
      } else if (c == '}') {
        depth--;
      } else if (c == ',' && depth == 0) {
        parts.add(body.substring(start, i));
        start = i + 1;
      }
    }
    if (parts.isEmpty()) {
      return parts;
    }
    parts.add(body.substring(start));
    return parts;
  }

  private static int matchingBrace(String s, int open) {
    int depth = 0;
    for (int i = open; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '{') {
        depth++;
      } else if (c == '}' && --depth == 0) {
        return i;
      }
    }
    return -1;
  }

  private static boolean padded(String number) {
    String digits = number.startsWith("-") ? number.substring(1) : number;
    return digits.length() > 1 && digits.charAt(0) == '0';
  }

  private static int digits(String number) {
    return number.startsWith("-") ? number.length() - 1 : number.length();
  }

  private static String pad(long v, int width) {
    String digits = Long.toString(Math.abs(v));
    StringBuilder sb = new StringBuilder();
    if (v < 0) {
      sb.append('-');
    }
    for (int i = digits.length(); i < width; i++) {
      sb.append('0');
    }
    return sb.append(digits).toString();
  }

  private static boolean isGlob(String s) {
    return s.indexOf('*') >= 0 || s.indexOf('?') >= 0 || s.indexOf('[') >= 0;
  }

  private static List<Path> literal(String expanded, Directories directories) throws IOException {
    Path p = absolute(expanded);
    if (Files.isRegularFile(p)) {
      return List.of(p);
    }
    if (!Files.exists(p)) {
      throw new NoSuchFileException(p.toString(), null, "no such file");
    }
    if (!Files.isDirectory(p)) {
      throw new IOException(p + " is neither a regular file nor a directory");
    }
    if (!directories.expand()) {
      throw new IOException(
          p + " is a directory; give the files in it (or a pattern such as " + p + "/*)");
    }
    List<Path> files = new ArrayList<>();
    try (Stream<Path> walk =
        Files.walk(
            p, directories.recursive() ? Integer.MAX_VALUE : 1, FileVisitOption.FOLLOW_LINKS)) {
      walk.filter(f -> !hidden(p, f) && Files.isRegularFile(f) && directories.accept().test(f))
          .forEach(files::add);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    if (files.isEmpty()) {
      throw new NoSuchFileException(p.toString(), null, "directory holds no file to read");
    }
    return files;
  }

  private static boolean hidden(Path root, Path file) {
    for (Path part : root.relativize(file)) {
      if (part.toString().startsWith(".")) {
        return true;
      }
    }
    return false;
  }

  private static List<Path> matchGlob(String pattern, String expanded) throws IOException {
    Path base = globBase(expanded);
    String glob = globPart(expanded);
    FileSystem fs = base.getFileSystem();
    List<PathMatcher> matchers = new ArrayList<>();
    for (String variant : doubleStarVariants(glob)) {
      matchers.add(fs.getPathMatcher("glob:" + variant));
    }
    int depth = glob.contains("**") ? Integer.MAX_VALUE : glob.split("/", -1).length;
    List<Path> files = new ArrayList<>();
    if (Files.isDirectory(base)) {
      try (Stream<Path> walk = Files.walk(base, depth, FileVisitOption.FOLLOW_LINKS)) {
        walk.filter(Files::isRegularFile)
            .filter(
                f -> {
                  Path rel = base.relativize(f);
                  for (PathMatcher m : matchers) {
                    if (m.matches(rel)) {
                      return true;
                    }
                  }
                  return false;
                })
            .forEach(files::add);
      } catch (UncheckedIOException e) {
        throw e.getCause();
      }
    }
    if (files.isEmpty()) {
      String what =
          pattern.equals(expanded)
              ? "'" + pattern + "'"
              : "'" + expanded + "' (from '" + pattern + "')";
      throw new NoSuchFileException(
          pattern, null, "no file matches the pattern " + what + " under " + base);
    }
    return files;
  }

  /** The pattern's leading components without wildcards, absolute. */
  private static Path globBase(String expanded) {
    String normalized = expanded.replace('\\', '/');
    String[] parts = normalized.split("/", -1);
    StringBuilder base = new StringBuilder();
    for (int i = 0; i < parts.length - 1; i++) {
      if (isGlob(parts[i])) {
        break;
      }
      base.append(parts[i]).append('/');
    }
    if (base.length() == 0) {
      return absolute(".");
    }
    return absolute(base.toString());
  }

  /** The rest of the pattern below its base, with '/' separators. */
  private static String globPart(String expanded) {
    String normalized = expanded.replace('\\', '/');
    String[] parts = normalized.split("/", -1);
    int i = 0;
    while (i < parts.length - 1 && !isGlob(parts[i])) {
      i++;
    }
    return String.join("/", Arrays.asList(parts).subList(i, parts.length));
  }

  /**
   * PathMatcher's {@code **}{@code /} needs at least one directory; users expect it to also match
   * none, so each such component is tried both present and absent.
   */
  private static List<String> doubleStarVariants(String glob) {
    List<String> variants = new ArrayList<>();
    variants.add(glob);
    for (int i = 0; i < variants.size() && variants.size() < 64; i++) {
      String v = variants.get(i);
      String padded = "/" + v;
      for (int at = padded.indexOf("/**/"); at >= 0; at = padded.indexOf("/**/", at + 1)) {
        String without = (padded.substring(0, at + 1) + padded.substring(at + 4)).substring(1);
        if (!variants.contains(without)) {
          variants.add(without);
        }
      }
    }
    return variants;
  }

  private static Path absolute(String path) {
    return Paths.get(path).toAbsolutePath().normalize();
  }

  private static Path parentOf(Path p) {
    Path parent = p.getParent();
    return parent == null ? p : parent;
  }

  private static Path commonAncestor(Path a, Path b) {
    Path p = a;
    while (p != null && !b.startsWith(p)) {
      p = p.getParent();
    }
    return p == null ? a.getRoot() : p;
  }
}
