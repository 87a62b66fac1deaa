package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import dev.sluice.cluster.internal.SluiceTypeIds;
import dev.sluice.loader.runtime.Resources;
import java.time.Duration;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ClusterConfigTest {
  private static ClusterConfig.Builder aWorker() {
    return ClusterConfig.worker().resources(Resources.cpus(2)).memoryBudget(1L << 30);
  }

  @Test
  void defaultsAreLoopbackTheSluiceClusterAndHazelcastsProductionTimings() {
    ClusterConfig c = aWorker().build();
    assertThat(c.clusterName()).isEqualTo("sluice");
    assertThat(c.bindAddress()).isEqualTo("127.0.0.1");
    assertThat(c.hostLabel()).isEqualTo("127.0.0.1");
    assertThat(c.port()).isEqualTo(5701);
    assertThat(c.members()).isEmpty();
    assertThat(c.heartbeatInterval()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.maxNoHeartbeat()).isEqualTo(Duration.ofSeconds(60));
    assertThat(c.joinTimeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.mergeInterval()).isEqualTo(Duration.ofSeconds(60));
    assertThat(c.sluiceVersion()).isEqualTo(SluiceVersion.current()).doesNotContain("${");
    assertThat(ClusterConfig.trainer().build().memoryBudget()).isEqualTo(Long.MAX_VALUE);
    assertThat(c.toBuilder().build().toString()).isEqualTo(c.toString());
  }

  @Test
  void aWorkerBecomesADataMemberJoiningOverTcpIpOnItsOwnAddress() {
    Config hz =
        aWorker()
            .clusterName("c1")
            .bindAddress("127.0.0.2")
            .hostLabel("h2")
            .port(0)
            .members("127.0.0.1:5701", "127.0.0.3")
            .transport("127.0.0.2:7000")
            .heartbeatInterval(Duration.ofSeconds(1))
            .maxNoHeartbeat(Duration.ofSeconds(5))
            .joinTimeout(Duration.ofSeconds(2))
            .mergeInterval(Duration.ofSeconds(7))
            .build()
            .toHazelcastConfig();
    assertThat(hz.getClusterName()).isEqualTo("c1");
    assertThat(hz.getProperty("hazelcast.merge.first.run.delay.seconds")).isEqualTo("7");
    assertThat(hz.getProperty("hazelcast.merge.next.run.delay.seconds")).isEqualTo("7");
    assertThat(hz.isLiteMember()).isFalse();
    assertThat(hz.getProperty("hazelcast.phone.home.enabled")).isEqualTo("false");
    assertThat(hz.getProperty("hazelcast.logging.type")).isEqualTo("slf4j");
    assertThat(hz.getProperty("hazelcast.shutdownhook.enabled")).isEqualTo("false");
    assertThat(hz.getProperty("hazelcast.local.localAddress")).isEqualTo("127.0.0.2");
    assertThat(hz.getProperty("hazelcast.socket.bind.any")).isEqualTo("false");
    assertThat(hz.getProperty("hazelcast.heartbeat.interval.seconds")).isEqualTo("1");
    assertThat(hz.getProperty("hazelcast.max.no.heartbeat.seconds")).isEqualTo("5");
    assertThat(hz.getNetworkConfig().getPort()).isZero();
    assertThat(hz.getNetworkConfig().getInterfaces().isEnabled()).isTrue();
    assertThat(hz.getNetworkConfig().getInterfaces().getInterfaces()).containsExactly("127.0.0.2");
    JoinConfig join = hz.getNetworkConfig().getJoin();
    assertThat(join.getMulticastConfig().isEnabled()).isFalse();
    assertThat(join.getAutoDetectionConfig().isEnabled()).isFalse();
    assertThat(join.getTcpIpConfig().isEnabled()).isTrue();
    assertThat(join.getTcpIpConfig().getMembers()).containsExactly("127.0.0.1:5701", "127.0.0.3");
    assertThat(join.getTcpIpConfig().getConnectionTimeoutSeconds()).isEqualTo(2);
    assertThat(hz.getMemberAttributeConfig().getAttributes())
        .containsEntry(MemberInfo.ROLE, "worker")
        .containsEntry(MemberInfo.HOST, "h2")
        .containsEntry(MemberInfo.CPUS, "2.0")
        .containsEntry(MemberInfo.GPUS, "0.0")
        .containsEntry(MemberInfo.MEMORY, Long.toString(1L << 30))
        .containsEntry(MemberInfo.TRANSPORT, "127.0.0.2:7000")
        .containsEntry(MemberInfo.VERSION, SluiceVersion.current())
        .doesNotContainKey(MemberInfo.NAME)
        .doesNotContainKey(MemberInfo.COORDINATOR);
    assertThat(hz.getSerializationConfig().getSerializerConfigs())
        .anySatisfy(
            s -> {
              assertThat(s.getTypeClass()).isEqualTo(MemberInfo.class);
              assertThat(s.getImplementation().getTypeId()).isEqualTo(SluiceTypeIds.MEMBER_INFO);
            });
    var filter = hz.getSerializationConfig().getJavaSerializationFilterConfig();
    assertThat(filter.isDefaultsDisabled()).isTrue();
    assertThat(filter.getWhitelist().getPrefixes()).contains("com.hazelcast.");
    assertThat(filter.getWhitelist().isListed("dev.sluice.cluster.MemberInfo")).isFalse();
  }

  @Test
  void aTrainerIsALiteMemberWithoutBudget() {
    Config hz =
        ClusterConfig.trainer()
            .resources(new Resources(0, 2))
            .memberName("t1")
            .coordinator("t1")
            .build()
            .toHazelcastConfig();
    assertThat(hz.isLiteMember()).isTrue();
    assertThat(hz.getMemberAttributeConfig().getAttributes())
        .containsEntry(MemberInfo.ROLE, "trainer")
        .containsEntry(MemberInfo.GPUS, "2.0")
        .containsEntry(MemberInfo.NAME, "t1")
        .containsEntry(MemberInfo.COORDINATOR, "t1")
        .doesNotContainKey(MemberInfo.MEMORY)
        .doesNotContainKey(MemberInfo.TRANSPORT);
    assertThat(hz.getNetworkConfig().isPortAutoIncrement()).isTrue();
    assertThat(hz.getNetworkConfig().getPortCount()).isEqualTo(100);
  }

  static Stream<Arguments> badConfigurations() {
    return Stream.of(
        bad(b -> b.clusterName(" "), "cluster name must not be empty"),
        bad(b -> b.members("127.0.0.1:99999"), "member address port must be 1..65535"),
        bad(b -> b.members("127.0.0.1:x"), "member address has a bad port 'x'"),
        bad(b -> b.bindAddress("0.0.0.0"), "not the wildcard"),
        bad(b -> b.port(-1), "port must be 0..65535"),
        bad(b -> b.memoryBudget(0), "memory budget must be > 0"),
        bad(b -> b.resources(Resources.NONE), "a worker must offer CPUs or GPUs"),
        bad(b -> b.transport("127.0.0.2"), "transport address must be host:port"),
        bad(b -> b.heartbeatInterval(Duration.ofMillis(500)), "whole number of seconds"),
        bad(
            b -> b.heartbeatInterval(Duration.ofSeconds(5)).maxNoHeartbeat(Duration.ofSeconds(5)),
            "must exceed the heartbeat interval"),
        bad(b -> b.joinTimeout(Duration.ZERO), "join timeout must be a positive"),
        bad(b -> b.mergeInterval(Duration.ZERO), "merge interval must be a positive"),
        bad(b -> b.sluiceVersion(""), "Sluice version must not be empty"));
  }

  private static Arguments bad(UnaryOperator<ClusterConfig.Builder> change, String message) {
    return Arguments.of(change, message);
  }

  @ParameterizedTest
  @MethodSource("badConfigurations")
  void badValuesAreRefusedNamingThem(UnaryOperator<ClusterConfig.Builder> change, String message) {
    assertThatThrownBy(() -> change.apply(aWorker()).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  void aWorkerNeedsABudget() {
    assertThatThrownBy(() -> ClusterConfig.worker().resources(Resources.cpus(1)).build())
        .hasMessageContaining("a worker needs a memory budget");
  }
}
