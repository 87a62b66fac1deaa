package dev.sluice.loader;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Names a {@link PipelineDefinition} and its parameters: what a cluster sends a worker instead of
 * the pipeline's functions. Small and made of strings only, so it crosses the wire by explicit
 * serializers.
 *
 * <p>After {@code build}, a dataset may still change its read order and stay what the definition
 * built, since every member can change it the same way: {@link Dataset#shuffleFiles} and {@link
 * Dataset#randomizeBlockOrder} are recorded here, in order, as {@code shuffleFiles:SEED} and {@code
 * randomizeBlockOrder:SEED}.
 *
 * @param className the definition's class, loaded by name on each member
 * @param parameters its parameters, in key order
 * @param reorders the read-order changes made after {@code build}, in order
 */
public record PipelineRef(String className, Map<String, String> parameters, List<String> reorders) {
  private static final String SHUFFLE_FILES = "shuffleFiles:";
  private static final String BLOCK_ORDER = "randomizeBlockOrder:";

  public PipelineRef {
    Objects.requireNonNull(className, "className");
    parameters = java.util.Collections.unmodifiableMap(new TreeMap<>(parameters));
    reorders = List.copyOf(reorders);
    for (String r : reorders) {
      if (!r.startsWith(SHUFFLE_FILES) && !r.startsWith(BLOCK_ORDER)) {
        throw new IllegalArgumentException("not a read-order change: " + r);
      }
      Long.parseLong(r.substring(r.indexOf(':') + 1));
    }
  }

  /** A definition with its parameters, built as it is. */
  public PipelineRef(String className, Map<String, String> parameters) {
    this(className, parameters, List.of());
  }

  /** This, then files shuffled by {@code seed}. */
  PipelineRef thenShuffleFiles(long seed) {
    return then(SHUFFLE_FILES + seed);
  }

  /** This, then blocks read in an order randomized by {@code seed}. */
  PipelineRef thenRandomizeBlockOrder(long seed) {
    return then(BLOCK_ORDER + seed);
  }

  private PipelineRef then(String reorder) {
    List<String> next = new java.util.ArrayList<>(reorders);
    next.add(reorder);
    return new PipelineRef(className, parameters, next);
  }

  /** Applies the read-order changes to what the definition built. */
  Dataset reorder(Dataset built) {
    Dataset ds = built;
    for (String r : reorders) {
      long seed = Long.parseLong(r.substring(r.indexOf(':') + 1));
      ds = r.startsWith(SHUFFLE_FILES) ? ds.shuffleFiles(seed) : ds.randomizeBlockOrder(seed);
    }
    return ds;
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
    return className + parameters + (reorders.isEmpty() ? "" : " then " + reorders);
  }
}
