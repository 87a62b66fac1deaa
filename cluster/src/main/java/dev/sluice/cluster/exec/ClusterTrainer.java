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
  private final ClusterSplitExchange exchange;

  private ClusterTrainer(
      SluiceMember member, NettyBlockTransport transport, ClusterSplitExchange exchange) {
    this.member = member;
    this.transport = transport;
    this.exchange = exchange;
    this.runtime = new ClusterRuntime(member, transport);
    runtime.exchange(exchange);
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
    SharedSource shared = new SharedSource();
    NettyBlockTransport transport;
    try {
      transport =
          NettyBlockTransport.builder(shared)
              .bindAddress(InetAddress.getByName(config.bindAddress()))
              .port(0)
              .name("trainer")
              .build();
    } catch (UnknownHostException | RuntimeException e) {
      throw new ClusterException("cannot start the trainer's block transport: " + e, e);
    }
    SluiceMember member;
    try {
      member = SluiceMember.start(config);
    } catch (RuntimeException e) {
      transport.close();
      throw e;
    }
    ClusterSplitExchange exchange = new ClusterSplitExchange(member, Duration.ofSeconds(120));
    shared.exchange = exchange;
    exchange.start(transport);
    return new ClusterTrainer(member, transport, exchange);
  }

  /**
   * The trainer's transport serves the rows its split exchange holds (made before the exchange,
   * which needs the member, which needs the transport's address).
   */
  private static final class SharedSource implements BlockSource {
    volatile ClusterSplitExchange exchange;

    @Override
    public dev.sluice.loader.Batch get(long blockId) {
      ClusterSplitExchange x = exchange;
      return x == null ? BlockSource.none().get(blockId) : x.get(blockId);
    }

    @Override
    public void sent(long blockId, boolean take) {
      ClusterSplitExchange x = exchange;
      if (x != null) {
        x.sent(blockId, take);
      }
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

  /** Leaves the cluster, then closes the transport and what the split exchange held. */
  @Override
  public void close() {
    try {
      exchange.close();
      member.close();
    } finally {
      transport.close();
    }
  }
}
