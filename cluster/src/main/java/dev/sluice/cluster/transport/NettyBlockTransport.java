package dev.sluice.cluster.transport;

import dev.sluice.cluster.transport.BlockTransportException.Reason;
import dev.sluice.loader.Batch;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link BlockTransport} on Netty: Arrow IPC frames of our own ({@link WireFormat}) over one
 * TCP connection per peer, epoll where Netty's native library loads, NIO elsewhere.
 *
 * <p>The tuning comes from the measurements written down in the design (4 MiB blocks between two
 * JVMs on loopback, where a plain socket streams about 3.5 GB/s): the sender hands the block's own
 * Arrow memory to the socket without copying it; the receiver's socket reads land straight in Arrow
 * buffers of the caller's allocator ({@link BodyReadAllocator}), as a plain socket's would; reads
 * take up to 1 MiB at a time ({@code AdaptiveRecvByteBufAllocator(512, 64K, 1M)}, against Netty's
 * 64 KiB), which alone took Netty from about 2.2 to 2.8 GB/s; the write buffer's water marks are a
 * few blocks (32/64 MiB); socket buffers are left to the kernel's autotuning, which beat fixed 4
 * MiB ones.
 *
 * <pre>
 * try (var transport = NettyBlockTransport.builder(store).build()) {
 *   publish(transport.address());                    // through Hazelcast, say
 *   Batch b = transport.fetch(owner, id, true, allocator).get(30, SECONDS);
 * }
 * </pre>
 *
 * <p>Threads: a fixed number of I/O threads ({@link Builder#ioThreads}, named {@code
 * sluice-transport-<name>-io-<n>}) serve the server and every connection; they are started by
 * {@link Builder#build()} and have ended when {@link #close()} returns (unless close is called on
 * one of them, from a fetch's callback: then they end just after). Stopping them wakes Netty's own
 * {@code globalEventExecutor} thread, shared by every Netty user of the JVM, which delivers the
 * loops' termination and ends by itself a second later.
 */
public final class NettyBlockTransport implements BlockTransport, CountsTraffic {
  private static final Logger LOG = LoggerFactory.getLogger(NettyBlockTransport.class);
  private static final AtomicInteger INSTANCES = new AtomicInteger();
  private static final long CLOSE_WAIT_MILLIS = 10_000;

  private final String name;
  private final boolean epoll;
  private final TransportThreads threads;
  private final EventLoopGroup group;
  private final Channel server;
  private final InetSocketAddress address;
  private final Bootstrap client;
  private final Map<InetSocketAddress, PeerConnection> connections = new ConcurrentHashMap<>();
  private final AtomicLong requestIds = new AtomicLong();
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicInteger accepted = new AtomicInteger();
  private final LongAdder bodyBytesInPlace = new LongAdder();
  private final LongAdder bodyBytesCopied = new LongAdder();
  private final TrafficCounters traffic = new TrafficCounters();
  private final InetAddress bindAddress;

  private NettyBlockTransport(Builder b) {
    this.name = b.name != null ? b.name : Integer.toString(INSTANCES.incrementAndGet());
    this.epoll = b.epoll && Epoll.isAvailable();
    this.bindAddress = b.bindAddress;
    this.threads = new TransportThreads(name);
    IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    this.group = new MultiThreadIoEventLoopGroup(b.ioThreads, threads, io);
    Class<? extends ServerChannel> serverClass =
        epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    Class<? extends Channel> clientClass =
        epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    long responseTimeoutNanos = b.responseTimeout.toNanos();
    int maxReadBytes = b.maxReadBytes;
    this.client =
        new Bootstrap()
            .group(group)
            .channel(clientClass)
            .option(ChannelOption.TCP_NODELAY, true)
            .option(
                ChannelOption.CONNECT_TIMEOUT_MILLIS,
                (int) Math.min(Integer.MAX_VALUE, b.connectTimeout.toMillis()))
            .handler(
                new ChannelInitializer<>() {
                  @Override
                  protected void initChannel(Channel ch) {
                    PeerConnection c = ch.attr(ResponseDecoder.CONNECTION).get();
                    var decoder =
                        new ResponseDecoder(
                            c, responseTimeoutNanos, bodyBytesInPlace, bodyBytesCopied, traffic);
                    // Reads up to 1 MiB (Netty's default stops at 64 KiB), and bodies read
                    // straight into their Arrow buffers.
                    ch.config()
                        .setRecvByteBufAllocator(
                            new BodyReadAllocator(
                                new AdaptiveRecvByteBufAllocator(512, 64 << 10, maxReadBytes),
                                decoder::bodyTarget));
                    ch.pipeline().addLast(decoder);
                  }
                });
    BlockSource source = b.source;
    try {
      this.server =
          new ServerBootstrap()
              .group(group)
              .channel(serverClass)
              .childOption(ChannelOption.TCP_NODELAY, true)
              .childOption(
                  ChannelOption.WRITE_BUFFER_WATER_MARK,
                  new WriteBufferWaterMark(b.writeLowWaterMark, b.writeHighWaterMark))
              .childHandler(
                  new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                      accepted.incrementAndGet();
                      ch.pipeline().addLast(new RequestHandler(source, traffic));
                    }
                  })
              .bind(b.bindAddress, b.port)
              .syncUninterruptibly()
              .channel();
    } catch (Exception e) { // syncUninterruptibly rethrows a bind's IOException unchecked
      stopThreads();
      throw new UncheckedIOException(
          "block transport "
              + name
              + " cannot listen on "
              + b.bindAddress.getHostAddress()
              + ":"
              + b.port
              + ": "
              + e,
          e instanceof IOException io2 ? io2 : new IOException(e));
    }
    this.address = (InetSocketAddress) server.localAddress();
    LOG.debug("block transport {} listening on {} ({})", name, address, engine());
  }

  /**
   * A builder of a transport serving the blocks of {@code source} ({@link BlockSource#none()} for a
   * process that only fetches).
   */
  public static Builder builder(BlockSource source) {
    return new Builder(source);
  }

  @Override
  public InetSocketAddress address() {
    return address;
  }

  /** The Netty transport in use: "epoll" or "nio". */
  public String engine() {
    return epoll ? "epoll" : "nio";
  }

  @Override
  public CompletableFuture<Batch> fetch(
      InetSocketAddress owner, long blockId, boolean take, BufferAllocator into) {
    return start(owner, blockId, take, into).result();
  }

  @Override
  public Taken take(InetSocketAddress owner, long blockId, BufferAllocator into) {
    PendingFetch f = start(owner, blockId, true, into);
    return new Taken(f.result(), f.dropped());
  }

  private PendingFetch start(
      InetSocketAddress owner, long blockId, boolean take, BufferAllocator into) {
    Objects.requireNonNull(owner, "owner");
    Objects.requireNonNull(into, "into");
    PendingFetch fetch =
        new PendingFetch(
            requestIds.incrementAndGet(),
            owner,
            blockId,
            take,
            into,
            new CompletableFuture<>(),
            take ? new CompletableFuture<>() : null);
    if (closed.get()) {
      fetch.fail(Reason.CLOSED, "the transport was closed", null);
      return fetch;
    }
    // A connection that is down is replaced; one lost just after the look-up fails the fetch
    // itself (send sees it down), so no fetch waits on a dead connection.
    PeerConnection c =
        connections.compute(
            owner,
            (peer, old) ->
                old != null && !old.isDown()
                    ? old
                    : new PeerConnection(peer, clientFor(peer), this::forget, closed::get));
    c.send(fetch);
    if (closed.get()) {
      // close() may have swept the connections before this one was made: nothing else fails it.
      c.fail(fetch.requestId(), Reason.CLOSED, "the transport was closed", null);
    }
    return fetch;
  }

  /**
   * The bootstrap of a connection to {@code peer}: from the bind address when it is a specific one
   * that can reach the peer (both loopback, or neither), so that the peer's server sees this
   * member's address and counts its traffic by it ({@link TransportTraffic}); on loopback the
   * kernel would otherwise pick 127.0.0.1 for every member. Elsewhere the kernel picks.
   */
  private Bootstrap clientFor(InetSocketAddress peer) {
    InetAddress to = peer.getAddress();
    if (bindAddress.isAnyLocalAddress()
        || to == null
        || to.isLoopbackAddress() != bindAddress.isLoopbackAddress()
        || to.getAddress().length != bindAddress.getAddress().length) {
      return client;
    }
    return client.clone().localAddress(new InetSocketAddress(bindAddress, 0));
  }

  /**
   * Blocks and body bytes sent and received since the transport started, per peer (see {@link
   * TransportTraffic}).
   */
  @Override
  public TransportTraffic traffic() {
    return traffic.snapshot();
  }

  /** Connections the server has accepted since it started (a figure for tests and metrics). */
  int acceptedConnections() {
    return accepted.get();
  }

  /** Body bytes received by socket reads straight into their Arrow buffers. */
  long bodyBytesReadInPlace() {
    return bodyBytesInPlace.sum();
  }

  /** Body bytes received into Netty buffers and copied into their Arrow buffers. */
  long bodyBytesCopied() {
    return bodyBytesCopied.sum();
  }

  /** Whether close() has begun stopping the I/O threads. */
  boolean stopping() {
    return group.isShuttingDown();
  }

  /** Peers this transport holds a connection to. */
  int openConnections() {
    return connections.size();
  }

  @Override
  public void disconnect(InetSocketAddress peer, String why) {
    PeerConnection c = connections.remove(peer);
    if (c != null) {
      LOG.debug("block transport {}: dropping the connection to {}: {}", name, peer, why);
      c.drop(why);
    }
  }

  private void forget(PeerConnection c) {
    connections.remove(c.peer(), c);
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    server.close();
    for (PeerConnection c : connections.values()) {
      c.close();
    }
    var terminated = group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    if (threads.isCurrent()) {
      // Called from a fetch's callback on an I/O thread, which cannot wait for itself to end.
      LOG.debug("block transport {} closed from its own thread; its threads end shortly", name);
    } else {
      terminated.awaitUninterruptibly(CLOSE_WAIT_MILLIS);
      stopThreads();
    }
    // Fetches whose connection never got a channel (connecting when the loops stopped).
    for (PeerConnection c : connections.values()) {
      c.lost(Reason.CLOSED, "the transport was closed", null);
    }
  }

  private void stopThreads() {
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(CLOSE_WAIT_MILLIS);
    try {
      if (!threads.join(CLOSE_WAIT_MILLIS)) {
        LOG.warn("block transport {}: I/O threads still running after close", name);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "NettyBlockTransport[" + name + " at " + address + ", " + engine() + "]";
  }

  /** Options of a {@link NettyBlockTransport}; {@link #build()} starts it. */
  public static final class Builder {
    private final BlockSource source;
    private InetAddress bindAddress = InetAddress.getLoopbackAddress();
    private int port;
    private String name;
    private int ioThreads = 2;
    private boolean epoll = true;
    private Duration connectTimeout = Duration.ofSeconds(5);
    private Duration responseTimeout = Duration.ofSeconds(30);
    private int maxReadBytes = 1 << 20;
    private int writeLowWaterMark = 32 << 20;
    private int writeHighWaterMark = 64 << 20;

    private Builder(BlockSource source) {
      this.source = Objects.requireNonNull(source, "source");
    }

    /** The address the server listens on. Default: the loopback address. */
    public Builder bindAddress(InetAddress address) {
      this.bindAddress = Objects.requireNonNull(address, "address");
      return this;
    }

    /** The port the server listens on; 0 (the default) for an ephemeral one. */
    public Builder port(int port) {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("bad port " + port);
      }
      this.port = port;
      return this;
    }

    /**
     * Names the transport's threads ({@code sluice-transport-<name>-io-<n>}). Default: a number.
     */
    public Builder name(String name) {
      this.name = Objects.requireNonNull(name, "name");
      return this;
    }

    /** I/O threads, shared by the server and every connection. Default 2. */
    public Builder ioThreads(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("ioThreads must be >= 1: " + n);
      }
      this.ioThreads = n;
      return this;
    }

    /**
     * Whether to use Netty's native epoll transport where it loads (the default; it measured faster
     * than NIO); false for NIO everywhere.
     */
    public Builder epoll(boolean epoll) {
      this.epoll = epoll;
      return this;
    }

    /** How long a connection may take to be made. Default 5 s. */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = positive(timeout, "connectTimeout");
      return this;
    }

    /**
     * How long fetches may wait for a peer that sends nothing (a hung process, a partitioned
     * network; a dead process's connection closes, which fails its fetches at once) before its
     * connection is given up with {@link Reason#TIMEOUT}. Default 30 s.
     */
    public Builder responseTimeout(Duration timeout) {
      this.responseTimeout = positive(timeout, "responseTimeout");
      return this;
    }

    /** The largest read from a connection. Default 1 MiB. */
    public Builder maxReadBytes(int bytes) {
      if (bytes < 64 << 10) {
        throw new IllegalArgumentException("maxReadBytes must be >= 64 KiB: " + bytes);
      }
      this.maxReadBytes = bytes;
      return this;
    }

    /**
     * The water marks of a served connection's outbound buffer: above {@code high} bytes queued the
     * server stops reading that client's requests, below {@code low} it reads them again. Default
     * 32 and 64 MiB.
     */
    public Builder writeWaterMarks(int low, int high) {
      if (low < 0 || high < low) {
        throw new IllegalArgumentException("bad water marks " + low + ", " + high);
      }
      this.writeLowWaterMark = low;
      this.writeHighWaterMark = high;
      return this;
    }

    /**
     * Starts the transport: its threads, and its server listening.
     *
     * @throws UncheckedIOException when the server cannot listen (the address or port is taken)
     */
    public NettyBlockTransport build() {
      return new NettyBlockTransport(this);
    }

    private static Duration positive(Duration d, String what) {
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(what + " must be positive: " + d);
      }
      return d;
    }
  }
}
