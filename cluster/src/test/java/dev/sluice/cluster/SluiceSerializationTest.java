package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hazelcast.config.SerializationConfig;
import com.hazelcast.core.HazelcastException;
import com.hazelcast.internal.serialization.Data;
import com.hazelcast.internal.serialization.SerializationService;
import com.hazelcast.internal.serialization.impl.DefaultSerializationServiceBuilder;
import com.hazelcast.internal.serialization.impl.HeapData;
import dev.sluice.cluster.internal.MemberInfoSerializer;
import dev.sluice.cluster.internal.SluiceSerialization;
import dev.sluice.cluster.internal.SluiceTypeIds;
import dev.sluice.loader.runtime.Resources;
import java.io.Serializable;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** Sluice's serialization configuration, through a Hazelcast serialization service alone. */
class SluiceSerializationTest {
  private static final MemberInfo INFO =
      new MemberInfo(
          UUID.randomUUID(),
          "127.0.0.2:5701",
          Role.WORKER,
          "h2",
          new Resources(2, 0.5),
          512L << 20,
          "1.2.3",
          "127.0.0.2:7000",
          null);

  private static SerializationService service() {
    SerializationConfig config = new SerializationConfig();
    SluiceSerialization.configure(config);
    return new DefaultSerializationServiceBuilder().setConfig(config).build();
  }

  @Test
  void memberInfoRoundTripsThroughItsVersionedSerializer() {
    SerializationService s = service();
    Data data = s.toData(INFO);
    assertThat(data.getType()).isEqualTo(SluiceTypeIds.MEMBER_INFO);
    assertThat(data.toByteArray()[HeapData.DATA_OFFSET])
        .as("the format version leads")
        .isEqualTo((byte) MemberInfoSerializer.VERSION);
    MemberInfo back = s.toObject(data);
    assertThat(back).isEqualTo(INFO);
  }

  @Test
  void aFormatFromTheFutureIsRefusedNamingBothVersions() {
    SerializationService s = service();
    byte[] bytes = s.toData(INFO).toByteArray();
    bytes[HeapData.DATA_OFFSET] = (byte) (MemberInfoSerializer.VERSION + 1);
    assertThatThrownBy(() -> s.toObject(new HeapData(bytes)))
        .isInstanceOf(HazelcastException.class)
        .hasStackTraceContaining("cannot read MemberInfo written in format 2")
        .hasStackTraceContaining("reads formats 1 to 1");
  }

  @Test
  void javaSerializationIsRefusedOutsideTheAllowList() {
    SerializationService s = service();
    Data data = s.toData(new Outside("x"));
    assertThatThrownBy(() -> s.toObject(data))
        .hasStackTraceContaining("Resolving class " + Outside.class.getName() + " is not allowed");
  }

  @Test
  void exceptionsHazelcastSendsStillTravel() {
    SerializationService s = service();
    Exception e =
        new ExecutionException(new HazelcastException("remote", new IllegalStateException("why")));
    e.addSuppressed(new java.io.IOException("also"));
    Exception back = s.toObject(s.toData(e));
    assertThat(back).isInstanceOf(ExecutionException.class);
    assertThat(back.getCause()).isInstanceOf(HazelcastException.class).hasMessage("remote");
    assertThat(back.getCause().getCause()).hasMessage("why");
    assertThat(back.getSuppressed()).hasSize(1);
    assertThat(back.getStackTrace()).isNotEmpty();
  }

  /** A value only Java serialization can carry, of a class outside the allow-list. */
  record Outside(String value) implements Serializable {}
}
