package dev.sluice.loader.runtime;

import java.util.List;
import java.util.Objects;

/**
 * A reference to an immutable block held in the {@link BlockStore} of the node that made it: what
 * operators, buffers and the consumer's channel move instead of the block's memory. Everything the
 * scheduler decides by (rows, bytes, where the data came from) is on the reference, so memory in
 * flight is counted from references and a block is only opened where its rows are read.
 *
 * @param id unique within its owner's store
 * @param owner the id of the node whose store holds the block
 * @param lineage what made the block (its name)
 * @param rows rows of the block
 * @param bytes bytes of the block's buffers
 * @param hosts the hosts that hold the data the rows were read from, or empty when any host is as
 *     good as another: a split's hosts, carried to every block made from it
 */
public record BlockRef(
    long id, String owner, Lineage lineage, int rows, long bytes, List<String> hosts) {
  public BlockRef {
    Objects.requireNonNull(owner, "owner");
    Objects.requireNonNull(lineage, "lineage");
    hosts = List.copyOf(hosts);
    if (rows < 0 || bytes < 0) {
      throw new IllegalArgumentException("bad block: " + rows + " rows, " + bytes + " bytes");
    }
  }

  @Override
  public String toString() {
    return "block " + owner + "/" + id + " " + lineage + " (" + rows + " rows, " + bytes + " B)";
  }
}
