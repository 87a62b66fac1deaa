package dev.sluice.cluster;

import static dev.sluice.cluster.RecordingListener.next;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.hazelcast.map.IMap;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A three-member cluster in this JVM, each member on its own loopback address as if on its own
 * machine: workers on 127.0.0.2 (host h2) and 127.0.0.3 (host h3), a trainer (a lite member) on
 * 127.0.0.1.
 */
@Timeout(60)
class MembershipIT {
  private static final long MIB = 1L << 20;
  private static final Duration WAIT = Duration.ofSeconds(15);

  private final TestMembers members = new TestMembers();
  private SluiceMember w2;
  private SluiceMember w3;
  private SluiceMember trainer;

  @BeforeEach
  void startCluster() {
    w2 =
        members.start(
            members
                .worker("127.0.0.2", "h2", new Resources(2, 0), 512 * MIB)
                .transport("127.0.0.2:7000"));
    w3 =
        members.start(
            members.worker(
                "127.0.0.3", "h3", new Resources(1, 0.5), 256 * MIB, w2.self().address()));
    trainer =
        members.start(
            members
                .trainer("127.0.0.1", w2.self().address())
                .resources(new Resources(0, 1))
                .memberName("t1"));
  }

  @AfterEach
  void stopCluster() {
    members.close();
  }

  @Test
  void eachMemberSeesTheOthersWithTheirAttributes() {
    for (SluiceMember m : List.of(w2, w3, trainer)) {
      List<MemberInfo> seen = m.members();
      assertThat(seen).extracting(MemberInfo::id).containsExactly(ids());
      MemberInfo h2 = seen.get(0);
      assertThat(h2.role()).isEqualTo(Role.WORKER);
      assertThat(h2.host()).isEqualTo("h2");
      assertThat(h2.address()).startsWith("127.0.0.2:");
      assertThat(h2.resources()).isEqualTo(new Resources(2, 0));
      assertThat(h2.memoryBudget()).isEqualTo(512 * MIB);
      assertThat(h2.transport()).isEqualTo("127.0.0.2:7000");
      assertThat(h2.sluiceVersion()).isEqualTo(SluiceVersion.current());
      MemberInfo h3 = seen.get(1);
      assertThat(h3.host()).isEqualTo("h3");
      assertThat(h3.address()).startsWith("127.0.0.3:");
      assertThat(h3.resources()).isEqualTo(new Resources(1, 0.5));
      assertThat(h3.transport()).isNull();
      MemberInfo t = seen.get(2);
      assertThat(t.role()).isEqualTo(Role.TRAINER);
      assertThat(t.host()).as("the bind address by default").isEqualTo("127.0.0.1");
      assertThat(t.resources()).isEqualTo(new Resources(0, 1));
      assertThat(t.hasMemoryBudget()).isFalse();
      assertThat(t.name()).isEqualTo("t1");
    }
    assertThat(trainer.hazelcast().getCluster().getLocalMember().isLiteMember()).isTrue();
    assertThat(w2.hazelcast().getCluster().getLocalMember().isLiteMember()).isFalse();
    assertThat(trainer.self().id()).isEqualTo(ids()[2]);
  }

  @Test
  void workersAreNodesInTheSameStableOrderOnEveryMember() {
    List<Node> expected =
        List.of(
            new Node(w2.self().id().toString(), "h2", new Resources(2, 0), 512 * MIB),
            new Node(w3.self().id().toString(), "h3", new Resources(1, 0.5), 256 * MIB));
    assertThat(trainer.workers()).isEqualTo(expected);
    assertThat(w2.workers()).isEqualTo(expected);
    assertThat(w3.workers()).isEqualTo(expected);
  }

  @Test
  void theTrainerCoordinates() {
    for (SluiceMember m : List.of(w2, w3, trainer)) {
      assertThat(m.coordinator()).map(MemberInfo::id).contains(trainer.self().id());
    }
    assertThat(trainer.isCoordinator()).isTrue();
    assertThat(w2.isCoordinator()).isFalse();
  }

  @Test
  void aWorkerClosingIsSeenAsAWorkerLost() throws InterruptedException {
    RecordingListener events = RecordingListener.on(trainer);
    Node h3 = w3.self().toNode();
    long start = System.nanoTime();
    w3.close();
    assertThat(next(events.lost, WAIT)).isEqualTo(h3);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    System.out.println("a worker's clean leave was heard by the trainer in " + millis + " ms");
    assertThat(trainer.workers()).containsExactly(w2.self().toNode());
    await().atMost(WAIT).until(() -> w2.workers().size() == 1);
    assertThat(events.lost).isEmpty();
  }

  @Test
  void aWorkerJoiningIsHeardAndAwaited() throws InterruptedException {
    RecordingListener events = RecordingListener.on(trainer);
    SluiceMember w4 =
        members.start(
            members.worker("127.0.0.4", "h4", Resources.cpus(1), 64 * MIB, w2.self().address()));
    assertThat(next(events.joined, WAIT)).isEqualTo(w4.self().toNode());
    assertThat(trainer.awaitWorkers(3, WAIT)).last().isEqualTo(w4.self().toNode());
  }

  @Test
  void theOldestTrainerCoordinatesAndTheNextTakesOverWhenItLeaves() throws InterruptedException {
    SluiceMember t2 =
        members.start(members.trainer("127.0.0.5", w2.self().address()).memberName("t2"));
    assertThat(t2.coordinator()).map(MemberInfo::id).contains(trainer.self().id());
    RecordingListener events = RecordingListener.on(w2);
    trainer.close();
    assertThat(next(events.coordinators, WAIT)).map(MemberInfo::id).contains(t2.self().id());
    await().atMost(WAIT).until(t2::isCoordinator);
    t2.close();
    assertThat(next(events.coordinators, WAIT)).isEmpty();
    assertThat(w2.coordinator()).isEmpty();
  }

  @Test
  void aNamedTrainerCoordinatesThoughYoungerAndMembersNotToldFollow() {
    SluiceMember t2 =
        members.start(
            members.trainer("127.0.0.5", w2.self().address()).memberName("t2").coordinator("t2"));
    assertThat(t2.isCoordinator()).isTrue();
    for (SluiceMember m : List.of(w2, w3, trainer, t2)) {
      await()
          .atMost(WAIT)
          .untilAsserted(() -> assertThat(m.coordinator()).map(MemberInfo::name).contains("t2"));
    }
    assertThat(trainer.isCoordinator()).isFalse();
  }

  @Test
  void memberInfoCrossesTheWireThroughItsSerializerAndJavaSerializationIsRefused() {
    // The trainer is a lite member: the entries live on the workers, so values really travel.
    IMap<String, Object> fromTrainer = trainer.hazelcast().getMap("it-values");
    fromTrainer.put("info", trainer.self());
    Object read = w3.hazelcast().getMap("it-values").get("info");
    assertThat(read).isEqualTo(trainer.self());

    fromTrainer.put("java", new NotAllowed("payload"));
    assertThatThrownBy(() -> w2.hazelcast().getMap("it-values").get("java"))
        .hasStackTraceContaining(NotAllowed.class.getName())
        .hasStackTraceContaining("is not allowed");
  }

  private java.util.UUID[] ids() {
    return new java.util.UUID[] {w2.self().id(), w3.self().id(), trainer.self().id()};
  }

  /** A value only Java serialization can carry, of a class outside the allow-list. */
  record NotAllowed(String value) implements Serializable {}
}
