package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.Locality;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.batch.BatchHosts;
import dev.sluice.loader.runtime.SplitExchange;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A consumer's end of a streaming split hosted by another process ({@link SplitExchange}): it asks
 * the host for its next blocks, at most {@code bufferBlocks} at a time (its credit), and takes each
 * from where it is held, into its own allocator, as the consumer takes it. So the blocks a trainer
 * has not asked for stay with their makers, and what this process holds is the block being
 * re-batched and the consumer's own batches.
 *
 * <p>One consumer thread at a time, as a {@link dev.sluice.loader.BatchIterator} uses it.
 */
public final class RemoteShareStream implements BlockStream {
  /** How long one poll waits at the host before asking again (the wait is unbounded overall). */
  private static final Duration POLL = Duration.ofSeconds(1);

  private final SplitExchange.SplitShare share;
  private final BufferAllocator allocator;
  private final int bufferBlocks;
  private final String name;
  private final ArrayDeque<SplitExchange.RemotePiece> pending = new ArrayDeque<>();
  private final long startNanos = System.nanoTime();
  private boolean ended;
  private boolean closed;
  private volatile boolean waitOutside;
  private volatile long waitNanos;
  private volatile long rows;
  private volatile long firstNanos = -1;
  private volatile long localBlocks;
  private volatile long remoteBlocks;
  private volatile long localRows;
  private volatile long remoteRows;

  /**
   * @param share the attached share
   * @param allocator where taken blocks and the consumer's batches are allocated (owned: closed
   *     with this stream)
   * @param bufferBlocks blocks asked for at a time
   * @param name how the statistics name this consumer
   */
  public RemoteShareStream(
      SplitExchange.SplitShare share, BufferAllocator allocator, int bufferBlocks, String name) {
    if (bufferBlocks < 1) {
      throw new IllegalArgumentException("bufferBlocks must be >= 1: " + bufferBlocks);
    }
    this.share = share;
    this.allocator = allocator;
    this.bufferBlocks = bufferBlocks;
    this.name = name;
  }

  @Override
  public Batch take() throws InterruptedException {
    long t0 = System.nanoTime();
    try {
      if (closed) {
        return null;
      }
      while (pending.isEmpty() && !ended) {
        List<SplitExchange.RemotePiece> more = share.next(bufferBlocks, POLL);
        if (more == null) {
          ended = true;
        } else {
          pending.addAll(more);
        }
      }
      SplitExchange.RemotePiece p = pending.poll();
      if (p == null) {
        return null;
      }
      Batch b = share.fetch(p, allocator);
      BatchHosts.set(b, p.hosts());
      count(p);
      return b;
    } finally {
      if (!waitOutside) {
        waitNanos += System.nanoTime() - t0;
      }
    }
  }

  private void count(SplitExchange.RemotePiece p) {
    if (firstNanos < 0) {
      firstNanos = System.nanoTime() - startNanos;
    }
    rows += p.rows();
    if (p.local()) {
      localBlocks++;
      localRows += p.rows();
    } else {
      remoteBlocks++;
      remoteRows += p.rows();
    }
  }

  @Override
  public BufferAllocator consumerAllocator() {
    return allocator;
  }

  @Override
  public void addConsumerWait(long nanos) {
    waitNanos += nanos;
  }

  @Override
  public void measureConsumerWaitOutside() {
    waitOutside = true;
  }

  @Override
  public SluiceException consumerOutOfMemory(
      int batchRows, org.apache.arrow.memory.OutOfMemoryException e) {
    return new SluiceException(
        "the consumer's batch of "
            + batchRows
            + " rows does not fit in this trainer's memory ("
            + allocator.getLimit()
            + " bytes): "
            + e.getMessage(),
        e);
  }

  @Override
  public DatasetStats stats() {
    return new DatasetStats(
        share.plan() + " -> " + name,
        List.of(),
        System.nanoTime() - startNanos,
        firstNanos,
        waitNanos,
        rows,
        share.memoryBudget(),
        allocator.getPeakMemoryAllocation(),
        0,
        allocator.getPeakMemoryAllocation());
  }

  @Override
  public Locality locality() {
    return new Locality(localBlocks, remoteBlocks, localRows, remoteRows);
  }

  /** This trainer's allocator peak (the split's execution runs in another process). */
  @Override
  public long peakMemory() {
    return allocator.getPeakMemoryAllocation();
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    pending.clear();
    try {
      share.close();
    } finally {
      allocator.close();
    }
  }
}
