package dev.sluice.cluster.transport;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Objects;

/**
 * What a transport has moved since it started, per peer: an immutable snapshot ({@link
 * CountsTraffic#traffic()}).
 *
 * <p>Only block frames count, by their Arrow body bytes (the few hundred bytes of header and
 * metadata each, requests and error answers are left out), once the whole body has crossed: a block
 * written to the socket in full on the sending side, a block read in full on the receiving side,
 * whether or not its caller still wanted it. So on a connection that was not lost, the receiver's
 * figures equal the sender's.
 *
 * <p>Peers are named as each side knows them. A receiver knows the transport address it fetched
 * from, exactly. A sender knows only the address its client connected from, whose port is an
 * ephemeral one: it counts by the client's IP address, which names the client's member because a
 * transport bound to a specific address connects from that address (see {@link
 * NettyBlockTransport}). Members sharing an IP address share a figure.
 *
 * @param sentTo blocks served, by the IP address of the client that fetched them
 * @param receivedFrom blocks fetched, by the transport address of their owner
 */
public record TransportTraffic(
    Map<InetAddress, Flow> sentTo, Map<InetSocketAddress, Flow> receivedFrom) {

  /** No traffic. */
  public static final TransportTraffic NONE = new TransportTraffic(Map.of(), Map.of());

  public TransportTraffic {
    sentTo = Map.copyOf(Objects.requireNonNull(sentTo, "sentTo"));
    receivedFrom = Map.copyOf(Objects.requireNonNull(receivedFrom, "receivedFrom"));
  }

  /**
   * Blocks and their body bytes moved one way between two peers.
   *
   * @param blocks how many
   * @param bytes their Arrow body bytes
   */
  public record Flow(long blocks, long bytes) {
    /** Nothing moved. */
    public static final Flow ZERO = new Flow(0, 0);

    /** Both flows together. */
    public Flow plus(Flow other) {
      return new Flow(blocks + other.blocks, bytes + other.bytes);
    }
  }

  /** Everything sent, to every peer. */
  public Flow sent() {
    return sentTo.values().stream().reduce(Flow.ZERO, Flow::plus);
  }

  /** Everything received, from every peer. */
  public Flow received() {
    return receivedFrom.values().stream().reduce(Flow.ZERO, Flow::plus);
  }
}
