package dev.sluice.loader.runtime;

/** Fails the tasks and actors that were running on a node when it was lost. */
public final class NodeLostException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient Node node;
  private final String reason;

  public NodeLostException(Node node, String reason) {
    super("node " + node + " was lost: " + reason);
    this.node = node;
    this.reason = reason;
  }

  /** Why the node was lost, as the runtime said. */
  public String reason() {
    return reason;
  }

  /** The node lost. */
  public Node node() {
    return node;
  }
}
