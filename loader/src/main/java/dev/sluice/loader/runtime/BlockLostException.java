package dev.sluice.loader.runtime;

/** A block that is no longer where its reference says: its node was lost, or it was released. */
public final class BlockLostException extends IllegalStateException {
  private final transient BlockRef ref;
  private final boolean nodeLost;

  /**
   * @param ref the block's reference
   * @param nodeLost whether its node is gone (else the block was released, or never held)
   */
  public BlockLostException(BlockRef ref, boolean nodeLost) {
    super(
        (nodeLost ? "the block was lost with node " + ref.owner() : "the block is not held")
            + ": "
            + ref);
    this.ref = ref;
    this.nodeLost = nodeLost;
  }

  /** Whether the block is gone because its node is (else it was released, or never held). */
  public boolean nodeLost() {
    return nodeLost;
  }

  /** The reference whose block is gone. */
  public BlockRef ref() {
    return ref;
  }
}
