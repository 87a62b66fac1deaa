package dev.sluice.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class ConsumerPositionTest {
  private final ConsumerPosition.Serializer serializer = new ConsumerPosition.Serializer();

  @Property(tries = 200)
  void roundTrips(
      @ForAll long seed,
      @ForAll @IntRange(max = Integer.MAX_VALUE) int epoch,
      @ForAll @IntRange(min = 1, max = 4096) int consumers,
      @ForAll @IntRange(max = 4095) int rank,
      @ForAll @Size(max = 50) Set<@IntRange(max = 200) Integer> completed,
      @ForAll @LongRange(max = Long.MAX_VALUE) long offset) {
    var position =
        new ConsumerPosition(
            ConsumerPosition.CURRENT_FORMAT,
            seed,
            epoch,
            rank % consumers,
            consumers,
            List.copyOf(new TreeSet<>(completed)),
            offset);
    byte[] bytes = serializer.serialize(position);
    assertThat(serializer.deserialize(bytes)).isEqualTo(position);
    assertThat(ByteBuffer.wrap(bytes).getInt()).isEqualTo(serializer.version());
  }

  @Test
  void versionOneLayoutIsPinned() {
    var position = new ConsumerPosition(1, 0x0102030405060708L, 9, 2, 4, List.of(0, 1, 2, 5), 300);
    ByteBuffer expected =
        ByteBuffer.allocate(4 + 8 + 4 + 4 + 4 + 4 + 2 * 8 + 8)
            .putInt(1)
            .putLong(0x0102030405060708L)
            .putInt(9)
            .putInt(2)
            .putInt(4)
            .putInt(2)
            .putInt(0)
            .putInt(3)
            .putInt(5)
            .putInt(6)
            .putLong(300);
    assertThat(serializer.serialize(position)).isEqualTo(expected.array());
  }

  @Test
  void deterministicPositionsStaySmallHoweverManySegmentsAreDone() {
    var completed = java.util.stream.IntStream.range(0, 100_000).boxed().toList();
    var position = new ConsumerPosition(1, 1, 1, 0, 1, completed, 0);
    assertThat(serializer.serialize(position)).hasSize(44);
  }

  @Test
  void unknownVersionsFailClearly() {
    byte[] bytes = serializer.serialize(ConsumerPosition.startOfEpoch(1, 2, 0, 1));
    ByteBuffer.wrap(bytes).putInt(2);
    assertThatThrownBy(() -> serializer.deserialize(bytes))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("format version 2")
        .hasMessageContaining("reads 1");
  }

  @Test
  void truncatedOrPaddedBytesFail() {
    byte[] bytes = serializer.serialize(new ConsumerPosition(1, 1, 1, 0, 1, List.of(3), 7));
    assertThatThrownBy(
            () -> serializer.deserialize(java.util.Arrays.copyOf(bytes, bytes.length - 1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("truncated");
    assertThatThrownBy(
            () -> serializer.deserialize(java.util.Arrays.copyOf(bytes, bytes.length + 1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("after the last field");
    assertThatThrownBy(() -> serializer.deserialize(new byte[0]))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void corruptRunsFail() {
    ByteBuffer bytes =
        ByteBuffer.allocate(4 + 8 + 4 + 4 + 4 + 4 + 8 + 8)
            .putInt(1)
            .putLong(1)
            .putInt(0)
            .putInt(0)
            .putInt(1)
            .putInt(1)
            .putInt(0)
            .putInt(Integer.MAX_VALUE)
            .putLong(0);
    assertThatThrownBy(() -> serializer.deserialize(bytes.array()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("corrupt");
  }

  @Test
  void validatesItsFields() {
    assertThatThrownBy(() -> new ConsumerPosition(2, 1, 0, 0, 1, List.of(), 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("format version 2");
    assertThatThrownBy(() -> new ConsumerPosition(1, 1, 0, 3, 3, List.of(), 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ConsumerPosition(1, 1, 0, 0, 1, List.of(2, 1), 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new ConsumerPosition(1, 1, 0, 0, 1, List.of(), -1))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void currentSegmentIsTheFirstNotCompleted() {
    assertThat(new ConsumerPosition(1, 1, 0, 0, 1, List.of(0, 1, 3), 5).currentSegment())
        .isEqualTo(2);
    assertThat(new ConsumerPosition(1, 1, 0, 0, 1, List.of(0, 1, 3), 5).completedIsPrefix())
        .isFalse();
    assertThat(new ConsumerPosition(1, 1, 0, 0, 1, List.of(0, 1), 5).currentSegment()).isEqualTo(2);
    assertThat(new ConsumerPosition(1, 1, 0, 0, 1, List.of(0, 1), 5).completedIsPrefix()).isTrue();
  }
}
