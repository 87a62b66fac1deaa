package dev.sluice.cluster.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.cluster.MemberInfo;
import dev.sluice.cluster.MemberStats;
import dev.sluice.cluster.MemberStats.PeerTraffic;
import dev.sluice.cluster.Role;
import dev.sluice.cluster.transport.TransportTraffic.Flow;
import dev.sluice.loader.runtime.Resources;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class MemberStatsCodecTest {

  private static byte[] bytes(MemberStats s) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(b)) {
      MemberStatsCodec.write(out, s);
    }
    return b.toByteArray();
  }

  private static MemberStats read(byte[] b) throws IOException {
    return MemberStatsCodec.read(new DataInputStream(new ByteArrayInputStream(b)));
  }

  @Test
  void figuresRoundTripPeersIncluded() throws IOException {
    MemberStats s =
        new MemberStats(
            UUID.randomUUID(),
            Role.WORKER,
            "rack1-node2",
            "10.0.0.2:5701",
            8,
            null,
            12_345_678_900L,
            60_000_000_000L,
            0.51,
            10L << 20,
            200L << 20,
            256L << 20,
            new Flow(300, 3L << 30),
            new Flow(7, 70L << 20),
            1L << 30,
            (2L << 30) + (70L << 20),
            List.of(
                new PeerTraffic(
                    "10.0.0.1", "rack1-node2", true, new Flow(100, 1L << 30), Flow.ZERO),
                new PeerTraffic(
                    "10.0.0.3", null, false, new Flow(200, 2L << 30), new Flow(7, 70L << 20))));
    assertThat(read(bytes(s))).isEqualTo(s);
  }

  @Test
  void anUnansweredMemberRoundTrips() throws IOException {
    MemberInfo m =
        new MemberInfo(
            UUID.randomUUID(),
            "127.0.0.3:5701",
            Role.WORKER,
            "h3",
            Resources.cpus(2),
            1L << 30,
            "test",
            "127.0.0.3:4000",
            null);
    MemberStats s = MemberStats.unanswered(m, "no answer within 5000 ms");
    MemberStats back = read(bytes(s));
    assertThat(back).isEqualTo(s);
    assertThat(back.answered()).isFalse();
    assertThat(back.cpuShare()).isNaN();
  }

  @Test
  void anotherFormatIsRefusedNamingIt() throws IOException {
    byte[] b =
        bytes(
            MemberStats.unanswered(
                new MemberInfo(
                    UUID.randomUUID(),
                    "127.0.0.3:5701",
                    Role.WORKER,
                    "h3",
                    Resources.cpus(1),
                    1L << 30,
                    "test",
                    null,
                    null),
                "x"));
    b[0] = 2;
    assertThatThrownBy(() -> read(b))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("format 2")
        .hasMessageContaining("different Sluice versions");
  }
}
