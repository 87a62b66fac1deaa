package dev.sluice.cluster.wire;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.PipelineRef;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.runtime.BlockLostException;
import dev.sluice.loader.runtime.BlockRef;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.runtime.RemoteExecution;
import dev.sluice.loader.runtime.Resources;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ExecutionCodecTest {

  @Test
  void executionsRoundTripLongParametersIncluded() throws IOException {
    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withMemoryBudget(123L << 20)
            .withBadRecordAllowance(7)
            .withTargetBlockRows(99)
            .withResources(new Resources(3.5, 1))
            .withMode(ExecutionOptions.Mode.BULK);
    String longPath = "x".repeat(100_000); // beyond writeUTF's 64 KiB
    RemoteExecution ex =
        new RemoteExecution(
            "t1/x7",
            new PipelineRef(
                "com.example.Train",
                Map.of("shards", longPath, "rows", "5"),
                List.of("shuffleFiles:42", "randomizeBlockOrder:-7")),
            3,
            options,
            List.of("Read ReadRange", "ActorPool Model factory=a.B pool=ActorPool[...]"),
            "12 splits, 0123456789abcdef");
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(b)) {
      ExecutionCodec.writeExecution(out, ex);
    }
    RemoteExecution back =
        ExecutionCodec.readExecution(
            new DataInputStream(new ByteArrayInputStream(b.toByteArray())));
    assertThat(back.id()).isEqualTo(ex.id());
    assertThat(back.definition()).isEqualTo(ex.definition());
    assertThat(back.epoch()).isEqualTo(3);
    assertThat(back.fingerprint()).isEqualTo(ex.fingerprint());
    assertThat(back.splits()).isEqualTo("12 splits, 0123456789abcdef");
    // Every option but the progress display (a worker draws none) crosses.
    assertThat(back.options())
        .isEqualTo(options.withProgress(ExecutionOptions.Progress.OFF).withOperatorProgress(false));
  }

  @Test
  void aSluiceErrorIsRaisedAgainWithItsPlace() {
    byte[] reply =
        ExecutionCodec.failed(
            new java.util.concurrent.CompletionException(
                new SluiceException(
                    "truncated PNG",
                    "ReadFolder->Decode",
                    "/data/cat/1.png",
                    "cat/1.png",
                    new IllegalStateException("inside chunk IDAT"))));
    assertThatThrownBy(() -> ExecutionCodec.read(reply, in -> null, "worker w2"))
        .isInstanceOfSatisfying(
            SluiceException.class,
            e -> {
              assertThat(e.reason()).isEqualTo("truncated PNG");
              assertThat(e.operator()).isEqualTo("ReadFolder->Decode");
              assertThat(e.source()).isEqualTo("/data/cat/1.png");
              assertThat(e.entry()).isEqualTo("cat/1.png");
              assertThat(e.getCause())
                  .hasMessage("worker w2: java.lang.IllegalStateException: inside chunk IDAT");
            });
  }

  @Test
  void aLostBlockIsRaisedAgainWithItsReference() {
    BlockRef ref =
        new BlockRef(5, "w1", new Lineage.Read(0, "Read", 2, 1, 3, 0, 9), 9, 90, List.of("h1"));
    byte[] reply = ExecutionCodec.failed(new BlockLostException(ref, true));
    assertThatThrownBy(() -> ExecutionCodec.read(reply, in -> null, "worker w2"))
        .isInstanceOfSatisfying(
            BlockLostException.class,
            e -> {
              assertThat(e.ref()).isEqualTo(ref);
              assertThat(e.getMessage()).contains("lost with node w1");
            });
  }

  @Test
  void anyOtherErrorIsNamedByClassAndMessage() throws IOException {
    byte[] reply = ExecutionCodec.failed(new OutOfMemoryError("Java heap space"));
    assertThatThrownBy(() -> ExecutionCodec.read(reply, in -> null, "worker w3"))
        .isInstanceOf(SluiceException.class)
        .hasMessageContaining("failed on worker w3: java.lang.OutOfMemoryError: Java heap space");
    byte[] ok = ExecutionCodec.ok(out -> out.writeLong(42));
    assertThat(ExecutionCodec.read(ok, java.io.DataInput::readLong, "w")).isEqualTo(42L);
  }
}
