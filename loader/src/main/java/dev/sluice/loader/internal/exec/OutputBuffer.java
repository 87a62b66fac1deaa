package dev.sluice.loader.internal.exec;

import dev.sluice.loader.runtime.BlockRef;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * An operator's finished outputs, by reference, waiting to be handed downstream. Outputs are keyed
 * by (major, minor): a read uses (split position in the plan, block number in the split), a map
 * (task number, 0). In ordered mode outputs are released strictly in key order, a major being
 * complete once its producer said how many minors it has; unordered mode releases at once. Bytes
 * held are counted from the references. Scheduling thread only.
 */
final class OutputBuffer {
  private final boolean ordered;
  private final ArrayDeque<BlockRef> ready = new ArrayDeque<>();
  private final Map<Long, TreeMap<Integer, BlockRef>> pending = new HashMap<>();
  private final Map<Long, Integer> finishedCounts = new HashMap<>();
  private long nextMajor;
  private int nextMinor;
  private long bytes;

  OutputBuffer(boolean ordered) {
    this.ordered = ordered;
  }

  /** Adds one output (a block, or null for "nothing at this key but the key is used"). */
  void add(long major, int minor, BlockRef batch) {
    if (!ordered) {
      if (batch != null) {
        ready.add(batch);
        bytes += batch.bytes();
      }
      return;
    }
    pending.computeIfAbsent(major, k -> new TreeMap<>()).put(minor, batch);
    if (batch != null) {
      bytes += batch.bytes();
    }
    drain();
  }

  /** Declares that {@code major} has exactly {@code minors} outputs (keys 0..minors-1). */
  void finish(long major, int minors) {
    if (ordered) {
      finishedCounts.put(major, minors);
      drain();
    }
  }

  private void drain() {
    while (true) {
      TreeMap<Integer, BlockRef> m = pending.get(nextMajor);
      if (m != null && m.containsKey(nextMinor)) {
        BlockRef b = m.remove(nextMinor);
        if (b != null) {
          ready.add(b);
        }
        nextMinor++;
        continue;
      }
      Integer count = finishedCounts.get(nextMajor);
      if (count != null && nextMinor >= count) {
        finishedCounts.remove(nextMajor);
        pending.remove(nextMajor);
        nextMajor++;
        nextMinor = 0;
        continue;
      }
      return;
    }
  }

  /** The next output that may be released, left in place; null when none. */
  BlockRef peekReady() {
    return ready.peek();
  }

  /** Takes the next output that may be released; null when none. */
  BlockRef pollReady() {
    BlockRef b = ready.poll();
    if (b != null) {
      bytes -= b.bytes();
    }
    return b;
  }

  /** Outputs released and not yet taken (outputs waiting for their turn in order not counted). */
  int readyCount() {
    return ready.size();
  }

  /** Whether anything is held (released or waiting for order). */
  boolean isEmpty() {
    if (!ready.isEmpty()) {
      return false;
    }
    for (TreeMap<Integer, BlockRef> m : pending.values()) {
      for (BlockRef b : m.values()) {
        if (b != null) {
          return false;
        }
      }
    }
    return true;
  }

  /** Every reference held, released or waiting for order. */
  java.util.List<BlockRef> refs() {
    java.util.List<BlockRef> refs = new java.util.ArrayList<>(ready);
    for (TreeMap<Integer, BlockRef> m : pending.values()) {
      for (BlockRef b : m.values()) {
        if (b != null) {
          refs.add(b);
        }
      }
    }
    return refs;
  }

  /** Bytes held. */
  long bytes() {
    return bytes;
  }

  /** Releases everything held (on cancellation) through {@code release}. */
  void releaseAll(Consumer<BlockRef> release) {
    ready.forEach(release);
    ready.clear();
    for (TreeMap<Integer, BlockRef> m : pending.values()) {
      for (BlockRef b : m.values()) {
        if (b != null) {
          release.accept(b);
        }
      }
    }
    pending.clear();
    bytes = 0;
  }
}
