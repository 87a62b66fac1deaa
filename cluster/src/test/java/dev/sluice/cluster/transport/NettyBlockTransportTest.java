package dev.sluice.cluster.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.sluice.cluster.transport.BlockTransportException.Reason;
import dev.sluice.loader.Batch;
import dev.sluice.loader.ElementType;
import dev.sluice.loader.TensorSpec;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorUnloader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The block transport between two transports of one JVM on loopback (and, for the failures only a
 * broken peer shows, against a fake peer on a plain socket). Every test leaves both allocators at
 * zero bytes and no {@code sluice-transport} thread alive.
 */
class NettyBlockTransportTest {
  private static final long TIMEOUT_S = 10;

  private RootAllocator root;
  private BufferAllocator serverMemory;
  private BufferAllocator clientMemory;
  private TestBlockSource source;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeEach
  void setUp() {
    root = new RootAllocator();
    serverMemory = root.newChildAllocator("server", 0, Long.MAX_VALUE);
    clientMemory = root.newChildAllocator("client", 0, Long.MAX_VALUE);
    source = new TestBlockSource();
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      toClose.get(i).close();
    }
    source.close();
    assertThat(clientMemory.getAllocatedMemory()).as("client bytes left").isZero();
    assertThat(serverMemory.getAllocatedMemory()).as("server bytes left").isZero();
    clientMemory.close();
    serverMemory.close();
    root.close();
    assertThat(transportThreads()).as("transport threads left after close").isEmpty();
  }

  private static List<String> transportThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(Thread::isAlive)
        .map(Thread::getName)
        .filter(n -> n.startsWith(TransportThreads.PREFIX))
        .toList();
  }

  private NettyBlockTransport transport(String name, BlockSource s) {
    return transport(NettyBlockTransport.builder(s).name(name));
  }

  private NettyBlockTransport transport(NettyBlockTransport.Builder b) {
    NettyBlockTransport t = b.build();
    toClose.add(t);
    return t;
  }

  private static BlockTransportException failure(CompletableFuture<Batch> f) throws Exception {
    try {
      Batch b = f.get(TIMEOUT_S, TimeUnit.SECONDS);
      b.close();
      throw new AssertionError("the fetch succeeded: " + b);
    } catch (ExecutionException e) {
      assertThat(e.getCause()).isInstanceOf(BlockTransportException.class);
      return (BlockTransportException) e.getCause();
    }
  }

  private static Batch get(CompletableFuture<Batch> f) throws Exception {
    return f.get(TIMEOUT_S, TimeUnit.SECONDS);
  }

  private static void assertMixed(Batch b, int seed, int rows) {
    assertThat(b.rowCount()).isEqualTo(rows);
    assertThat(b.sources()).containsExactly("shard-" + seed + ".tar");
    for (int r = 0; r < rows; r++) {
      if (r == 2) {
        assertThat(b.isNull("id", r)).isTrue();
      } else {
        assertThat(b.getLong("id", r)).isEqualTo(seed * 1000L + r);
      }
      assertThat(b.getString("name", r)).isEqualTo(r == 1 ? null : "s" + seed + "-r" + r);
      for (int i = 0; i < 6; i++) {
        assertThat(b.tensorData("t").getFloat((r * 6L + i) * 4)).isEqualTo(seed + r + i / 10f);
      }
    }
    assertThat(b.tensorSpec("t")).isEqualTo(TensorSpec.of(ElementType.FLOAT32, TestBatches.SHAPE));
  }

  @ParameterizedTest(name = "epoll={0}")
  @ValueSource(booleans = {true, false})
  void roundTripKeepsValuesNullsTensorShapeAndSources(boolean epoll) throws Exception {
    source.put(7, TestBatches.mixed(serverMemory, 3, 5));
    var server = transport(NettyBlockTransport.builder(source).name("server").epoll(epoll));
    var client =
        transport(NettyBlockTransport.builder(BlockSource.none()).name("client").epoll(epoll));
    assertThat(server.address().getAddress().isLoopbackAddress()).isTrue();
    assertThat(server.address().getPort()).isPositive();

    try (Batch b = get(client.fetch(server.address(), 7, false, clientMemory))) {
      assertMixed(b, 3, 5);
      assertThat(b.schema()).isEqualTo(source.blocks.get(7L).schema()); // field metadata too
      assertThat(clientMemory.getAllocatedMemory()).isPositive(); // the block lives in `into`
    }
    assertThat(clientMemory.getAllocatedMemory()).isZero();
  }

  @ParameterizedTest(name = "epoll={0}")
  @ValueSource(booleans = {true, false})
  void bigBlockIsReadInPlaceAndAccountedAsTheSameBlockBuiltLocally(boolean epoll) throws Exception {
    Batch sent = TestBatches.tensor4k(serverMemory, 1, 1024);
    long localBytes = sent.sizeInBytes();
    source.put(1, sent);
    var server = transport(NettyBlockTransport.builder(source).name("server").epoll(epoll));
    var client =
        transport(NettyBlockTransport.builder(BlockSource.none()).name("client").epoll(epoll));

    try (Batch b = get(client.fetch(server.address(), 1, false, clientMemory))) {
      // One allocation for the whole 4 MiB + 128 B body would be rounded up to 8 MiB.
      assertThat(clientMemory.getAllocatedMemory()).isEqualTo(localBytes);
      assertThat(b.sizeInBytes()).isEqualTo(localBytes);
      for (int r : new int[] {0, 511, 1023}) {
        byte[] row = b.getBytes("x", r);
        for (int j = 0; j < 4096; j++) {
          assertThat(row[j]).isEqualTo((byte) (1 + r + j));
        }
      }
    }
    // Socket reads landed in the Arrow buffer; only what came in with the header was copied.
    long inPlace = client.bodyBytesReadInPlace();
    long copied = client.bodyBytesCopied();
    assertThat(inPlace + copied).isEqualTo(localBytes);
    assertThat(inPlace).isGreaterThan(localBytes * 9 / 10);
  }

  @Test
  void blocksOfDifferentSchemasAlternateOnOneConnection() throws Exception {
    source.put(1, TestBatches.mixed(serverMemory, 1, 4));
    source.put(2, TestBatches.tensor4k(serverMemory, 2, 8));
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());
    List<CompletableFuture<Batch>> fetches = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      fetches.add(client.fetch(server.address(), 1 + i % 2, false, clientMemory));
    }
    for (int i = 0; i < 6; i++) {
      try (Batch b = get(fetches.get(i))) {
        if (i % 2 == 0) {
          assertMixed(b, 1, 4);
        } else {
          assertThat(b.columnNames()).containsExactly("x");
          assertThat(b.getBytes("x", 7)[1]).isEqualTo((byte) (2 + 7 + 1));
        }
      }
    }
    assertThat(server.acceptedConnections()).isEqualTo(1);
  }

  @Test
  void takeAndKeepReachTheSource() throws Exception {
    source.put(7, TestBatches.mixed(serverMemory, 7, 4));
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());

    get(client.fetch(server.address(), 7, false, clientMemory)).close();
    await().atMost(Duration.ofSeconds(TIMEOUT_S)).until(() -> source.sent.size() == 1);
    assertThat(source.sent).containsExactly("7 keep");
    assertThat(source.blocks).containsKey(7L);

    try (Batch b = get(client.fetch(server.address(), 7, true, clientMemory))) {
      assertMixed(b, 7, 4);
    }
    await().atMost(Duration.ofSeconds(TIMEOUT_S)).until(() -> source.sent.size() == 2);
    assertThat(source.sent).containsExactly("7 keep", "7 take");
    assertThat(source.blocks).doesNotContainKey(7L);
    assertThat(failure(client.fetch(server.address(), 7, false, clientMemory)).reason())
        .isEqualTo(Reason.NOT_FOUND);
  }

  @Test
  void aTakeIsConfirmedDroppedOnlyOnceTheOwnerHasLetGoOfTheBlock() throws Exception {
    source.put(7, TestBatches.mixed(serverMemory, 7, 4));
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());

    BlockTransport.Taken taken = client.take(server.address(), 7, clientMemory);
    try (Batch b = get(taken.block())) {
      assertMixed(b, 7, 4);
    }
    taken.dropped().get(TIMEOUT_S, TimeUnit.SECONDS);
    // The owner's word comes after it dropped the block, never before.
    assertThat(source.sent).containsExactly("7 take");
    assertThat(source.blocks).doesNotContainKey(7L);
    assertThat(serverMemory.getAllocatedMemory()).isZero();
  }

  @Test
  void aConnectionLostBeforeTheOwnersWordFailsTheDroppedStageNamingTheBlock() throws Exception {
    try (FakePeer peer =
        new FakePeer(
            (in, out) -> {
              // An owner that sends the block, reads the receiver's word, and dies before its own.
              byte[] request = new byte[WireFormat.REQUEST_BYTES];
              in.readFully(request);
              long id = java.nio.ByteBuffer.wrap(request, 4, 8).getLong();
              try (BufferAllocator a = new RootAllocator();
                  Batch b = TestBatches.mixed(a, 3, 5);
                  OutgoingBlock block =
                      OutgoingBlock.encode(
                          UnpooledByteBufAllocator.DEFAULT, id, b, new SchemaCache())) {
                write(out, block.header());
                for (ByteBuf piece : block.body()) {
                  write(out, piece);
                }
              }
              byte[] received = new byte[WireFormat.RECEIVED_BYTES];
              in.readFully(received);
            })) {
      var client = transport("client", BlockSource.none());
      BlockTransport.Taken taken = client.take(peer.address(), 12, clientMemory);
      try (Batch b = get(taken.block())) {
        assertMixed(b, 3, 5);
      }
      assertThatThrownBy(() -> taken.dropped().get(TIMEOUT_S, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOf(BlockTransportException.class)
          .hasMessageContaining("block 12")
          .hasMessageContaining("not the word that the peer dropped it");
    }
  }

  @Test
  void sixtyFourPipelinedFetchesOverOneConnection() throws Exception {
    int n = 64;
    for (int i = 0; i < n; i++) {
      source.put(i, TestBatches.mixed(serverMemory, i, 3 + i % 5));
    }
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());

    List<CompletableFuture<Batch>> fetches = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      fetches.add(client.fetch(server.address(), i, i % 2 == 0, clientMemory));
    }
    for (int i = 0; i < n; i++) {
      try (Batch b = get(fetches.get(i))) {
        assertMixed(b, i, 3 + i % 5);
      }
    }
    assertThat(server.acceptedConnections()).isEqualTo(1);
    assertThat(client.openConnections()).isEqualTo(1);
    await().atMost(Duration.ofSeconds(TIMEOUT_S)).until(() -> source.sent.size() == n);
    assertThat(source.blocks).hasSize(n / 2); // the takes are gone, the keeps stay
  }

  @Test
  void concurrentCallersShareTheConnection() throws Exception {
    int n = 32;
    for (int i = 0; i < n; i++) {
      source.put(i, TestBatches.mixed(serverMemory, i, 4));
    }
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());
    List<CompletableFuture<Batch>> fetches = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Thread> callers = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int first = t * (n / 4);
      Thread th =
          new Thread(
              () -> {
                for (int i = first; i < first + n / 4; i++) {
                  fetches.add(client.fetch(server.address(), i, false, clientMemory));
                }
              },
              "test-caller-" + t);
      callers.add(th);
      th.start();
    }
    for (Thread th : callers) {
      th.join(TimeUnit.SECONDS.toMillis(TIMEOUT_S));
    }
    assertThat(fetches).hasSize(n);
    for (CompletableFuture<Batch> f : fetches) {
      try (Batch b = get(f)) {
        int seed = (int) (b.getLong("id", 0) / 1000);
        assertMixed(b, seed, 4);
      }
    }
    assertThat(server.acceptedConnections()).isEqualTo(1);
  }

  @Test
  void unknownBlockFailsClearlyAndTheConnectionStillWorks() throws Exception {
    source.put(7, TestBatches.mixed(serverMemory, 7, 4));
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());

    BlockTransportException e = failure(client.fetch(server.address(), 999, true, clientMemory));
    assertThat(e.reason()).isEqualTo(Reason.NOT_FOUND);
    assertThat(e.blockId()).isEqualTo(999);
    assertThat(e.peer()).isEqualTo(server.address());
    assertThat(e.getMessage())
        .contains("block 999")
        .contains(server.address().getHostString() + ":" + server.address().getPort())
        .contains("block 999 is not held by the test source");

    try (Batch b = get(client.fetch(server.address(), 7, false, clientMemory))) {
      assertMixed(b, 7, 4);
    }
    assertThat(server.acceptedConnections()).isEqualTo(1);
  }

  @Test
  void sourceFailureIsReportedAsRemote() throws Exception {
    BlockSource broken =
        new BlockSource() {
          @Override
          public Batch get(long blockId) {
            throw new IllegalStateException("disk on fire");
          }

          @Override
          public void sent(long blockId, boolean take) {}
        };
    var server = transport("server", broken);
    var client = transport("client", BlockSource.none());
    BlockTransportException e = failure(client.fetch(server.address(), 5, false, clientMemory));
    assertThat(e.reason()).isEqualTo(Reason.REMOTE);
    assertThat(e.getMessage()).contains("disk on fire").contains("block 5");
  }

  @Test
  void allocatorTooSmallFailsClearlyAndTheNextFetchWorks() throws Exception {
    source.put(1, TestBatches.tensor4k(serverMemory, 1, 1024));
    source.put(2, TestBatches.tensor4k(serverMemory, 2, 16));
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());

    try (BufferAllocator small = root.newChildAllocator("small-queue", 0, 1 << 20)) {
      // Both in flight at once: the second frame follows the skipped body on the wire.
      var tooBig = client.fetch(server.address(), 1, true, small);
      var fits = client.fetch(server.address(), 2, true, small);
      BlockTransportException e = failure(tooBig);
      assertThat(e.reason()).isEqualTo(Reason.MEMORY);
      assertThat(e.getMessage()).contains("block 1").contains("small-queue").contains("limit");
      try (Batch b = get(fits)) {
        assertThat(b.rowCount()).isEqualTo(16);
        assertThat(b.getBytes("x", 15)[0]).isEqualTo((byte) (2 + 15));
      }
      assertThat(small.getAllocatedMemory()).isZero();
    }
    // The failed take left the block where it was.
    await().atMost(Duration.ofSeconds(TIMEOUT_S)).until(() -> source.sent.size() == 2);
    assertThat(source.sent).containsExactlyInAnyOrder("1 keep", "2 take");
    try (Batch b = get(client.fetch(server.address(), 1, true, clientMemory))) {
      assertThat(b.rowCount()).isEqualTo(1024);
    }
    assertThat(server.acceptedConnections()).isEqualTo(1);
  }

  @Test
  void connectionRefusedFailsNamingThePeer() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    var client = transport("client", BlockSource.none());
    var nobody = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    BlockTransportException e = failure(client.fetch(nobody, 3, false, clientMemory));
    assertThat(e.reason()).isEqualTo(Reason.CONNECTION);
    assertThat(e.getMessage()).contains(":" + port).contains("block 3");
  }

  @Test
  void serverClosedWithFetchesOutstandingFailsThemPromptly() throws Exception {
    for (int i = 0; i < 16; i++) {
      source.put(i, TestBatches.tensor4k(serverMemory, i, 1024));
    }
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());
    source.hold(); // the server's I/O thread is held in get(): nothing is answered
    List<CompletableFuture<Batch>> fetches = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      fetches.add(client.fetch(server.address(), i, false, clientMemory));
    }
    assertThat(source.awaitHeld(TimeUnit.SECONDS.toMillis(TIMEOUT_S))).isTrue();
    Thread closer = new Thread(server::close, "test-server-closer");
    closer.start();
    await().atMost(Duration.ofSeconds(TIMEOUT_S)).until(server::stopping);
    source.open(); // the held get() returns; its block may go out, the 15 others cannot
    closer.join(TimeUnit.SECONDS.toMillis(TIMEOUT_S));
    assertThat(closer.isAlive()).isFalse();
    int failed = 0;
    for (var f : fetches) {
      try {
        get(f).close();
      } catch (ExecutionException e) {
        assertThat(((BlockTransportException) e.getCause()).reason()).isEqualTo(Reason.CONNECTION);
        assertThat(e.getCause().getMessage()).contains(String.valueOf(server.address().getPort()));
        failed++;
      }
    }
    assertThat(failed).isGreaterThanOrEqualTo(15);
  }

  @Test
  void peerDyingMidResponseFailsEveryFetchOnItNamingThePeer() throws Exception {
    try (FakePeer peer =
        new FakePeer(
            (in, out) -> {
              // Read three requests, answer the first with half a 4 MiB block, then die.
              byte[] request = new byte[WireFormat.REQUEST_BYTES];
              long firstId = -1;
              for (int i = 0; i < 3; i++) {
                in.readFully(request);
                if (i == 0) {
                  firstId = java.nio.ByteBuffer.wrap(request, 4, 8).getLong();
                }
              }
              try (BufferAllocator a = new RootAllocator();
                  Batch b = TestBatches.tensor4k(a, 0, 1024);
                  OutgoingBlock block =
                      OutgoingBlock.encode(
                          UnpooledByteBufAllocator.DEFAULT, firstId, b, new SchemaCache())) {
                write(out, block.header());
                ByteBuf half = block.body().get(block.body().size() - 1);
                out.write(bytes(half.slice(0, half.readableBytes() / 2)));
                out.flush();
                block.body().forEach(ByteBuf::release);
              }
            })) {
      var client = transport("client", BlockSource.none());
      List<CompletableFuture<Batch>> fetches = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        fetches.add(client.fetch(peer.address(), 10 + i, false, clientMemory));
      }
      BlockTransportException first = failure(fetches.get(0));
      assertThat(first.reason()).isEqualTo(Reason.CONNECTION);
      assertThat(first.getMessage())
          .contains("block 10")
          .contains(":" + peer.address().getPort())
          .contains("half received");
      for (int i = 1; i < 3; i++) {
        BlockTransportException e = failure(fetches.get(i));
        assertThat(e.reason()).isEqualTo(Reason.CONNECTION);
        assertThat(e.blockId()).isEqualTo(10 + i);
      }
      assertThat(clientMemory.getAllocatedMemory()).isZero();
    }
  }

  @Test
  void peerOfAnotherVersionIsReportedAsSuch() throws Exception {
    try (FakePeer peer =
        new FakePeer(
            (in, out) -> {
              in.readFully(new byte[WireFormat.REQUEST_BYTES]);
              ByteBuf frame = WireFormat.error(UnpooledByteBufAllocator.DEFAULT, 1, (byte) 1, "x");
              frame.setByte(2, 9); // a version-9 peer
              write(out, frame);
              in.read(); // wait until the client hangs up
            })) {
      var client = transport("client", BlockSource.none());
      BlockTransportException e = failure(client.fetch(peer.address(), 4, false, clientMemory));
      assertThat(e.reason()).isEqualTo(Reason.PROTOCOL);
      assertThat(e.getMessage()).contains("version 9").contains("version " + WireFormat.VERSION);
    }
  }

  @Test
  void serverAnswersAClientOfAnotherVersionWithAClearErrorAndHangsUp() throws Exception {
    var server = transport("server", source);
    try (Socket s = new Socket(server.address().getAddress(), server.address().getPort())) {
      ByteBuf request = WireFormat.request(UnpooledByteBufAllocator.DEFAULT, 1, 2, false);
      request.setByte(2, 9);
      write(s.getOutputStream(), request);
      DataInputStream in = new DataInputStream(s.getInputStream());
      byte[] header = new byte[WireFormat.ERROR_HEADER_BYTES];
      in.readFully(header);
      var h = java.nio.ByteBuffer.wrap(header);
      assertThat(h.getShort()).isEqualTo(WireFormat.MAGIC);
      assertThat(h.get()).isEqualTo(WireFormat.VERSION);
      assertThat(h.get()).isEqualTo(WireFormat.KIND_ERROR);
      h.getLong();
      assertThat(h.get()).isEqualTo(WireFormat.ERROR_PROTOCOL);
      byte[] text = new byte[h.getInt()];
      in.readFully(text);
      assertThat(new String(text, StandardCharsets.UTF_8))
          .contains("version 9")
          .contains("version " + WireFormat.VERSION);
      assertThat(in.read()).isEqualTo(-1); // the server hung up
    }
  }

  @Test
  void closeWithFetchesOutstandingFailsThem() throws Exception {
    source.put(1, TestBatches.mixed(serverMemory, 1, 4));
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());
    source.hold();
    List<CompletableFuture<Batch>> fetches = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      fetches.add(client.fetch(server.address(), 1, false, clientMemory));
    }
    assertThat(source.awaitHeld(TimeUnit.SECONDS.toMillis(TIMEOUT_S))).isTrue();
    client.close();
    for (var f : fetches) {
      assertThat(f).isCompletedExceptionally(); // failed by the time close() returns
      assertThat(failure(f).reason()).isEqualTo(Reason.CLOSED);
    }
    assertThat(failure(client.fetch(server.address(), 1, false, clientMemory)).reason())
        .isEqualTo(Reason.CLOSED);
    assertThat(transportThreads()).noneMatch(n -> n.startsWith(TransportThreads.PREFIX + "client"));
    client.close(); // idempotent
    source.open();
  }

  @Test
  void silentPeerTimesOut() throws Exception {
    source.put(1, TestBatches.mixed(serverMemory, 1, 4));
    var server = transport("server", source);
    var client =
        transport(
            NettyBlockTransport.builder(BlockSource.none())
                .name("client")
                .responseTimeout(Duration.ofMillis(300)));
    source.hold();
    long t0 = System.nanoTime();
    BlockTransportException e = failure(client.fetch(server.address(), 1, false, clientMemory));
    assertThat(e.reason()).isEqualTo(Reason.TIMEOUT);
    assertThat(e.getMessage()).contains("no byte from the peer");
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(300));
    source.open();
  }

  @Test
  void aSilentPeerDisconnectedFailsItsFetchesAtOnceAndTheNextFetchConnectsAgain() throws Exception {
    source.put(1, TestBatches.mixed(serverMemory, 1, 4));
    var server = transport("server", source);
    // The default response timeout (30 s): only the disconnection can end the wait in time.
    var client = transport("client", BlockSource.none());
    source.hold(); // the peer says nothing, as a frozen or cut-off host
    CompletableFuture<Batch> waiting = client.fetch(server.address(), 1, true, clientMemory);
    assertThat(source.awaitHeld(TimeUnit.SECONDS.toMillis(TIMEOUT_S))).isTrue();
    client.disconnect(server.address(), "worker w2 left the cluster");
    BlockTransportException e = failure(waiting);
    assertThat(e.reason()).isEqualTo(Reason.CONNECTION);
    assertThat(e.getMessage()).contains("worker w2 left the cluster");
    client.disconnect(server.address(), "again"); // no connection: nothing to do
    source.open();
    try (Batch b = get(client.fetch(server.address(), 1, true, clientMemory))) {
      assertMixed(b, 1, 4);
    }
  }

  @Test
  void cancelledTakeClosesItsBlockHereAndLeavesItWithTheOwner() throws Exception {
    source.put(1, TestBatches.mixed(serverMemory, 1, 4));
    source.put(2, TestBatches.mixed(serverMemory, 2, 4));
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());
    source.hold();
    var cancelled = client.fetch(server.address(), 1, true, clientMemory);
    var next = client.fetch(server.address(), 2, true, clientMemory);
    assertThat(cancelled.cancel(false)).isTrue();
    source.open();
    try (Batch b = get(next)) {
      assertMixed(b, 2, 4);
      // The cancelled fetch's block arrived before the next one's and was closed on arrival.
      assertThat(clientMemory.getAllocatedMemory()).isEqualTo(b.sizeInBytes());
    }
    await().atMost(Duration.ofSeconds(TIMEOUT_S)).until(() -> source.sent.size() == 2);
    assertThat(source.sent).containsExactly("1 keep", "2 take");
    assertThat(source.blocks).containsOnlyKeys(1L);
  }

  @Test
  void bindingATakenPortFailsClearly() {
    var server = transport("server", source);
    assertThatThrownBy(
            () ->
                NettyBlockTransport.builder(source)
                    .name("second")
                    .port(server.address().getPort())
                    .build())
        .isInstanceOf(java.io.UncheckedIOException.class)
        .hasMessageContaining("cannot listen on")
        .hasMessageContaining(":" + server.address().getPort());
  }

  private static long bodyBytes(Batch b) {
    try (var rb = new VectorUnloader(b.root()).getRecordBatch()) {
      return rb.computeBodyLength();
    }
  }

  @Test
  void trafficIsCountedPerPeerOnBothSidesFromEachClientsOwnAddress() throws Exception {
    source.put(1, TestBatches.tensor4k(serverMemory, 1, 64));
    source.put(2, TestBatches.mixed(serverMemory, 2, 5));
    long big = bodyBytes(source.blocks.get(1L));
    long small = bodyBytes(source.blocks.get(2L));
    var server = transport("server", source); // on 127.0.0.1
    var a =
        transport(
            NettyBlockTransport.builder(BlockSource.none())
                .name("client-a")
                .bindAddress(InetAddress.getByName("127.0.0.2")));
    var b =
        transport(
            NettyBlockTransport.builder(BlockSource.none())
                .name("client-b")
                .bindAddress(InetAddress.getByName("127.0.0.3")));
    TransportTraffic before = server.traffic();
    for (int i = 0; i < 3; i++) {
      get(a.fetch(server.address(), 1, false, clientMemory)).close();
    }
    get(b.fetch(server.address(), 2, false, clientMemory)).close();

    var ip2 = InetAddress.getByName("127.0.0.2");
    var ip3 = InetAddress.getByName("127.0.0.3");
    assertThat(a.traffic().receivedFrom())
        .containsExactly(Map.entry(server.address(), new TransportTraffic.Flow(3, 3 * big)));
    assertThat(b.traffic().receivedFrom())
        .containsExactly(Map.entry(server.address(), new TransportTraffic.Flow(1, small)));
    assertThat(a.traffic().sentTo()).isEmpty();
    // The server counts once a write has completed, which may follow the client's read.
    await()
        .atMost(Duration.ofSeconds(TIMEOUT_S))
        .untilAsserted(
            () ->
                assertThat(server.traffic().sentTo())
                    .containsOnly(
                        Map.entry(ip2, new TransportTraffic.Flow(3, 3 * big)),
                        Map.entry(ip3, new TransportTraffic.Flow(1, small))));
    assertThat(server.traffic().sent()).isEqualTo(new TransportTraffic.Flow(4, 3 * big + small));
    assertThat(server.traffic().receivedFrom()).isEmpty();
    assertThat(before.sentTo()).as("a snapshot does not change").isEmpty();
    assertThatThrownBy(() -> before.sentTo().put(ip2, TransportTraffic.Flow.ZERO))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void aBlockTheCallerCannotHoldStillCountsAsMovedOnBothSides() throws Exception {
    source.put(1, TestBatches.tensor4k(serverMemory, 1, 1024));
    long big = bodyBytes(source.blocks.get(1L));
    var server = transport("server", source);
    var client = transport("client", BlockSource.none());
    try (BufferAllocator small = root.newChildAllocator("small-queue", 0, 1 << 20)) {
      assertThat(failure(client.fetch(server.address(), 1, false, small)).reason())
          .isEqualTo(Reason.MEMORY);
    }
    // The body crossed the connection (and was skipped): the network carried it.
    var expected = new TransportTraffic.Flow(1, big);
    await()
        .atMost(Duration.ofSeconds(TIMEOUT_S))
        .untilAsserted(
            () -> {
              assertThat(client.traffic().received()).isEqualTo(expected);
              assertThat(server.traffic().sent()).isEqualTo(expected);
            });
    assertThat(big).isGreaterThan(4L << 20);
  }

  // --- a fake peer on a plain socket, for what a real transport never sends ---

  private interface PeerScript {
    void run(DataInputStream in, OutputStream out) throws IOException;
  }

  /** Accepts one connection and runs a script on it, on a thread of its own; closing stops it. */
  private static final class FakePeer implements AutoCloseable {
    private final ServerSocket socket;
    private final Thread thread;

    FakePeer(PeerScript script) throws IOException {
      socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
      thread =
          new Thread(
              () -> {
                try (Socket s = socket.accept();
                    InputStream in = s.getInputStream()) {
                  script.run(new DataInputStream(in), s.getOutputStream());
                } catch (EOFException e) {
                  // the client hung up first
                } catch (IOException e) {
                  if (!socket.isClosed()) {
                    throw new java.io.UncheckedIOException(e);
                  }
                }
              },
              "test-fake-peer");
      thread.start();
    }

    InetSocketAddress address() {
      return new InetSocketAddress(socket.getInetAddress(), socket.getLocalPort());
    }

    @Override
    public void close() throws Exception {
      socket.close();
      thread.join(TimeUnit.SECONDS.toMillis(TIMEOUT_S));
      if (thread.isAlive()) {
        throw new TimeoutException("the fake peer did not stop");
      }
    }
  }

  private static byte[] bytes(ByteBuf b) {
    byte[] out = new byte[b.readableBytes()];
    b.getBytes(b.readerIndex(), out);
    return out;
  }

  private static void write(OutputStream out, ByteBuf frame) throws IOException {
    try {
      out.write(bytes(frame));
      out.flush();
    } finally {
      frame.release();
    }
  }
}
