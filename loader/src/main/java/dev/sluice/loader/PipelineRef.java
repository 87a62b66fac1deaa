package dev.sluice.loader;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Names a {@link PipelineDefinition} and its parameters: what a cluster sends a worker instead of
 * the pipeline's functions. Small and made of strings only, so it crosses the wire by explicit
 * serializers.
 *
 * @param className the definition's class, loaded by name on each member
 * @param parameters its parameters, in key order
 */
public record PipelineRef(String className, Map<String, String> parameters) {
  public PipelineRef {
    Objects.requireNonNull(className, "className");
    parameters = java.util.Collections.unmodifiableMap(new TreeMap<>(parameters));
  }

  /** The reference to {@code definition} with {@code parameters}. */
  public static PipelineRef of(
      Class<? extends PipelineDefinition> definition, Map<String, String> parameters) {
    return new PipelineRef(definition.getName(), parameters);
  }

  /**
   * Loads the definition's class through {@code loader} and makes an instance with its public
   * no-argument constructor.
   *
   * @throws IllegalArgumentException naming the class when it cannot be loaded, is not a {@link
   *     PipelineDefinition}, or has no public no-argument constructor; or when its constructor
   *     fails
   */
  public PipelineDefinition instantiate(ClassLoader loader) {
    Class<?> c;
    try {
      c = Class.forName(className, false, loader);
    } catch (ClassNotFoundException | LinkageError e) {
      throw new IllegalArgumentException(
          "pipeline definition " + className + " is not on the class path: " + e, e);
    }
    if (!PipelineDefinition.class.isAssignableFrom(c)) {
      throw new IllegalArgumentException(
          className + " is not a " + PipelineDefinition.class.getSimpleName());
    }
    try {
      Constructor<?> k = c.getConstructor();
      return (PipelineDefinition) k.newInstance();
    } catch (NoSuchMethodException | IllegalAccessException | InstantiationException e) {
      throw new IllegalArgumentException(
          "pipeline definition " + className + " needs a public no-argument constructor", e);
    } catch (InvocationTargetException e) {
      throw new IllegalArgumentException(
          "the constructor of pipeline definition " + className + " failed: " + e.getCause(),
          e.getCause());
    }
  }

  @Override
  public String toString() {
    return className + parameters;
  }
}
