package dev.sluice.loader;

import java.time.Instant;
import java.util.Objects;

/**
 * Something an execution did about its cluster while it ran: a node lost, joined or leaving, a
 * split given back and read again elsewhere, a lost block made again, a task run again. In {@link
 * DatasetStats#events()}, in order; how a run recovered from a failure, and how fast.
 *
 * @param at when, on this process's clock
 * @param sinceStartNanos when, from the start of the execution
 * @param kind what happened
 * @param node the node it happened on (the node lost or joined, the node a split or block went to)
 * @param detail what, in words (the split and its row, the block's name, the reason)
 */
public record ExecutionEvent(
    Instant at, long sinceStartNanos, Kind kind, String node, String detail) {
  public ExecutionEvent {
    Objects.requireNonNull(at, "at");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(detail, "detail");
  }

  /** What happened. */
  public enum Kind {
    /**
     * A node was lost (its process died, or it left before it had handed its work over): its tasks,
     * actors and blocks are gone.
     */
    NODE_LOST,
    /** A node joined while the execution ran, and takes work from now on. */
    NODE_JOINED,
    /**
     * A node said it is leaving: nothing new is placed there, the splits it reads are handed over
     * (given back at the row their readers stood, {@link #SPLIT_GIVEN_BACK}), its actors stop and
     * start elsewhere, its blocks are consumed as usual.
     */
    NODE_LEAVING,
    /** A leaving node held nothing of the execution any more, and was let go. */
    NODE_LEFT,
    /**
     * A split a lost (or leaving) node was reading went back to the enumerator, under a higher
     * attempt.
     */
    SPLIT_GIVEN_BACK,
    /** A split given back was leased again, to be read on from where the last reader stood. */
    SPLIT_REISSUED,
    /** A block lost with its node was made again from its lineage. */
    BLOCK_REMADE,
    /** A task lost with a node (its own, or one holding an input) was run again. */
    TASK_RETRIED,
    /**
     * A consumer of a split shared by trainers of several processes was lost with its trainer (the
     * detail names it and says whether the others go on).
     */
    CONSUMER_LOST
  }
}
