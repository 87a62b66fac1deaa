package dev.sluice.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The launcher's command line, in this JVM (nothing here starts a member). */
class WorkerMainTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    return new CommandLine(new WorkerMain())
        .setOut(new PrintWriter(out, true))
        .setErr(new PrintWriter(err, true))
        .execute(args);
  }

  @Test
  void helpListsEveryOption() {
    assertThat(run("--help")).isZero();
    assertThat(out.toString())
        .startsWith("Usage: sluice-worker")
        .contains(
            "--cluster-name",
            "--members",
            "--bind",
            "--port",
            "--cpus",
            "--gpus",
            "--memory",
            "--host",
            "--data-port",
            "--classpath",
            "--heartbeat-interval",
            "--max-no-heartbeat",
            "--join-timeout")
        .contains("Default: sluice")
        .contains("Default: 5701");
    assertThat(err.toString()).isEmpty();
  }

  @Test
  void versionIsSluices() {
    assertThat(run("--version")).isZero();
    assertThat(out.toString().trim()).isEqualTo("sluice-worker " + SluiceVersion.current());
  }

  @Test
  void anUnknownOptionIsNamedWithTheUsage() {
    assertThat(run("--bogus")).isEqualTo(2);
    assertThat(err.toString())
        .contains("Unknown option: '--bogus'")
        .contains("Usage: sluice-worker");
  }

  @Test
  void aMistypedOptionGetsASuggestion() {
    assertThat(run("--cpu", "2")).isEqualTo(2);
    assertThat(err.toString()).contains("Unknown options: '--cpu', '2'").contains("--cpus");
  }

  @Test
  void aBadMemorySizeIsExplained() {
    assertThat(run("--memory", "2x")).isEqualTo(2);
    assertThat(err.toString()).contains("'2x' is not a size").contains("512m, 2g");
  }

  @Test
  void aBadValueFoundByTheConfigurationIsAnArgumentError() {
    assertThat(run("--members", "127.0.0.1:70000")).isEqualTo(2);
    assertThat(err.toString()).contains("member address port must be 1..65535: '127.0.0.1:70000'");
    assertThat(run("--bind", "0.0.0.0")).isEqualTo(2);
    assertThat(err.toString()).contains("not the wildcard 0.0.0.0");
  }

  @Test
  void aMissingOrBrokenJarIsRefusedBeforeJoining(@TempDir Path dir) throws Exception {
    assertThat(run("--classpath", dir.resolve("missing.jar").toString())).isEqualTo(2);
    assertThat(err.toString()).contains("no such jar or directory: " + dir.resolve("missing.jar"));
    Path notAJar = Files.writeString(dir.resolve("broken.jar"), "not a zip");
    assertThat(run("--classpath", notAJar.toString())).isEqualTo(2);
    assertThat(err.toString()).contains("not a readable jar: " + notAJar);
  }

  @Test
  void sizesTakeBinaryUnits() {
    WorkerMain.ByteSize size = new WorkerMain.ByteSize();
    assertThat(size.convert("1024")).isEqualTo(1024L);
    assertThat(size.convert("512m")).isEqualTo(512L << 20);
    assertThat(size.convert("2g")).isEqualTo(2L << 30);
    assertThat(size.convert("2G")).isEqualTo(2L << 30);
    assertThat(size.convert("1.5GiB")).isEqualTo(3L << 29);
    assertThat(size.convert("64k")).isEqualTo(64L << 10);
    assertThat(size.convert("64KB")).isEqualTo(64L << 10);
    assertThatThrownBy(() -> size.convert("0")).hasMessageContaining("out of range");
    assertThatThrownBy(() -> size.convert("g")).hasMessageContaining("not a size");
  }
}
