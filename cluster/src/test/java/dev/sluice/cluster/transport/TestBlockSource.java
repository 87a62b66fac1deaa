package dev.sluice.cluster.transport;

import dev.sluice.loader.Batch;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A block store for tests: blocks by id, a log of what the transport told it ({@code "7 keep"},
 * {@code "7 take"}), and a gate that holds {@link #get} (and so the server's I/O thread) until
 * opened, for tests of fetches that must stay outstanding.
 */
final class TestBlockSource implements BlockSource, AutoCloseable {
  final Map<Long, Batch> blocks = new ConcurrentHashMap<>();
  final List<String> sent = new CopyOnWriteArrayList<>();
  private volatile CountDownLatch gate;
  private final CountDownLatch entered = new CountDownLatch(1);

  void put(long id, Batch b) {
    blocks.put(id, b);
  }

  /** From now on {@link #get} waits until {@link #open()} (at most 10 s). */
  void hold() {
    gate = new CountDownLatch(1);
  }

  void open() {
    CountDownLatch g = gate;
    if (g != null) {
      g.countDown();
    }
  }

  /** Waits until a {@link #get} is held at the gate. */
  boolean awaitHeld(long millis) throws InterruptedException {
    return entered.await(millis, TimeUnit.MILLISECONDS);
  }

  @Override
  public Batch get(long blockId) {
    CountDownLatch g = gate;
    if (g != null) {
      entered.countDown();
      try {
        if (!g.await(10, TimeUnit.SECONDS)) {
          throw new IllegalStateException("test gate never opened");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    Batch b = blocks.get(blockId);
    if (b == null) {
      throw new NoSuchElementException("block " + blockId + " is not held by the test source");
    }
    return b;
  }

  @Override
  public void sent(long blockId, boolean take) {
    sent.add(blockId + (take ? " take" : " keep"));
    if (take) {
      Batch b = blocks.remove(blockId);
      if (b != null) {
        b.close();
      }
    }
  }

  @Override
  public void close() {
    open();
    blocks.values().forEach(Batch::close);
    blocks.clear();
  }
}
