package dev.sluice.bench;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import dev.sluice.cluster.transport.BlockSource;
import dev.sluice.cluster.transport.NettyBlockTransport;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.arrow.flight.BackpressureStrategy;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightGrpcUtils;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.FlightStream;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.NoOpFlightProducer;
import org.apache.arrow.flight.Ticket;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.VectorUnloader;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.WriteChannel;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;

/**
 * The engines the {@code transport} benchmark compares, each as a server (in one JVM) that streams
 * one block over and over, and a client session (in another JVM) that receives blocks one by one,
 * loads each into Arrow vectors ({@link VectorLoader}, directly or inside the engine), touches
 * every row and frees it. Each engine is set up as the design's measurements found best for it.
 */
final class TransportEngines {
  /** The server's line with the address clients connect to. */
  static final String READY = "SLUICE-TRANSPORT-READY ";

  /** The client's line when the measured phase begins (the warm-up is over). */
  static final String MEASURING = "SLUICE-TRANSPORT-MEASURING";

  /** Blackhole of the touched bytes, so that touching cannot be optimised away. */
  static volatile long sink;

  private TransportEngines() {}

  /** The engines, in the order runs interleave them. */
  enum Engine {
    /** A plain NIO {@code SocketChannel} streaming Arrow IPC messages: the ceiling. */
    SOCKET,
    /**
     * Our {@link NettyBlockTransport}: pipelined {@code fetch}es with a fixed number of credits.
     */
    NETTY,
    /** Arrow Flight {@code DoGet}, tuned (zero-copy, 64 MiB backpressure, 16 MiB windows). */
    FLIGHT,
    /** Hazelcast {@code IMap.getAsync} of IPC bytes held by another member: the baseline. */
    HAZELCAST;

    String label() {
      return name().toLowerCase(Locale.ROOT);
    }

    static Engine of(String label) {
      return valueOf(label.trim().toUpperCase(Locale.ROOT));
    }
  }

  /**
   * What both sides agree on.
   *
   * @param rows rows per block
   * @param rowBytes bytes per row (a FixedSizeBinary column)
   * @param credits fetches outstanding at once (netty, hazelcast)
   * @param hazelcastKeys distinct entries the Hazelcast server holds (values are cycled)
   * @param clusterName the Hazelcast cluster's name (unique per run)
   */
  record Options(int rows, int rowBytes, int credits, int hazelcastKeys, String clusterName) {
    long payloadBytes() {
      return (long) rows * rowBytes;
    }
  }

  /** A running server. */
  interface Server extends AutoCloseable {
    /** "host:port" for the client. */
    String address();

    @Override
    void close() throws Exception;
  }

  /** A client's stream of blocks. */
  interface Session extends AutoCloseable {
    /** Receives the next block, loads and touches it, frees it; returns its payload bytes. */
    long next() throws Exception;

    /** Engine details for the record (the Netty transport in use, ...). */
    String detail();

    @Override
    void close() throws Exception;
  }

  /** One column: a {@code rowBytes}-byte uint8 tensor, a FixedSizeBinary with shape metadata. */
  static Schema schema(Options o) {
    return new Schema(List.of(Columns.tensor("x", ElementType.UINT8, o.rowBytes())));
  }

  /** The block every engine sends: {@code rows} rows of pseudo-random bytes. */
  static Batch block(BufferAllocator alloc, Options o) {
    try (BatchBuilder b =
        BatchBuilder.createUninitialized(alloc, schema(o), o.rows(), 0, List.of())) {
      ArrowBuf x = b.tensorData("x");
      long seed = 0x9E3779B97F4A7C15L;
      for (long at = 0; at + 8 <= o.payloadBytes(); at += 8) {
        seed = seed * 6364136223846793005L + 1442695040888963407L;
        x.setLong(at, seed);
      }
      return b.build(o.rows());
    }
  }

  /** Reads one long of every row, as a consumer that uses the block would. */
  static void touch(VectorSchemaRoot root, Options o) {
    FieldVector v = root.getVector(0);
    if (root.getRowCount() != o.rows()) {
      throw new IllegalStateException(
          "received " + root.getRowCount() + " rows, expected " + o.rows());
    }
    ArrowBuf data = v.getDataBuffer();
    long s = 0;
    for (int r = 0; r < o.rows(); r++) {
      s += data.getLong((long) r * o.rowBytes());
    }
    sink += s;
  }

  /** The block as Arrow IPC bytes (a record batch message, no schema): what Hazelcast holds. */
  static byte[] ipcBytes(Batch block) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream((int) block.sizeInBytes() + 1024);
    try (ArrowRecordBatch batch = new VectorUnloader(block.root()).getRecordBatch()) {
      MessageSerializer.serialize(new WriteChannel(Channels.newChannel(out)), batch);
    }
    return out.toByteArray();
  }

  static Server startServer(Engine e, Options o, BufferAllocator alloc) throws Exception {
    return switch (e) {
      case SOCKET -> new SocketServer(o, alloc);
      case NETTY -> new NettyServer(o, alloc);
      case FLIGHT -> new FlightBlockServer(o, alloc);
      case HAZELCAST -> new HazelcastServer(o, alloc);
    };
  }

  static Session openSession(
      Engine e, String address, long blocks, Options o, BufferAllocator alloc) throws Exception {
    int colon = address.lastIndexOf(':');
    var peer =
        new InetSocketAddress(
            InetAddress.getByName(address.substring(0, colon)),
            Integer.parseInt(address.substring(colon + 1)));
    return switch (e) {
      case SOCKET -> new SocketSession(peer, blocks, o, alloc);
      case NETTY -> new NettySession(peer, blocks, o, alloc);
      case FLIGHT -> new FlightSession(peer, blocks, o, alloc);
      case HAZELCAST -> new HazelcastSession(address, o, alloc);
    };
  }

  private static String hostPort(InetSocketAddress a) {
    return a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  // --- socket: the ceiling ---

  /**
   * Accepts one connection, reads the number of blocks wanted (a long), and writes the block that
   * many times as Arrow IPC record batch messages ({@link MessageSerializer}, whose {@link
   * WriteChannel} hands the Arrow buffers to the socket without a copy).
   */
  private static final class SocketServer implements Server {
    private final Batch block;
    private final ServerSocketChannel listener;
    private final Thread thread;
    private volatile Exception failure;

    SocketServer(Options o, BufferAllocator alloc) throws IOException {
      this.block = block(alloc, o);
      this.listener =
          ServerSocketChannel.open()
              .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      this.thread = new Thread(this::serve, "bench-socket-server");
      thread.start();
    }

    private void serve() {
      try (SocketChannel ch = listener.accept();
          ArrowRecordBatch batch = new VectorUnloader(block.root()).getRecordBatch()) {
        ByteBuffer count = ByteBuffer.allocate(8);
        while (count.hasRemaining()) {
          if (ch.read(count) < 0) {
            return;
          }
        }
        long n = count.flip().getLong();
        WriteChannel out = new WriteChannel(ch);
        for (long i = 0; i < n; i++) {
          MessageSerializer.serialize(out, batch);
        }
      } catch (IOException e) {
        if (listener.isOpen()) {
          failure = e;
        }
      }
    }

    @Override
    public String address() {
      try {
        return hostPort((InetSocketAddress) listener.getLocalAddress());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public void close() throws Exception {
      listener.close();
      thread.join(TimeUnit.SECONDS.toMillis(30));
      block.close();
      if (failure != null) {
        throw failure;
      }
    }
  }

  /** Reads the IPC messages into Arrow buffers (one allocation and one read per body). */
  private static final class SocketSession implements Session {
    private final Options o;
    private final BufferAllocator alloc;
    private final SocketChannel ch;
    private final ReadChannel in;
    private final VectorSchemaRoot root;
    private final VectorLoader loader;

    SocketSession(InetSocketAddress peer, long blocks, Options o, BufferAllocator alloc)
        throws IOException {
      this.o = o;
      this.alloc = alloc;
      this.ch = SocketChannel.open(peer);
      ByteBuffer count = ByteBuffer.allocate(8).putLong(blocks).flip();
      while (count.hasRemaining()) {
        ch.write(count);
      }
      this.in = new ReadChannel(ch);
      this.root = VectorSchemaRoot.create(schema(o), alloc);
      this.loader = new VectorLoader(root);
    }

    @Override
    public long next() throws IOException {
      try (ArrowRecordBatch batch = MessageSerializer.deserializeRecordBatch(in, alloc)) {
        loader.load(batch);
      }
      touch(root, o);
      root.clear();
      return o.payloadBytes();
    }

    @Override
    public String detail() {
      return "blocking SocketChannel, Arrow IPC stream";
    }

    @Override
    public void close() throws IOException {
      root.close();
      ch.close();
    }
  }

  // --- netty: our transport ---

  /** A {@link NettyBlockTransport} whose source gives the same block for every id. */
  private static final class NettyServer implements Server {
    private final Batch block;
    private final NettyBlockTransport transport;

    NettyServer(Options o, BufferAllocator alloc) {
      this.block = block(alloc, o);
      this.transport =
          NettyBlockTransport.builder(
                  new BlockSource() {
                    @Override
                    public Batch get(long blockId) {
                      return block;
                    }

                    @Override
                    public void sent(long blockId, boolean take) {
                      // the one block is served again: a take drops nothing here
                    }
                  })
              .name("server")
              .build();
    }

    @Override
    public String address() {
      return hostPort(transport.address());
    }

    @Override
    public void close() {
      transport.close();
      block.close();
    }
  }

  /** Keeps {@code credits} takes outstanding and consumes them in order. */
  private static final class NettySession implements Session {
    private final Options o;
    private final BufferAllocator alloc;
    private final InetSocketAddress peer;
    private final long blocks;
    private final NettyBlockTransport transport;
    private final ArrayDeque<CompletableFuture<Batch>> inFlight = new ArrayDeque<>();
    private long issued;

    NettySession(InetSocketAddress peer, long blocks, Options o, BufferAllocator alloc) {
      this.o = o;
      this.alloc = alloc;
      this.peer = peer;
      this.blocks = blocks;
      this.transport = NettyBlockTransport.builder(BlockSource.none()).name("client").build();
    }

    private void fill() {
      while (inFlight.size() < o.credits() && issued < blocks) {
        inFlight.add(transport.fetch(peer, issued++, true, alloc));
      }
    }

    @Override
    public long next() throws Exception {
      fill();
      try (Batch b = inFlight.remove().get(60, TimeUnit.SECONDS)) {
        touch(b.root(), o);
      }
      fill();
      return o.payloadBytes();
    }

    @Override
    public String detail() {
      return "NettyBlockTransport " + transport.engine() + ", " + o.credits() + " credits, take";
    }

    @Override
    public void close() {
      transport.close();
      for (CompletableFuture<Batch> f : inFlight) {
        f.thenAccept(Batch::close);
      }
    }
  }

  // --- flight: DoGet, tuned ---

  private static final int FLIGHT_WINDOW = 16 << 20;

  /**
   * A Flight server whose {@code DoGet} streams the block as often as the ticket says. The stream
   * runs on a thread of its own: gRPC runs a call's callbacks one at a time, so a loop inside
   * {@code getStream} waiting for readiness would stall after a few batches.
   */
  private static final class FlightBlockServer implements Server {
    private final Batch block;
    private final ExecutorService streamer =
        Executors.newSingleThreadExecutor(r -> new Thread(r, "bench-flight-stream"));
    private final FlightServer server;

    FlightBlockServer(Options o, BufferAllocator alloc) throws IOException {
      this.block = block(alloc, o);
      VectorSchemaRoot root = block.root();
      var producer =
          new NoOpFlightProducer() {
            @Override
            public void getStream(
                CallContext context, Ticket ticket, ServerStreamListener listener) {
              long n = ByteBuffer.wrap(ticket.getBytes()).getLong();
              var backpressure = new BackpressureStrategy.CallbackBackpressureStrategy();
              backpressure.register(listener);
              listener.setUseZeroCopy(true);
              streamer.execute(
                  () -> {
                    try {
                      listener.start(root);
                      for (long i = 0; i < n; i++) {
                        var ready = backpressure.waitForListener(60_000);
                        if (ready != BackpressureStrategy.WaitResult.READY) {
                          listener.error(
                              CallStatus.CANCELLED
                                  .withDescription("client not ready: " + ready)
                                  .toRuntimeException());
                          return;
                        }
                        listener.putNext();
                      }
                      listener.completed();
                    } catch (RuntimeException e) {
                      listener.error(e);
                    }
                  });
            }
          };
      Consumer<NettyServerBuilder> window = b -> b.flowControlWindow(FLIGHT_WINDOW);
      this.server =
          FlightServer.builder(alloc, Location.forGrpcInsecure("127.0.0.1", 0), producer)
              .backpressureThreshold(64 << 20)
              .transportHint("grpc.builderConsumer", window)
              .build()
              .start();
    }

    @Override
    public String address() {
      return "127.0.0.1:" + server.getPort();
    }

    @Override
    public void close() throws Exception {
      server.shutdown();
      server.awaitTermination(30, TimeUnit.SECONDS);
      streamer.shutdownNow();
      streamer.awaitTermination(30, TimeUnit.SECONDS);
      server.close();
      block.close();
    }
  }

  /** One {@code DoGet} stream over a channel with a 16 MiB flow-control window. */
  private static final class FlightSession implements Session {
    private final Options o;
    private final FlightClient client;
    private final FlightStream stream;

    FlightSession(InetSocketAddress peer, long blocks, Options o, BufferAllocator alloc) {
      this.o = o;
      ManagedChannel channel =
          NettyChannelBuilder.forAddress(peer.getAddress().getHostAddress(), peer.getPort())
              .usePlaintext()
              .flowControlWindow(FLIGHT_WINDOW)
              .maxInboundMessageSize(Integer.MAX_VALUE)
              .build();
      this.client = FlightGrpcUtils.createFlightClient(alloc, channel);
      this.stream = client.getStream(new Ticket(ByteBuffer.allocate(8).putLong(blocks).array()));
    }

    @Override
    public long next() {
      if (!stream.next()) {
        throw new IllegalStateException("the Flight stream ended early");
      }
      touch(stream.getRoot(), o);
      return o.payloadBytes();
    }

    @Override
    public String detail() {
      return "Flight DoGet, zero-copy, backpressure 64 MiB, windows 16 MiB";
    }

    @Override
    public void close() throws Exception {
      stream.close();
      client.close();
    }
  }

  // --- hazelcast: the baseline ---

  /** One member per JVM on loopback, multicast off, joined by TCP-IP. */
  static Config hazelcastConfig(String clusterName, boolean lite, String member) {
    Config c = new Config();
    c.setClusterName(clusterName);
    c.setLiteMember(lite); // a lite member owns no partition: every get goes to the server
    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.logging.type", "slf4j");
    c.setProperty("hazelcast.local.localAddress", "127.0.0.1");
    c.setProperty("hazelcast.socket.bind.any", "false");
    NetworkConfig n = c.getNetworkConfig();
    n.setPort(15701).setPortAutoIncrement(true).setPortCount(500);
    n.getInterfaces().setEnabled(true).addInterface("127.0.0.1");
    JoinConfig j = n.getJoin();
    j.getMulticastConfig().setEnabled(false);
    j.getAutoDetectionConfig().setEnabled(false);
    j.getTcpIpConfig().setEnabled(true);
    if (member != null) {
      j.getTcpIpConfig().addMember(member);
    }
    return c;
  }

  /** A data member holding {@code hazelcastKeys} entries of the block's IPC bytes. */
  private static final class HazelcastServer implements Server {
    private final HazelcastInstance hz;

    HazelcastServer(Options o, BufferAllocator alloc) throws IOException {
      byte[] bytes;
      try (Batch b = block(alloc, o)) {
        bytes = ipcBytes(b);
      }
      this.hz = Hazelcast.newHazelcastInstance(hazelcastConfig(o.clusterName(), false, null));
      IMap<Integer, byte[]> map = hz.getMap("blocks");
      for (int k = 0; k < o.hazelcastKeys(); k++) {
        map.set(k, bytes);
      }
    }

    @Override
    public String address() {
      var a = hz.getCluster().getLocalMember().getAddress();
      return a.getHost() + ":" + a.getPort();
    }

    @Override
    public void close() {
      hz.shutdown();
    }
  }

  /** A lite member keeping {@code credits} {@code getAsync}s outstanding. */
  private static final class HazelcastSession implements Session {
    private final Options o;
    private final BufferAllocator alloc;
    private final HazelcastInstance hz;
    private final IMap<Integer, byte[]> map;
    private final ArrayDeque<CompletableFuture<byte[]>> inFlight = new ArrayDeque<>();
    private final VectorSchemaRoot root;
    private final VectorLoader loader;
    private int key;

    HazelcastSession(String server, Options o, BufferAllocator alloc) {
      this.o = o;
      this.alloc = alloc;
      this.hz = Hazelcast.newHazelcastInstance(hazelcastConfig(o.clusterName(), true, server));
      this.map = hz.getMap("blocks");
      this.root = VectorSchemaRoot.create(schema(o), alloc);
      this.loader = new VectorLoader(root);
    }

    @Override
    public long next() throws Exception {
      while (inFlight.size() < o.credits()) {
        inFlight.add(map.getAsync(key++ % o.hazelcastKeys()).toCompletableFuture());
      }
      byte[] bytes = inFlight.remove().get(60, TimeUnit.SECONDS);
      var in = new ReadChannel(Channels.newChannel(new ByteArrayInputStream(bytes)));
      try (ArrowRecordBatch batch = MessageSerializer.deserializeRecordBatch(in, alloc)) {
        loader.load(batch);
      }
      touch(root, o);
      root.clear();
      return o.payloadBytes();
    }

    @Override
    public String detail() {
      return "Hazelcast "
          + com.hazelcast.instance.BuildInfoProvider.getBuildInfo().getVersion()
          + " IMap.getAsync from a lite member, "
          + o.credits()
          + " outstanding, "
          + o.hazelcastKeys()
          + " keys";
    }

    @Override
    public void close() {
      for (CompletableFuture<byte[]> f : inFlight) {
        f.cancel(false);
      }
      root.close();
      hz.shutdown();
    }
  }
}
