package dev.sluice.loader.runtime;

import java.util.List;
import java.util.Objects;

/**
 * Where a block came from: enough to name it and to make it again. A block is named by the work
 * that produced it, recorded when the work was done (Ray's lineage): a read's block by the split,
 * the attempt, the operator chain, its sequence number in the split's output and the rows of the
 * split it covers; any other block by the operator chain and the slices of the blocks it was made
 * from. Names do not depend on which node did the work or when.
 *
 * <p>A split is cut into blocks by its own data only (the source's blocks, then rows per output
 * bytes learned from the split's own earlier blocks), so the same split read again, in the same
 * epoch plan or another, gives the same blocks under the same names, attempt aside; a consumer can
 * drop a duplicate by {@link #dedupKey()}, which leaves the attempt out. Downstream of the read,
 * which rows go into one task depends on arrival order, so a block made again is made from its
 * recorded inputs ({@link Derived#inputs()}), not by bundling anew.
 */
public sealed interface Lineage {
  /** The operator that made the block: its index in the physical plan. */
  int operator();

  /** The operator's name (the chain of functions it runs, fused ones included). */
  String chain();

  /** The name without attempt numbers: equal for two makings of the same block. */
  String dedupKey();

  /**
   * A block read from a split.
   *
   * @param operator the read's index in the physical plan
   * @param chain the read and the functions fused into it
   * @param split the split's index in its source ({@code SourceSplit#index()})
   * @param attempt the lease's attempt: 0, one more each time the split is handed out again
   * @param sequence the block's number in the split's output, from 0
   * @param fromRow the first row of the split the block was made from
   * @param toRow one past the last
   */
  record Read(
      int operator, String chain, int split, int attempt, long sequence, long fromRow, long toRow)
      implements Lineage {
    public Read {
      Objects.requireNonNull(chain, "chain");
      if (split < 0 || attempt < 0 || sequence < 0 || fromRow < 0 || toRow < fromRow) {
        throw new IllegalArgumentException(
            "bad read lineage: split "
                + split
                + ", attempt "
                + attempt
                + ", sequence "
                + sequence
                + ", rows ["
                + fromRow
                + ", "
                + toRow
                + ")");
      }
    }

    @Override
    public String dedupKey() {
      return operator + ":" + chain + "[split " + split + " #" + sequence + "]";
    }

    @Override
    public String toString() {
      return operator
          + ":"
          + chain
          + "[split "
          + split
          + " attempt "
          + attempt
          + " #"
          + sequence
          + " rows "
          + fromRow
          + ".."
          + toRow
          + "]";
    }
  }

  /**
   * A block made by one task of an operator from slices of other blocks (a map's bundle, an actor
   * call, a limit's cut).
   *
   * @param operator the operator's index in the physical plan
   * @param chain the operator's functions
   * @param inputs the slices the task read, in order
   */
  record Derived(int operator, String chain, List<Slice> inputs) implements Lineage {
    public Derived {
      Objects.requireNonNull(chain, "chain");
      inputs = List.copyOf(inputs);
      if (inputs.isEmpty()) {
        throw new IllegalArgumentException("a derived block has inputs");
      }
    }

    @Override
    public String dedupKey() {
      StringBuilder sb = new StringBuilder().append(operator).append(':').append(chain).append('(');
      for (int i = 0; i < inputs.size(); i++) {
        Slice s = inputs.get(i);
        sb.append(i == 0 ? "" : " + ").append(s.block().dedupKey());
        if (!s.whole()) {
          sb.append('[').append(s.from()).append("..").append(s.to()).append(']');
        }
      }
      return sb.append(')').toString();
    }
  }

  /**
   * Rows {@code [from, to)} of a block.
   *
   * @param block the block's lineage
   * @param from first row
   * @param to one past the last row
   * @param rows the block's rows (so that a slice knows whether it is the whole block)
   */
  record Slice(Lineage block, int from, int to, int rows) {
    public Slice {
      Objects.requireNonNull(block, "block");
      if (from < 0 || to < from || to > rows) {
        throw new IllegalArgumentException(
            "bad slice [" + from + ", " + to + ") of " + rows + " rows");
      }
    }

    /** Whether the slice is the whole block. */
    public boolean whole() {
      return from == 0 && to == rows;
    }
  }
}
