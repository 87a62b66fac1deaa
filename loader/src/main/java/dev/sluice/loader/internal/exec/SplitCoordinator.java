package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.DatasetStats;
import dev.sluice.loader.SluiceException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Splits one execution's output among {@code n} consumers (Ray Data's output splitter, pull-based).
 *
 * <p>A router thread ({@code sluice-split-router-N}) takes blocks from the execution and hands each
 * to the consumer with the fewest rows so far whose queue has room (at most {@code bufferBlocks}
 * blocks). Without {@code equal}, a slow consumer simply gets fewer blocks and never holds the
 * others up. With {@code equal}, every consumer ends with exactly the same number of rows: blocks go
 * to the consumer with the fewest rows, a consumer may read only up to the smallest number of rows
 * any open consumer has been given, and at the end every share is cut to the smallest (the
 * dropped tail is logged, never silent). So a fast consumer runs ahead of the slowest by at most
 * its buffer, and waits beyond that; a consumer that stops must close its iterator, which takes it
 * out of the reckoning.
 *
 * <p>All shared state is guarded by one lock; consumers wait on it, never sleep. The coordinator
 * owns the execution and closes it when every consumer has closed its end.
 */
public final class SplitCoordinator {
  private static final Logger LOG = LoggerFactory.getLogger(SplitCoordinator.class);
  private static final AtomicInteger SPLITS = new AtomicInteger();

  private final StreamingExecutor executor;
  private final boolean equal;
  private final int bufferBlocks;
  private final Object lock = new Object();
  private final List<Consumer> consumers = new ArrayList<>();
  private final Thread router;
  private boolean ended;
  private long finalCap = -1;
  private SluiceException failure;
  private long bufferedBytes;
  private long peakBufferedBytes;
  private int open;
  private boolean executorClosed;

  /** Starts routing the output of a started execution to {@code n} consumers. */
  public SplitCoordinator(StreamingExecutor executor, int n, boolean equal, int bufferBlocks) {
    if (n < 1 || bufferBlocks < 1) {
      throw new IllegalArgumentException("need n >= 1 consumers and bufferBlocks >= 1");
    }
    this.executor = executor;
    this.equal = equal;
    this.bufferBlocks = bufferBlocks;
    for (int i = 0; i < n; i++) {
      consumers.add(new Consumer(i));
    }
    this.open = n;
    this.router = new Thread(this::route, "sluice-split-router-" + SPLITS.incrementAndGet());
    this.router.setDaemon(true);
    this.router.start();
  }

  /** Consumer {@code i}'s end. */
  public BlockStream consumer(int i) {
    return consumers.get(i);
  }

  /** The most bytes held in the consumers' queues at once. */
  public long peakBufferedBytes() {
    synchronized (lock) {
      return peakBufferedBytes;
    }
  }

  /** Rows handed to each consumer so far. */
  public long[] rowsDelivered() {
    synchronized (lock) {
      long[] out = new long[consumers.size()];
      for (int i = 0; i < out.length; i++) {
        out[i] = consumers.get(i).released;
      }
      return out;
    }
  }

  private void route() {
    try {
      while (true) {
        Batch b = executor.take();
        if (b == null) {
          finish();
          return;
        }
        if (!assign(b)) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (SluiceException e) {
      synchronized (lock) {
        failure = e;
        lock.notifyAll();
      }
    } catch (RuntimeException e) {
      synchronized (lock) {
        failure = new SluiceException("streaming split failed: " + e, e);
        lock.notifyAll();
      }
    }
  }

  /** Hands a block to a consumer, waiting for room; false when every consumer has gone. */
  private boolean assign(Batch b) throws InterruptedException {
    synchronized (lock) {
      while (true) {
        if (open == 0) {
          b.close();
          return false;
        }
        Consumer target = null;
        Consumer fewest = null;
        for (Consumer c : consumers) {
          if (c.closed) {
            continue;
          }
          if (fewest == null || c.assigned < fewest.assigned) {
            fewest = c;
          }
          if (c.queue.size() < bufferBlocks && (target == null || c.assigned < target.assigned)) {
            target = c;
          }
        }
        if (equal) {
          target = fewest.queue.size() < bufferBlocks ? fewest : null;
        }
        if (target != null) {
          target.queue.add(b);
          target.assigned += b.rowCount();
          bufferedBytes += b.sizeInBytes();
          peakBufferedBytes = Math.max(peakBufferedBytes, bufferedBytes);
          lock.notifyAll();
          return true;
        }
        lock.wait();
      }
    }
  }

  private void finish() {
    synchronized (lock) {
      ended = true;
      if (equal) {
        finalCap = minAssigned();
        long dropped = 0;
        for (Consumer c : consumers) {
          if (!c.closed) {
            dropped += c.assigned - finalCap;
          }
        }
        LOG.info("streamingSplit(equal): every consumer gets {} rows; {} rows of the tail dropped to make the shares equal",
            finalCap, dropped);
      }
      lock.notifyAll();
    }
  }

  private long minAssigned() {
    long min = Long.MAX_VALUE;
    for (Consumer c : consumers) {
      if (!c.closed) {
        min = Math.min(min, c.assigned);
      }
    }
    return min == Long.MAX_VALUE ? 0 : min;
  }

  /** One consumer's end: its queue and counts. */
  private final class Consumer implements BlockStream {
    final int index;
    final ArrayDeque<Batch> queue = new ArrayDeque<>();
    long assigned;
    long released;
    boolean closed;
    long waitNanos;
    boolean waitOutside;

    Consumer(int index) {
      this.index = index;
    }

    @Override
    public Batch take() throws InterruptedException {
      long t0 = System.nanoTime();
      try {
        synchronized (lock) {
          while (true) {
            if (failure != null) {
              throw SluiceException.rethrown(failure);
            }
            if (closed) {
              return null;
            }
            Batch head = queue.peek();
            if (head != null) {
              if (!equal) {
                return pop();
              }
              long allowed = (ended ? finalCap : minAssigned()) - released;
              if (head.rowCount() <= allowed) {
                return pop();
              }
              if (ended) {
                if (allowed <= 0) {
                  return null;
                }
                int rows = head.rowCount();
                Batch cut = head.slice(executor.consumerAllocator(), 0, (int) allowed);
                pop().close();
                released += allowed - rows;
                return cut;
              }
            } else if (ended) {
              return null;
            }
            lock.wait();
          }
        }
      } finally {
        if (!waitOutside) {
          waitNanos += System.nanoTime() - t0;
        }
      }
    }

    private Batch pop() {
      Batch b = queue.poll();
      released += b.rowCount();
      bufferedBytes -= b.sizeInBytes();
      lock.notifyAll();
      return b;
    }

    @Override
    public BufferAllocator consumerAllocator() {
      return executor.consumerAllocator();
    }

    @Override
    public void addConsumerWait(long nanos) {
      synchronized (lock) {
        waitNanos += nanos;
      }
    }

    @Override
    public void measureConsumerWaitOutside() {
      waitOutside = true;
    }

    @Override
    public DatasetStats stats() {
      DatasetStats s = executor.stats();
      long wait;
      long rows;
      synchronized (lock) {
        wait = waitNanos;
        rows = released;
      }
      return new DatasetStats(s.plan() + " -> StreamingSplit[" + consumers.size() + (equal ? ", equal" : "") + "]#" + index,
          s.operators(), s.wallNanos(), s.firstBatchNanos(), wait, rows, s.memoryBudget(), s.peakMemory(), s.badRecords());
    }

    @Override
    public long peakMemory() {
      return executor.peakMemory();
    }

    @Override
    public void close() {
      boolean last;
      synchronized (lock) {
        if (closed) {
          return;
        }
        closed = true;
        for (Batch b : queue) {
          bufferedBytes -= b.sizeInBytes();
          b.close();
        }
        queue.clear();
        open--;
        last = open == 0 && !executorClosed;
        if (last) {
          executorClosed = true;
        }
        lock.notifyAll();
      }
      if (last) {
        router.interrupt();
        try {
          router.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        executor.close();
      }
    }
  }
}
