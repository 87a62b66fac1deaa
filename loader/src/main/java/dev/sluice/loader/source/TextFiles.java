package dev.sluice.loader.source;

import dev.sluice.loader.TensorSpec;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

/** What the text sources (JSON lines, CSV) share: their files, splits and column types. */
final class TextFiles {
  private TextFiles() {}

  /** The files of the patterns, directories listed for files with one of the extensions. */
  static List<Path> files(List<String> patterns, String... extensions) throws IOException {
    Predicate<Path> accept =
        p -> {
          String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
          for (String e : extensions) {
            if (name.endsWith(e) && !name.startsWith(".") && !name.startsWith("_")) {
              return true;
            }
          }
          return false;
        };
    return PathPatterns.expand(patterns, PathPatterns.Directories.list(accept));
  }

  /** One split per file, rows unknown, bytes the file's size. */
  static List<SourceSplit> splits(String sourceId, List<Path> files) throws IOException {
    List<SourceSplit> splits = new ArrayList<>();
    for (Path file : files) {
      splits.add(
          new SourceSplit(
              sourceId,
              splits.size(),
              List.of(file.toString()),
              0,
              -1,
              -1,
              Files.size(file),
              List.of()));
    }
    return splits;
  }

  /** The kinds of column a text source reads. */
  enum Kind {
    INTEGER,
    FLOAT,
    BOOL,
    UTF8,
    BINARY,
    TENSOR,
    FIXED_BINARY
  }

  /** The kind of a column; {@link IllegalArgumentException} for a type text sources do not read. */
  static Kind kind(Field field, String format) {
    ArrowType type = field.getType();
    if (type instanceof ArrowType.Int i && i.getIsSigned()) {
      return Kind.INTEGER;
    }
    if (type instanceof ArrowType.FloatingPoint f
        && f.getPrecision() != org.apache.arrow.vector.types.FloatingPointPrecision.HALF) {
      return Kind.FLOAT;
    }
    if (type instanceof ArrowType.Bool) {
      return Kind.BOOL;
    }
    if (type instanceof ArrowType.Utf8) {
      return Kind.UTF8;
    }
    if (type instanceof ArrowType.Binary) {
      return Kind.BINARY;
    }
    if (type instanceof ArrowType.FixedSizeBinary) {
      return TensorSpec.fromField(field) != null ? Kind.TENSOR : Kind.FIXED_BINARY;
    }
    throw new IllegalArgumentException(
        format
            + " sources read signed integers, floats, booleans, UTF-8, binary and tensor columns;"
            + " column '"
            + field.getName()
            + "' is "
            + type);
  }

  /** Checks every column of a schema is of a kind this format reads. */
  static void check(Schema schema, String format) {
    for (Field field : schema.getFields()) {
      Kind kind = kind(field, format);
      if (kind == Kind.TENSOR && !format.equals("JSON")) {
        throw new IllegalArgumentException(
            format + " cannot hold tensor column '" + field.getName() + "'");
      }
    }
  }

  /** A float from its text, including the names the sinks write for NaN and the infinities. */
  static double parseDouble(String text) {
    return switch (text) {
      case "NaN" -> Double.NaN;
      case "Infinity", "+Infinity", "inf" -> Double.POSITIVE_INFINITY;
      case "-Infinity", "-inf" -> Double.NEGATIVE_INFINITY;
      default -> Double.parseDouble(text);
    };
  }

  /** Whether a text is one of the names of NaN and the infinities. */
  static boolean isSpecialFloat(String text) {
    return switch (text) {
      case "NaN", "Infinity", "+Infinity", "-Infinity", "inf", "-inf" -> true;
      default -> false;
    };
  }
}
