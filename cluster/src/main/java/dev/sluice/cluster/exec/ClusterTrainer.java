package dev.sluice.cluster.exec;

import dev.sluice.cluster.ClusterConfig;
import dev.sluice.cluster.ClusterException;
import dev.sluice.cluster.MemberStats;
import dev.sluice.cluster.MemberStatsTable;
import dev.sluice.cluster.Role;
import dev.sluice.cluster.SluiceMember;
import dev.sluice.cluster.transport.BlockSource;
import dev.sluice.cluster.transport.NettyBlockTransport;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.runtime.Node;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;

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
  private final MemberSampler sampler = new MemberSampler();
  private final MemberStatsCollector stats = new MemberStatsCollector();
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
    LostPeers.watch(member, transport);
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
   * Every member's figures now ({@link MemberStats}; {@link MemberStatsTable} prints them): this
   * trainer's first, its memory that of {@code sluice}'s block store against its budget, then each
   * worker's, asked with one call each, all at once. A worker that has not answered within {@code
   * timeout} (or whose call failed) is in the list {@linkplain MemberStats#unanswered unanswered}:
   * this returns within about {@code timeout}. CPU shares are over the interval since the previous
   * call. Thread-safe; calls run one at a time.
   *
   * @param sluice the context this trainer's datasets run in
   * @param timeout how long the workers together may take to answer
   */
  public List<MemberStats> memberStats(Sluice sluice, Duration timeout) {
    BufferAllocator memory = sluice.allocator();
    MemberStats self =
        sampler.sample(
            member.self(),
            member.members(),
            transport.traffic(),
            memory.getAllocatedMemory(),
            memory.getPeakMemoryAllocation(),
            sluice.defaultOptions().memoryBudget());
    return stats.collect(member, self, timeout);
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
