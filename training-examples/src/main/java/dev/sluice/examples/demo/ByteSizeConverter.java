package dev.sluice.examples.demo;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * Parses a byte size for command-line options: a plain number of bytes, or a number with a binary
 * unit ({@code k}/{@code KiB}, {@code m}/{@code MiB}, {@code g}/{@code GiB}; case-insensitive, the
 * {@code iB} and {@code B} suffixes optional), such as {@code 64m}, {@code 64MiB} or {@code 1.5g}.
 */
public final class ByteSizeConverter implements CommandLine.ITypeConverter<Long> {
  private static final Pattern SIZE =
      Pattern.compile("\\s*(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(?:i?b)?\\s*");

  @Override
  public Long convert(String value) {
    return parse(value);
  }

  /**
   * The number of bytes {@code value} stands for.
   *
   * @throws IllegalArgumentException when it is not a size
   */
  public static long parse(String value) {
    Matcher m = SIZE.matcher(value.toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "not a byte size: '" + value + "' (examples: 1048576, 64m, 64MiB, 1g)");
    }
    int shift =
        switch (m.group(2)) {
          case "k" -> 10;
          case "m" -> 20;
          case "g" -> 30;
          case "t" -> 40;
          default -> 0;
        };
    double bytes = Double.parseDouble(m.group(1)) * (1L << shift);
    if (bytes >= Long.MAX_VALUE) {
      throw new IllegalArgumentException("byte size too large: '" + value + "'");
    }
    return (long) bytes;
  }
}
