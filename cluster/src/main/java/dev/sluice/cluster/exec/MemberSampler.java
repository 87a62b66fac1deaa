package dev.sluice.cluster.exec;

import dev.sluice.cluster.MemberInfo;
import dev.sluice.cluster.MemberStats;
import dev.sluice.cluster.MemberStats.PeerTraffic;
import dev.sluice.cluster.transport.TransportTraffic;
import dev.sluice.cluster.transport.TransportTraffic.Flow;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Takes a member's {@link MemberStats} in its own process: CPU since the sampler was made (the
 * member's start), memory and traffic as given, each peer's traffic classed local or moved by the
 * host labels of the members at its address. Thread-safe (it keeps only its start).
 */
final class MemberSampler {
  private final long startNanos = System.nanoTime();
  private final long cpuAtStart = processCpuNanos();

  /**
   * This member's figures now; CPU share since the start (the collector replaces it by the share
   * over its interval).
   *
   * @param self this member
   * @param members every member known now (self included), whose addresses name peers
   * @param traffic what this member's transport moved
   * @param memoryInUse bytes held now, -1 when unknown
   * @param memoryPeak the peak, -1 when unknown
   * @param memoryBudget the budget ({@link Long#MAX_VALUE}: none)
   */
  MemberStats sample(
      MemberInfo self,
      Collection<MemberInfo> members,
      TransportTraffic traffic,
      long memoryInUse,
      long memoryPeak,
      long memoryBudget) {
    long up = Math.max(1, System.nanoTime() - startNanos);
    long cpuNow = processCpuNanos();
    long cpu = cpuNow < 0 || cpuAtStart < 0 ? -1 : cpuNow - cpuAtStart;
    double cpus =
        self.resources().cpus() > 0
            ? self.resources().cpus()
            : Runtime.getRuntime().availableProcessors();
    Map<String, Set<String>> labels = labelsByAddress(members);
    Map<String, Flow> sent = new TreeMap<>();
    Map<String, Flow> received = new TreeMap<>();
    traffic.sentTo().forEach((ip, f) -> sent.merge(ip.getHostAddress(), f, Flow::plus));
    traffic.receivedFrom().forEach((a, f) -> received.merge(hostAddress(a), f, Flow::plus));
    Set<String> peerAddresses = new java.util.TreeSet<>(sent.keySet());
    peerAddresses.addAll(received.keySet());
    List<PeerTraffic> peers = new ArrayList<>();
    long local = 0;
    long moved = 0;
    for (String ip : peerAddresses) {
      Set<String> there = labels.getOrDefault(ip, Set.of());
      String host = there.size() == 1 ? there.iterator().next() : null;
      boolean isLocal = self.host().equals(host);
      Flow s = sent.getOrDefault(ip, Flow.ZERO);
      Flow r = received.getOrDefault(ip, Flow.ZERO);
      peers.add(new PeerTraffic(ip, host, isLocal, s, r));
      if (isLocal) {
        local += s.bytes() + r.bytes();
      } else {
        moved += s.bytes() + r.bytes();
      }
    }
    return new MemberStats(
        self.id(),
        self.role(),
        self.host(),
        self.address(),
        cpus,
        null,
        cpu,
        up,
        cpu < 0 ? Double.NaN : cpu / (double) up / cpus,
        memoryInUse,
        memoryPeak,
        memoryBudget,
        traffic.sent(),
        traffic.received(),
        local,
        moved,
        peers);
  }

  /**
   * The host labels of the members at each IP address (their Hazelcast and transport addresses).
   */
  private static Map<String, Set<String>> labelsByAddress(Collection<MemberInfo> members) {
    Map<String, Set<String>> labels = new HashMap<>();
    for (MemberInfo m : members) {
      for (String hostPort : new String[] {m.address(), m.transport()}) {
        String ip = ipOf(hostPort);
        if (ip != null) {
          labels.computeIfAbsent(ip, k -> new HashSet<>()).add(m.host());
        }
      }
    }
    return labels;
  }

  /** The IP address of a {@code host:port} as {@link InetAddress#getHostAddress()} writes it. */
  private static String ipOf(String hostPort) {
    if (hostPort == null) {
      return null;
    }
    int colon = hostPort.lastIndexOf(':');
    String host = colon < 0 ? hostPort : hostPort.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    try {
      return InetAddress.getByName(host).getHostAddress();
    } catch (UnknownHostException e) {
      return host;
    }
  }

  private static String hostAddress(InetSocketAddress a) {
    return a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
  }

  /** The CPU time this process used, in nanoseconds, or -1 when the JVM cannot tell. */
  static long processCpuNanos() {
    if (ManagementFactory.getOperatingSystemMXBean()
        instanceof com.sun.management.OperatingSystemMXBean os) {
      long t = os.getProcessCpuTime();
      if (t >= 0) {
        return t;
      }
    }
    return ProcessHandle.current().info().totalCpuDuration().map(Duration::toNanos).orElse(-1L);
  }
}
