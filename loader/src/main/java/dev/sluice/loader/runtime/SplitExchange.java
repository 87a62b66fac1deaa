package dev.sluice.loader.runtime;

import dev.sluice.loader.Batch;
import java.time.Duration;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * Streaming splits whose consumers live in several processes: the trainers of a cluster, each
 * iterating its share of one execution ({@code Dataset.streamingShare}). One process, the host (the
 * cluster's coordinator), runs the execution and its split; the consumers of the other processes
 * attach to it, ask it for their next blocks and take them straight from the workers that made
 * them, so that a block crosses the network once, from its maker to its consumer.
 *
 * <p>A runtime that spans processes gives one through {@link ExecutionRuntime#splitExchange()}.
 * Flow is by credit: a consumer asks for at most as many blocks as its queue has room for, and the
 * host's split hands a consumer no more than its buffer; the blocks stay with their makers, counted
 * against the execution's budget, until taken.
 */
public interface SplitExchange {

  /** Whether this process hosts the shared splits (it runs them; the others attach). */
  boolean hostsSplits();

  /**
   * The host this process's consumer is on, for locality: a consumer is given the blocks read on
   * its own host first (unless the split has hints of its own). Null for no preference.
   */
  String hostLabel();

  /**
   * Offers a split run in this process to the consumers of the others, under {@code key}, until the
   * returned handle is run.
   */
  Runnable host(String key, HostedSplit split);

  /**
   * Attaches to consumer {@code index} of the split offered under {@code key} by the host, waiting
   * up to {@code wait} for the host to offer it.
   *
   * @throws dev.sluice.loader.SluiceException when the split is not offered within {@code wait},
   *     the host is unreachable, or the split's plan is not this consumer's ({@code fingerprint}
   *     differs: the message names the first difference)
   */
  SplitShare attach(String key, int index, List<String> fingerprint, Duration wait);

  /**
   * A block handed to a consumer of another process: a block left in its maker's store ({@code
   * ref}, the consumer takes it from there), or rows the host holds itself ({@code batch}: rows cut
   * from blocks to even the shares out, or repeated to pad them), which the exchange serves and
   * closes once taken.
   *
   * @param id the piece's number within its split, by which the consumer acknowledges it
   * @param hosts the hosts its rows were read from
   * @param local whether it was made on the consumer's host (read there, when its maker is unknown)
   */
  record Piece(
      long id, BlockRef ref, Batch batch, int rows, long bytes, List<String> hosts, boolean local) {
    public Piece {
      if ((ref == null) == (batch == null)) {
        throw new IllegalArgumentException("a piece is either a reference or rows held here");
      }
      hosts = List.copyOf(hosts);
    }
  }

  /**
   * What a poll gave: pieces (possibly none when the wait ran out), and whether the consumer's
   * share has ended (no piece will follow those given).
   */
  record Poll(List<Piece> pieces, boolean ended) {
    public Poll {
      pieces = List.copyOf(pieces);
    }
  }

  /** The host's side of one split, as the exchange serves it to other processes. */
  interface HostedSplit {
    /** The plan's fingerprint lines; an attaching consumer's must be equal. */
    List<String> fingerprint();

    /** How many consumers the split has. */
    int consumers();

    /** The plan, as the statistics name it. */
    String plan();

    /** The execution's memory budget, in bytes. */
    long memoryBudget();

    /**
     * Consumer {@code consumer} attached from a process on {@code host} (its locality hint unless
     * the split was given hints).
     *
     * @throws IllegalStateException when another process is attached as that consumer already
     */
    void attached(int consumer, String host);

    /**
     * Settles the pieces consumer {@code consumer} acknowledges as taken, then gives it up to
     * {@code max} more, waiting up to {@code wait} for the first.
     *
     * @throws dev.sluice.loader.SluiceException the execution's failure
     */
    Poll next(int consumer, long[] acknowledged, int max, Duration wait)
        throws InterruptedException;

    /**
     * The consumer is done: the pieces it acknowledges were taken, the others it was given are
     * released, and it leaves the reckoning of equal shares.
     */
    void close(int consumer, long[] acknowledged);

    /**
     * The process of consumer {@code consumer} is gone ({@code trainer} describes it) without
     * closing its end: the split fails for every consumer with an error naming it, or the consumer
     * leaves and the others go on, as the split's options say. May block while the split closes
     * (when it was the last consumer).
     */
    void consumerLost(int consumer, String trainer);
  }

  /** A consumer's end of a split hosted by another process. */
  interface SplitShare extends AutoCloseable {
    /** The host's plan, as the statistics name it. */
    String plan();

    /** The execution's memory budget, in bytes. */
    long memoryBudget();

    /**
     * Up to {@code max} more pieces for this consumer (acknowledging those fetched since the last
     * call), waiting up to {@code wait} for the first; null when the share has ended.
     *
     * @throws dev.sluice.loader.SluiceException the execution's failure, or the host lost
     */
    List<RemotePiece> next(int max, Duration wait) throws InterruptedException;

    /** Takes a piece from where it is held, into {@code into}. */
    Batch fetch(RemotePiece piece, BufferAllocator into) throws InterruptedException;

    /** Leaves the split (acknowledging what was fetched; the rest goes back). Idempotent. */
    @Override
    void close();
  }

  /** A piece as a consumer of another process sees it: its size and hosts, and where it is. */
  interface RemotePiece {
    int rows();

    long bytes();

    /** The hosts its rows were read from. */
    List<String> hosts();

    /** Whether it was made on this consumer's host (read there, when its maker is unknown). */
    boolean local();
  }
}
