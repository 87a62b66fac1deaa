package dev.sluice.loader.runtime;

import java.util.Objects;

/**
 * A place where tasks and actors run: this JVM for the local runtime, a cluster member for the
 * cluster runtime.
 *
 * @param id unique among the runtime's nodes
 * @param host the host label locality is decided on (a split's hosts, a block's)
 * @param resources the logical CPUs and GPUs the node offers
 * @param memoryBudget the bytes of blocks and task memory the node takes ({@link Long#MAX_VALUE}:
 *     no budget of its own, only the execution's)
 */
public record Node(String id, String host, Resources resources, long memoryBudget) {
  public Node {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(resources, "resources");
    if (memoryBudget <= 0) {
      throw new IllegalArgumentException("memory budget must be > 0: " + memoryBudget);
    }
  }

  /** A node without a memory budget of its own. */
  public Node(String id, String host, Resources resources) {
    this(id, host, resources, Long.MAX_VALUE);
  }

  @Override
  public String toString() {
    return id
        + "@"
        + host
        + " ("
        + resources
        + (memoryBudget == Long.MAX_VALUE ? "" : ", " + (memoryBudget >> 20) + " MiB")
        + ")";
  }
}
