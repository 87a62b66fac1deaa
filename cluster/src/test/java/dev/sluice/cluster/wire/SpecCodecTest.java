package dev.sluice.cluster.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.runtime.TaskOutcome;
import dev.sluice.loader.runtime.TaskSpec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class SpecCodecTest {

  @FunctionalInterface
  interface Writer<T> {
    void write(DataOutputStream out, T value) throws IOException;
  }

  @FunctionalInterface
  interface Reader<T> {
    T read(DataInputStream in) throws IOException;
  }

  private static <T> byte[] bytes(Writer<T> w, T value) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(b)) {
      w.write(out, value);
    }
    return b.toByteArray();
  }

  private static <T> T read(Reader<T> r, byte[] bytes) throws IOException {
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
    T value = r.read(in);
    assertThat(in.read()).as("bytes left after the value").isEqualTo(-1);
    return value;
  }

  @Property(tries = 300)
  void specsRoundTrip(@ForAll("specs") TaskSpec spec) throws IOException {
    assertThat(read(SpecCodec::readSpec, bytes(SpecCodec::writeSpec, spec))).isEqualTo(spec);
  }

  @Property(tries = 300)
  void outcomesRoundTrip(@ForAll("outcomes") TaskOutcome outcome) throws IOException {
    assertThat(read(SpecCodec::readOutcome, bytes(SpecCodec::writeOutcome, outcome)))
        .isEqualTo(outcome);
  }

  @Property(tries = 200)
  void refsRoundTripAndTruncationFailsCleanly(@ForAll("refs") BlockRef ref) throws IOException {
    byte[] b = bytes(SpecCodec::writeRef, ref);
    assertThat(read(SpecCodec::readRef, b)).isEqualTo(ref);
    // Any cut of the bytes is an I/O error, never a wrong value or another exception.
    for (int cut = 0; cut < b.length; cut += Math.max(1, b.length / 16)) {
      byte[] part = Arrays.copyOf(b, cut);
      assertThatThrownBy(() -> read(SpecCodec::readRef, part)).isInstanceOf(IOException.class);
    }
  }

  @Test
  void anotherVersionIsRefusedNamingBoth() throws IOException {
    byte[] b = bytes(SpecCodec::writeSpec, new TaskSpec.ReadBlock(0, 3, 0, 0, 0, -1));
    b[0] = (byte) (SpecCodec.VERSION + 1);
    assertThatThrownBy(() -> read(SpecCodec::readSpec, b))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("wire format " + (SpecCodec.VERSION + 1))
        .hasMessageContaining("reads format " + SpecCodec.VERSION)
        .hasMessageContaining("different Sluice versions");
  }

  @Test
  void aLengthFromTheWireIsNotTrusted() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(b)) {
      out.writeByte(SpecCodec.VERSION);
      out.writeByte(2); // a map bundle
      out.writeInt(1); // operator
      out.writeInt(Integer.MAX_VALUE); // inputs
    }
    assertThatThrownBy(() -> read(SpecCodec::readSpec, b.toByteArray()))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("bad length of task inputs");
  }

  @Test
  void aSliceOutsideItsBlockIsMalformed() throws IOException {
    Lineage read = new Lineage.Read(0, "Read", 1, 0, 0, 0, 10);
    BlockRef ref = new BlockRef(7, "n1", read, 10, 100, List.of());
    byte[] b =
        bytes(
            SpecCodec::writeSpec,
            new TaskSpec.MapBundle(1, List.of(new TaskSpec.Input(ref, 2, 5))));
    // The input's "to" is the last int before the end: make it run past the block's rows.
    b[b.length - 1] = 99;
    assertThatThrownBy(() -> read(SpecCodec::readSpec, b))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("malformed task spec");
  }

  @Test
  void anEmptyStreamIsAnEndOfFile() {
    assertThatThrownBy(() -> read(SpecCodec::readOutcome, new byte[0]))
        .isInstanceOf(EOFException.class);
  }

  // ---- generators

  @Provide
  Arbitrary<TaskSpec> specs() {
    return Arbitraries.oneOf(readBlocks(), mapBundles(), remakes());
  }

  @Provide
  Arbitrary<BlockRef> refs() {
    return Combinators.combine(
            Arbitraries.longs().greaterOrEqual(0),
            Arbitraries.strings().alpha().numeric().ofMinLength(1).ofMaxLength(36),
            lineages(3),
            Arbitraries.integers().between(0, 1 << 20),
            Arbitraries.longs().between(0, 1L << 40),
            hosts())
        .as(BlockRef::new);
  }

  @Provide
  Arbitrary<TaskOutcome> outcomes() {
    return Combinators.combine(
            refs().injectNull(0.2),
            Arbitraries.longs().between(0, 1L << 40),
            Arbitraries.longs().between(0, 1L << 40),
            Arbitraries.longs().between(0, 1L << 40),
            Arbitraries.longs().between(0, 1L << 40),
            Arbitraries.longs().between(0, 1L << 40),
            Arbitraries.of(true, false))
        .as(TaskOutcome::new);
  }

  private Arbitrary<TaskSpec> readBlocks() {
    return Combinators.combine(
            Arbitraries.integers().between(0, 50),
            Arbitraries.integers().between(0, 100_000),
            Arbitraries.integers().between(0, 20),
            Arbitraries.longs().between(0, 1L << 32),
            Arbitraries.longs().between(0, 1L << 40),
            Arbitraries.of(-1.0, 0.0, 0.5, 150_528.0, 1e9))
        .as(TaskSpec.ReadBlock::new);
  }

  private Arbitrary<TaskSpec> mapBundles() {
    Arbitrary<TaskSpec.Input> input =
        refs()
            .flatMap(
                ref ->
                    Arbitraries.integers()
                        .between(0, ref.rows())
                        .flatMap(
                            from ->
                                Arbitraries.integers()
                                    .between(from, ref.rows())
                                    .map(to -> new TaskSpec.Input(ref, from, to))));
    return Combinators.combine(
            Arbitraries.integers().between(0, 50), input.list().ofMinSize(1).ofMaxSize(4))
        .as(TaskSpec.MapBundle::new);
  }

  private Arbitrary<TaskSpec> remakes() {
    return Combinators.combine(Arbitraries.integers().between(0, 50), lineages(3), hosts())
        .as(TaskSpec.Remake::new);
  }

  private static Arbitrary<List<String>> hosts() {
    return Arbitraries.of("h1", "h2", "127.0.0.3", "rack-7.example.org", "ünïcode")
        .list()
        .ofMaxSize(3);
  }

  private static Arbitrary<Lineage> lineages(int depth) {
    Arbitrary<Lineage> read =
        Combinators.combine(
                Arbitraries.integers().between(0, 50),
                Arbitraries.of("Read", "ReadWebDataset->ImageDecoder", "Read[x]→y"),
                Arbitraries.integers().between(0, 100_000),
                Arbitraries.integers().between(0, 20),
                Arbitraries.longs().between(0, 1 << 20),
                Arbitraries.longs().between(0, 1L << 40),
                Arbitraries.longs().between(0, 1L << 20))
            .as(
                (op, chain, split, attempt, seq, from, len) ->
                    new Lineage.Read(op, chain, split, attempt, seq, from, from + len));
    if (depth == 0) {
      return read;
    }
    Arbitrary<Lineage.Slice> slice =
        Combinators.combine(
                lineages(depth - 1),
                Arbitraries.integers().between(0, 1000),
                Arbitraries.integers().between(0, 1000),
                Arbitraries.integers().between(0, 1000))
            .as(
                (block, a, b, c) -> {
                  int[] s = {a, b, c};
                  Arrays.sort(s);
                  return new Lineage.Slice(block, s[0], s[1], s[2]);
                });
    Arbitrary<Lineage> derived =
        Combinators.combine(
                Arbitraries.integers().between(0, 50),
                Arbitraries.of("Augment", "Map[decode]"),
                slice.list().ofMinSize(1).ofMaxSize(3))
            .as(
                (op, chain, slices) ->
                    (Lineage) new Lineage.Derived(op, chain, new ArrayList<>(slices)));
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(2, read), net.jqwik.api.Tuple.of(1, derived));
  }
}
