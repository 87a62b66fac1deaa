package dev.sluice.cluster.exec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.cluster.MemberInfo;
import dev.sluice.cluster.MemberStats;
import dev.sluice.cluster.MemberStats.PeerTraffic;
import dev.sluice.cluster.MemberStatsTable;
import dev.sluice.cluster.Role;
import dev.sluice.cluster.transport.TransportTraffic;
import dev.sluice.cluster.transport.TransportTraffic.Flow;
import dev.sluice.loader.runtime.Resources;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class MemberSamplerTest {
  private static final long MIB = 1L << 20;

  private static MemberInfo member(Role role, String ip, String host, String transport) {
    return new MemberInfo(
        UUID.randomUUID(),
        ip + ":5701",
        role,
        host,
        role == Role.WORKER ? Resources.cpus(2) : Resources.NONE,
        role == Role.WORKER ? 64 * MIB : Long.MAX_VALUE,
        "test",
        transport,
        null);
  }

  @Test
  void trafficIsLocalWhenThePeersHostLabelIsThisMembersOwn() throws Exception {
    // A worker on h2 (127.0.0.2), a trainer labelled h2 on 127.0.0.1, another worker on h3.
    MemberInfo self = member(Role.WORKER, "127.0.0.2", "h2", "127.0.0.2:4000");
    MemberInfo trainer = member(Role.TRAINER, "127.0.0.1", "h2", null);
    MemberInfo other = member(Role.WORKER, "127.0.0.3", "h3", "127.0.0.3:4001");
    TransportTraffic traffic =
        new TransportTraffic(
            Map.of(
                InetAddress.getByName("127.0.0.1"), new Flow(10, 100 * MIB),
                InetAddress.getByName("127.0.0.3"), new Flow(2, 20 * MIB),
                InetAddress.getByName("127.0.0.9"), new Flow(1, MIB)), // a member gone since
            Map.of(new InetSocketAddress("127.0.0.3", 4001), new Flow(3, 30 * MIB)));

    MemberStats s =
        new MemberSampler()
            .sample(self, List.of(trainer, self, other), traffic, 5 * MIB, 40 * MIB, 64 * MIB);

    assertThat(s.answered()).isTrue();
    assertThat(s.id()).isEqualTo(self.id());
    assertThat(s.host()).isEqualTo("h2");
    assertThat(s.cpus()).isEqualTo(2.0);
    assertThat(s.sent()).isEqualTo(new Flow(13, 121 * MIB));
    assertThat(s.received()).isEqualTo(new Flow(3, 30 * MIB));
    assertThat(s.localBytes()).isEqualTo(100 * MIB);
    assertThat(s.movedBytes()).isEqualTo(20 * MIB + MIB + 30 * MIB);
    assertThat(s.localBytes() + s.movedBytes()).isEqualTo(s.sent().bytes() + s.received().bytes());
    assertThat(s.peers())
        .containsExactly(
            new PeerTraffic("127.0.0.1", "h2", true, new Flow(10, 100 * MIB), Flow.ZERO),
            new PeerTraffic("127.0.0.3", "h3", false, new Flow(2, 20 * MIB), new Flow(3, 30 * MIB)),
            new PeerTraffic("127.0.0.9", null, false, new Flow(1, MIB), Flow.ZERO));
    assertThat(s.sentTo("127.0.0.1")).isEqualTo(new Flow(10, 100 * MIB));
    assertThat(s.sentTo("127.0.0.4")).isEqualTo(Flow.ZERO);
    assertThat(s.memoryInUse()).isEqualTo(5 * MIB);
    assertThat(s.memoryPeak()).isEqualTo(40 * MIB);
    assertThat(s.upNanos()).isPositive();
  }

  @Test
  void aPeerAddressSharedByMembersOfDifferentHostsIsMoved() throws Exception {
    MemberInfo self = member(Role.WORKER, "127.0.0.2", "h2", "127.0.0.2:4000");
    MemberInfo a = member(Role.WORKER, "127.0.0.5", "h2", "127.0.0.5:4000");
    MemberInfo b = member(Role.WORKER, "127.0.0.5", "h5", "127.0.0.5:4001");
    TransportTraffic traffic =
        new TransportTraffic(
            Map.of(InetAddress.getByName("127.0.0.5"), new Flow(1, MIB)), Map.of());
    MemberStats s = new MemberSampler().sample(self, List.of(self, a, b), traffic, 0, 0, 64 * MIB);
    assertThat(s.peers())
        .containsExactly(new PeerTraffic("127.0.0.5", null, false, new Flow(1, MIB), Flow.ZERO));
    assertThat(s.movedBytes()).isEqualTo(MIB);
    assertThat(s.localBytes()).isZero();
  }

  @Test
  void theTrainersCpuShareIsOfTheProcessorsItsJvmSees() {
    MemberInfo trainer = member(Role.TRAINER, "127.0.0.1", "t", null);
    MemberStats s =
        new MemberSampler().sample(trainer, List.of(trainer), TransportTraffic.NONE, 0, 0, MIB);
    assertThat(s.cpus()).isEqualTo(Runtime.getRuntime().availableProcessors());
    assertThat(s.cpuNanos()).isNotNegative();
    assertThat(s.cpuShare()).isNotNaN().isNotNegative();
  }

  @Test
  void theTablePrintsOneLinePerMemberAndSaysWhoDidNotAnswer() {
    MemberInfo trainer = member(Role.TRAINER, "127.0.0.1", "h1", null);
    MemberInfo worker = member(Role.WORKER, "127.0.0.2", "h2", "127.0.0.2:4000");
    MemberInfo silent = member(Role.WORKER, "127.0.0.3", "h3", "127.0.0.3:4000");
    TransportTraffic received =
        new TransportTraffic(
            Map.of(), Map.of(new InetSocketAddress("127.0.0.2", 4000), new Flow(612, 72 * MIB)));
    MemberStats t =
        new MemberSampler()
            .sample(trainer, List.of(trainer, worker), received, 8 * MIB, 24 * MIB, 256 * MIB)
            .withCpuShare(0.35);
    String table =
        MemberStatsTable.format(
            List.of(t, MemberStats.unanswered(silent, "no answer within 5000 ms")), 0.042);
    List<String> lines = table.lines().toList();
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0)).startsWith("member").contains("cpu%").endsWith("stall");
    assertThat(lines.get(1))
        .startsWith(trainer.id().toString().substring(0, 8))
        .contains("trainer", "h1", "35%", "8.0 MiB / 24.0 MiB / 256.0 MiB", "612", "72.0 MiB")
        .contains("0 B / 72.0 MiB")
        .endsWith("4.2%");
    assertThat(lines.get(2))
        .contains("worker", "h3", "no figures: no answer within 5000 ms")
        .doesNotContain("%");
  }
}
