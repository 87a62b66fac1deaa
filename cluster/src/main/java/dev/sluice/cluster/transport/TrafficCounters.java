package dev.sluice.cluster.transport;

import dev.sluice.cluster.transport.TransportTraffic.Flow;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The counters behind {@link TransportTraffic}: one pair of adders per peer and direction, added to
 * on the I/O threads (a map look-up and two adds per block), read as a snapshot by anyone.
 * Thread-safe.
 */
final class TrafficCounters {
  private final Map<InetAddress, Counter> sent = new ConcurrentHashMap<>();
  private final Map<InetSocketAddress, Counter> received = new ConcurrentHashMap<>();

  private static final class Counter {
    final LongAdder blocks = new LongAdder();
    final LongAdder bytes = new LongAdder();

    void add(long n) {
      blocks.increment();
      bytes.add(n);
    }

    Flow flow() {
      // Read in the reverse order of the adds: a block counted meanwhile may show in the count
      // without its bytes, not its bytes without the block.
      long b = bytes.sum();
      return new Flow(blocks.sum(), b);
    }
  }

  /** A block of {@code bodyBytes} was written in full to the client at {@code peer}. */
  void sent(InetAddress peer, long bodyBytes) {
    sent.computeIfAbsent(peer, p -> new Counter()).add(bodyBytes);
  }

  /** A block of {@code bodyBytes} was read in full from the transport at {@code owner}. */
  void received(InetSocketAddress owner, long bodyBytes) {
    received.computeIfAbsent(owner, p -> new Counter()).add(bodyBytes);
  }

  TransportTraffic snapshot() {
    Map<InetAddress, Flow> s = new HashMap<>();
    sent.forEach((peer, c) -> s.put(peer, c.flow()));
    Map<InetSocketAddress, Flow> r = new HashMap<>();
    received.forEach((peer, c) -> r.put(peer, c.flow()));
    return new TransportTraffic(s, r);
  }
}
