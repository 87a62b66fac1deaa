package dev.sluice.cluster.internal;

import com.hazelcast.config.ClassFilter;
import com.hazelcast.config.JavaSerializationFilterConfig;
import com.hazelcast.config.SerializationConfig;
import com.hazelcast.config.SerializerConfig;
import java.util.List;

/**
 * How Sluice's members serialize: an explicit, versioned serializer for every type Sluice puts in
 * Hazelcast, and a Java deserialization allow-list for the rest.
 *
 * <p>Sluice sends nothing by Java serialization. Hazelcast itself still does for a few things (a
 * remote operation's exception travels Java-serialized), so the allow-list admits Hazelcast's own
 * classes and the JDK packages exceptions come from, and nothing else: not Sluice's classes, not a
 * user's, not a library's. Hazelcast's default allow-list (every class whose name starts with
 * {@code java}, or any array) is switched off, as it admits far more than Hazelcast needs.
 */
public final class SluiceSerialization {
  /** The serializers, one per type Sluice sends. */
  public static List<VersionedSerializer<?>> serializers() {
    return List.of(new MemberInfoSerializer());
  }

  /** Class-name prefixes Java deserialization may resolve. */
  public static final List<String> ALLOWED_PREFIXES =
      List.of("com.hazelcast.", "java.lang.", "java.util.", "java.io.", "java.net.", "java.nio.");

  /** Classes (arrays, named by {@link Class#getName()}) Java deserialization may resolve. */
  public static final List<String> ALLOWED_CLASSES = List.of("[Ljava.lang.StackTraceElement;");

  private SluiceSerialization() {}

  /** Registers the serializers and the allow-list on {@code config}. */
  public static void configure(SerializationConfig config) {
    for (VersionedSerializer<?> s : serializers()) {
      config.addSerializerConfig(
          new SerializerConfig().setTypeClass(s.type()).setImplementation(s));
    }
    // The scheduler's calls to workers: fields in Sluice's own wire forms (WorkerCalls).
    config.addDataSerializableFactory(
        dev.sluice.cluster.exec.WorkerCalls.FACTORY_ID,
        dev.sluice.cluster.exec.WorkerCalls.factory());
    config.setJavaSerializationFilterConfig(
        new JavaSerializationFilterConfig()
            .setDefaultsDisabled(true)
            .setWhitelist(
                new ClassFilter().setPrefixes(ALLOWED_PREFIXES).setClasses(ALLOWED_CLASSES)));
  }
}
