package dev.sluice.cluster.exec;

import dev.sluice.cluster.ClusterConfig;
import dev.sluice.cluster.ClusterException;
import dev.sluice.cluster.Role;
import dev.sluice.cluster.SluiceMember;
import dev.sluice.cluster.transport.BlockSource;
import dev.sluice.cluster.transport.NettyBlockTransport;
import dev.sluice.loader.runtime.Node;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;

/**
 * A trainer's membership of a Sluice cluster: its member (a lite member: it holds no data and runs
 * no task), a block transport that only fetches (the consumer takes blocks straight from the
 * workers that made them) and the {@link ClusterRuntime} its datasets run on:
 *
 * <pre>{@code
 * try (ClusterTrainer cluster = ClusterTrainer.start(ClusterConfig.trainer().members("10.0.0.5").build());
 *     Sluice sluice = Sluice.builder().runtime(cluster.runtime()).build()) {
 *   cluster.awaitWorkers(2, Duration.ofMinutes(1));
 *   Dataset ds = sluice.pipeline(TrainPipeline.class, Map.of("shards", "/data/train-{0000..0099}.tar"));
 *   ...
 * }
 * }</pre>
 */
public final class ClusterTrainer implements AutoCloseable {
  private final SluiceMember member;
  private final NettyBlockTransport transport;
  private final ClusterRuntime runtime;

  private ClusterTrainer(SluiceMember member, NettyBlockTransport transport) {
    this.member = member;
    this.transport = transport;
    this.runtime = new ClusterRuntime(member, transport);
  }

  /**
   * Starts the transport and joins the cluster.
   *
   * @param config a trainer's configuration
   * @throws ClusterException when the member cannot start or join
   */
  public static ClusterTrainer start(ClusterConfig config) {
    if (config.role() != Role.TRAINER) {
      throw new IllegalArgumentException("not a trainer's configuration: " + config);
    }
    NettyBlockTransport transport;
    try {
      transport =
          NettyBlockTransport.builder(BlockSource.none())
              .bindAddress(InetAddress.getByName(config.bindAddress()))
              .port(0)
              .name("trainer")
              .build();
    } catch (UnknownHostException | RuntimeException e) {
      throw new ClusterException("cannot start the trainer's block transport: " + e, e);
    }
    try {
      return new ClusterTrainer(SluiceMember.start(config), transport);
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
  }

  /** The runtime datasets run on: {@code Sluice.builder().runtime(trainer.runtime())}. */
  public ClusterRuntime runtime() {
    return runtime;
  }

  /** The member. */
  public SluiceMember member() {
    return member;
  }

  /**
   * Waits until at least {@code n} workers are in the cluster (see {@link
   * SluiceMember#awaitWorkers}).
   */
  public List<Node> awaitWorkers(int n, Duration timeout) throws InterruptedException {
    return member.awaitWorkers(n, timeout);
  }

  /** Leaves the cluster, then closes the transport. */
  @Override
  public void close() {
    try {
      member.close();
    } finally {
      transport.close();
    }
  }
}
