package dev.sluice.cluster;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The version of Sluice this JVM runs, as the build wrote it into {@code
 * sluice-version.properties}. Members advertise it and compare it on joining: Hazelcast 5.7 has no
 * hook to refuse a joining member for an application-level reason, and members of different Sluice
 * versions may disagree on the wire format of what they exchange.
 */
public final class SluiceVersion {
  private static final String RESOURCE = "sluice-version.properties";
  private static final String CURRENT = load();

  private SluiceVersion() {}

  /** This build's version, such as {@code 0.1.0-SNAPSHOT}. */
  public static String current() {
    return CURRENT;
  }

  private static String load() {
    try (InputStream in = SluiceVersion.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(
            RESOURCE + " is missing from the classpath: a broken build of sluice-cluster");
      }
      Properties p = new Properties();
      p.load(in);
      String version = p.getProperty("version", "").trim();
      if (version.isEmpty() || version.contains("${")) {
        throw new IllegalStateException(
            RESOURCE + " holds no version ('" + version + "'): resource filtering did not run");
      }
      return version;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
  }
}
