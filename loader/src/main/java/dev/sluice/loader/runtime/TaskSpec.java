package dev.sluice.loader.runtime;

import java.util.List;
import java.util.Objects;

/**
 * A task as data: which operator of the plan runs, over which input. A node runs it against the
 * plan built on that node (see {@code docs/function-distribution.md}): the operator's index names
 * the source or the functions, block references name the input, and nothing in a spec is a closure
 * or a live object of another process, so a spec can be sent to another JVM as it is.
 */
public sealed interface TaskSpec {
  /** The index of the operator in the physical plan. */
  int operator();

  /**
   * Reads the next block of a split: the rows from {@code fromRow} on, cut to the output target by
   * the split's own bytes per row so far. A node keeps the split's reader open between blocks; a
   * node that has none (the split was taken over from a lost node) opens one and skips to {@code
   * fromRow}.
   *
   * @param operator the read
   * @param split the split's index in its source
   * @param attempt the lease's attempt
   * @param sequence the block's number in the split's output
   * @param fromRow the first row of the split to read
   * @param bytesOutPerRow the most output bytes per input row of the split's blocks so far, or -1
   */
  record ReadBlock(
      int operator, int split, int attempt, long sequence, long fromRow, double bytesOutPerRow)
      implements TaskSpec {}

  /**
   * Runs an operator's functions over rows of blocks (a task map's bundle, an actor call).
   *
   * @param operator the map or actor pool
   * @param inputs the rows, in order
   */
  record MapBundle(int operator, List<Input> inputs) implements TaskSpec {
    public MapBundle {
      inputs = List.copyOf(inputs);
    }
  }

  /**
   * Rows {@code [from, to)} of a block.
   *
   * @param block the block
   * @param from first row
   * @param to one past the last row
   */
  record Input(BlockRef block, int from, int to) {
    public Input {
      Objects.requireNonNull(block, "block");
      if (from < 0 || to < from || to > block.rows()) {
        throw new IllegalArgumentException(
            "bad input [" + from + ", " + to + ") of " + block.rows() + " rows");
      }
    }

    /** Rows taken. */
    public int rows() {
      return to - from;
    }

    /** Whether the input is the whole block. */
    public boolean whole() {
      return from == 0 && to == block.rows();
    }
  }

  /**
   * Makes a lost block again from its lineage.
   *
   * @param operator the operator that makes it again
   * @param lineage the block's name
   * @param hosts the hosts the lost block's rows were read from (the block made again has the same)
   */
  record Remake(int operator, Lineage lineage, List<String> hosts) implements TaskSpec {
    public Remake {
      Objects.requireNonNull(lineage, "lineage");
      hosts = List.copyOf(hosts);
    }
  }
}
