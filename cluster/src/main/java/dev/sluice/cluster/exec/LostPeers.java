package dev.sluice.cluster.exec;

import dev.sluice.cluster.ClusterListener;
import dev.sluice.cluster.SluiceMember;
import dev.sluice.cluster.transport.BlockTransport;
import dev.sluice.loader.runtime.Node;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Drops the transport's connection to a worker the cluster has lost, so that what this member was
 * fetching from it fails at once (and is made again elsewhere) instead of waiting for the
 * transport's response timeout: a host cut off, or a process frozen, keeps its connections open and
 * silent. Knows each worker's data address from when it joined (it is gone from the cluster's view
 * once the worker is).
 */
final class LostPeers implements ClusterListener {
  private final SluiceMember member;
  private final BlockTransport transport;
  private final Map<String, InetSocketAddress> addresses = new ConcurrentHashMap<>();

  private LostPeers(SluiceMember member, BlockTransport transport) {
    this.member = member;
    this.transport = transport;
  }

  /** Watches {@code member}'s workers for {@code transport}; returns what stops watching. */
  static Runnable watch(SluiceMember member, BlockTransport transport) {
    LostPeers p = new LostPeers(member, transport);
    Runnable stop = member.addListener(p);
    for (Node w : member.workers()) {
      p.workerJoined(w);
    }
    return stop;
  }

  @Override
  public void workerJoined(Node worker) {
    InetSocketAddress a = WorkerService.transportOf(member.hazelcast(), worker.id());
    if (a != null) {
      addresses.put(worker.id(), a);
    }
  }

  @Override
  public void workerLost(Node worker) {
    InetSocketAddress a = addresses.remove(worker.id());
    if (a != null) {
      transport.disconnect(a, "worker " + worker + " left the cluster");
    }
  }
}
