package dev.sluice.loader.runtime;

import java.util.Objects;

/**
 * A place where tasks and actors run: this JVM for the local runtime, a cluster member for the
 * cluster runtime.
 *
 * @param id unique among the runtime's nodes
 * @param host the host label locality is decided on (a split's hosts, a block's)
 * @param resources the logical CPUs and GPUs the node offers
 */
public record Node(String id, String host, Resources resources) {
  public Node {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(resources, "resources");
  }

  @Override
  public String toString() {
    return id + "@" + host + " (" + resources + ")";
  }
}
