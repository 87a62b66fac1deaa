package dev.sluice.cluster.exec;

import dev.sluice.cluster.ClusterConfig;
import dev.sluice.cluster.ClusterException;
import dev.sluice.cluster.Role;
import dev.sluice.cluster.SluiceMember;
import dev.sluice.cluster.transport.NettyBlockTransport;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;

/**
 * A worker of a Sluice cluster in this process: its {@link WorkerService} (the executions' halves
 * it runs), its block transport bound to the member's address (the port given in the
 * configuration's transport address, or one the system picks) and its member, which advertises the
 * transport's address. What {@code sluice-worker} runs; tests start several in one JVM on different
 * loopback addresses.
 */
public final class SluiceWorker implements AutoCloseable {
  private final WorkerService service;
  private final NettyBlockTransport transport;
  private final SluiceMember member;

  private SluiceWorker(WorkerService service, NettyBlockTransport transport, SluiceMember member) {
    this.service = service;
    this.transport = transport;
    this.member = member;
  }

  /**
   * Starts the transport, joins the cluster and starts serving.
   *
   * @param config a worker's configuration; its transport address, when set, names the port
   * @param pipelines where pipeline definitions are loaded from
   * @throws ClusterException when the member cannot start or join (see {@link SluiceMember#start})
   */
  public static SluiceWorker start(ClusterConfig config, ClassLoader pipelines) {
    if (config.role() != Role.WORKER) {
      throw new IllegalArgumentException("not a worker's configuration: " + config);
    }
    WorkerService service = new WorkerService(config.memoryBudget(), pipelines);
    NettyBlockTransport transport;
    try {
      transport =
          NettyBlockTransport.builder(service)
              .bindAddress(InetAddress.getByName(config.bindAddress()))
              .port(portOf(config.transport()))
              .name("worker")
              .build();
    } catch (UnknownHostException | RuntimeException e) {
      service.close();
      throw new ClusterException("cannot start the worker's block transport: " + e, e);
    }
    SluiceMember member;
    try {
      member =
          SluiceMember.start(
              config.toBuilder()
                  .transport(config.bindAddress() + ":" + transport.address().getPort())
                  .build(),
              // There before the member joins: a call that comes at once waits for attach.
              java.util.Map.of(WorkerService.KEY, service));
    } catch (RuntimeException e) {
      transport.close();
      service.close();
      throw e;
    }
    service.attach(member.hazelcast(), transport, member.self().toNode());
    member.addListener(
        new dev.sluice.cluster.ClusterListener() {
          @Override
          public void trainerLost(dev.sluice.cluster.MemberInfo trainer) {
            service.trainerLost(trainer);
          }

          @Override
          public void merged(
              dev.sluice.cluster.MemberInfo before, dev.sluice.cluster.MemberInfo after) {
            service.bound();
          }
        });
    LostPeers.watch(member, transport);
    return new SluiceWorker(service, transport, member);
  }

  private static int portOf(String hostPort) {
    if (hostPort == null) {
      return 0;
    }
    return Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
  }

  /** The member. */
  public SluiceMember member() {
    return member;
  }

  /** What the worker runs. */
  public WorkerService service() {
    return service;
  }

  /** The block transport's address. */
  public java.net.InetSocketAddress transportAddress() {
    return transport.address();
  }

  /**
   * Leaves the cluster after handing its work over: says it is leaving (the trainers place no new
   * work here, hand its splits and actors over to the other workers and consume the blocks it
   * holds), waits until every execution has let it go (closed its half here) or {@code handOver}
   * has passed, then {@link #close closes}. What it still holds then is lost with it, and made
   * again elsewhere by its trainers.
   *
   * @return the executions that had not let it go when it left (empty when it handed everything
   *     over)
   */
  public List<String> leave(Duration handOver) throws InterruptedException {
    List<String> left = List.of();
    try {
      member.announceLeaving(handOver.plusSeconds(60));
      left = service.awaitNoExecutions(handOver);
      if (!left.isEmpty()) {
        LOG.warn(
            "{} leaves with executions {} still open after {} s: their trainers make what it held"
                + " again",
            member.self().describe(),
            left,
            handOver.toSeconds());
      }
    } catch (dev.sluice.cluster.ClusterException e) {
      LOG.warn("{} leaves without handing its work over: {}", member.self(), e.getMessage());
      left = List.of("(all: " + e.getMessage() + ")");
    } finally {
      close();
    }
    return left;
  }

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SluiceWorker.class);

  /**
   * Leaves the cluster (cleanly: no new call arrives), then closes what executions are still open,
   * the transport and the memory. Its work is not handed over first (see {@link #leave}): the
   * executions it took part in make its blocks again elsewhere.
   */
  @Override
  public void close() {
    try {
      member.close();
    } finally {
      try {
        service.close();
      } finally {
        transport.close();
      }
    }
  }
}
