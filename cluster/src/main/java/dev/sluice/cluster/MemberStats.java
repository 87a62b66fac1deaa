package dev.sluice.cluster;

import dev.sluice.cluster.transport.TransportTraffic.Flow;
import java.util.List;
import java.util.Objects;
import java.util.UUID;

/**
 * What one member of a cluster is doing: its CPU, its memory against its budget, the blocks it sent
 * and received through the block transport, and how many of those bytes stayed on its host. A
 * snapshot, taken by the member itself when asked (the trainer collects every worker's with {@code
 * ClusterTrainer.memberStats}); {@link MemberStatsTable} prints a list of them.
 *
 * <p>Process figures: CPU is the whole process's, so members sharing a JVM (tests) share it.
 * Traffic counts blocks by their Arrow body bytes once they crossed in full (see {@code
 * TransportTraffic}). A transfer is <em>local</em> when the member at the other end carries the
 * same host label as this one, <em>moved</em> otherwise (a peer no longer in the cluster, or whose
 * address several members with different labels share, counts as moved): {@code localBytes +
 * movedBytes} is every byte this member sent or received.
 *
 * @param id the member's id
 * @param role worker or trainer
 * @param host its host label
 * @param address its Hazelcast endpoint, {@code host:port}
 * @param cpus the CPUs its CPU share is of: those it offers, or for a member that offers none (a
 *     trainer) the processors its JVM sees
 * @param unanswered null when the member answered; else why its figures are missing (they are then
 *     zero, and {@code cpuNanos} and the memory figures -1)
 * @param cpuNanos CPU time its process used since the member started, or -1 when unknown
 * @param upNanos wall time since the member started
 * @param cpuShare its CPU use over the interval since the previous collection (since it started, at
 *     the first) as a share of {@code cpus}; NaN when unknown
 * @param memoryInUse bytes its allocator holds now (-1: unknown)
 * @param memoryPeak the most bytes its allocator held at once since it started (-1: unknown)
 * @param memoryBudget its budget ({@link Long#MAX_VALUE}: none)
 * @param sent blocks it sent
 * @param received blocks it received
 * @param localBytes bytes sent or received to or from members of its own host
 * @param movedBytes bytes sent or received to or from other hosts
 * @param peers the same traffic per peer address
 */
public record MemberStats(
    UUID id,
    Role role,
    String host,
    String address,
    double cpus,
    String unanswered,
    long cpuNanos,
    long upNanos,
    double cpuShare,
    long memoryInUse,
    long memoryPeak,
    long memoryBudget,
    Flow sent,
    Flow received,
    long localBytes,
    long movedBytes,
    List<PeerTraffic> peers) {

  /**
   * One peer's share of a member's traffic.
   *
   * @param peer the peer's IP address, as the transport knows it
   * @param host the host label of the members at that address, or null when none is known or they
   *     disagree
   * @param local whether the traffic stayed on this member's host
   * @param sent blocks sent to that address
   * @param received blocks received from it
   */
  public record PeerTraffic(String peer, String host, boolean local, Flow sent, Flow received) {
    public PeerTraffic {
      Objects.requireNonNull(peer, "peer");
      Objects.requireNonNull(sent, "sent");
      Objects.requireNonNull(received, "received");
    }
  }

  public MemberStats {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(sent, "sent");
    Objects.requireNonNull(received, "received");
    peers = List.copyOf(peers);
  }

  /** A member that did not answer in time (or failed to): no figures, the reason. */
  public static MemberStats unanswered(MemberInfo member, String why) {
    return new MemberStats(
        member.id(),
        member.role(),
        member.host(),
        member.address(),
        member.resources().cpus(),
        Objects.requireNonNull(why, "why"),
        -1,
        0,
        Double.NaN,
        -1,
        -1,
        member.memoryBudget(),
        Flow.ZERO,
        Flow.ZERO,
        0,
        0,
        List.of());
  }

  /** Whether the member answered: the figures are there. */
  public boolean answered() {
    return unanswered == null;
  }

  /** The same figures with another CPU share. */
  public MemberStats withCpuShare(double share) {
    return new MemberStats(
        id,
        role,
        host,
        address,
        cpus,
        unanswered,
        cpuNanos,
        upNanos,
        share,
        memoryInUse,
        memoryPeak,
        memoryBudget,
        sent,
        received,
        localBytes,
        movedBytes,
        peers);
  }

  /** Whether it has a memory budget of its own. */
  public boolean hasMemoryBudget() {
    return memoryBudget != Long.MAX_VALUE;
  }

  /** What it sent to the members at IP address {@code peer} (nothing when it sent them none). */
  public Flow sentTo(String peer) {
    return peers.stream()
        .filter(p -> p.peer().equals(peer))
        .map(PeerTraffic::sent)
        .findFirst()
        .orElse(Flow.ZERO);
  }
}
