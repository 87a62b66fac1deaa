package dev.sluice.examples.video;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class VideoPipelineTest {

  private static String run(int expectedExit, String... args) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    int exit = new CommandLine(new VideoPipeline(out)).execute(args);
    String text = bytes.toString(StandardCharsets.UTF_8);
    assertThat(exit).as(text).isEqualTo(expectedExit);
    return text;
  }

  @Test
  void decodedFramesOfTwentyTimesTheBudgetStreamWithinIt(@TempDir Path dir) throws Exception {
    // 7 videos x 1000 frames of 32x32 RGB = 20.5 MiB decoded against a 1 MiB budget.
    String text =
        run(
            0,
            "--work-dir",
            dir.toString(),
            "--generate",
            "7",
            "--frames",
            "1000",
            "--video-size",
            "32x32",
            "--frame-size",
            "32",
            "--budget",
            "1m",
            "--decode-cpus",
            "2",
            "--progress",
            "OFF");
    assertThat(text)
        .contains("Generated 7 videos of 1000 frames")
        .contains("20.5x the 1.0 MiB memory budget")
        .contains(
            "Input -> TaskPoolMap[ReadVideo] -> ActorPoolMap[Annotate] -> ActorPoolMap[Classify] -> Output")
        .contains("Wrote 7000 frames' predictions");
    if (VideoPipeline.gpus() == 0) {
      assertThat(text).contains("no GPU here (ND4J's CPU backend)");
    }
    Matcher peak = Pattern.compile("Peak memory .* \\(([0-9]+)%\\): within budget").matcher(text);
    assertThat(peak.find()).as(text).isTrue();
    assertThat(Integer.parseInt(peak.group(1))).isLessThanOrEqualTo(100);

    // The pools ran at the post's sizes.
    assertThat(text)
        .containsPattern("Operator Annotate: .* actors [0-9]+ started, 5 at most")
        .containsPattern("Operator Classify: .* actors [0-9]+ started, 2 at most");
    // Every frame once, with its annotation and label.
    ObjectMapper json = new ObjectMapper();
    Set<String> frames = new HashSet<>();
    Set<Integer> annotators = new HashSet<>();
    List<Path> parts;
    try (Stream<Path> s = Files.list(dir.resolve("predictions"))) {
      parts = s.filter(p -> p.getFileName().toString().endsWith(".jsonl")).toList();
    }
    for (Path part : parts) {
      for (String line : Files.readAllLines(part)) {
        JsonNode row = json.readTree(line);
        assertThat(row.has("frame")).as("the frame itself is not written").isFalse();
        assertThat(row.get("label").asInt()).isBetween(0, 9);
        assertThat(row.get("confidence").asDouble()).isBetween(0.1, 1.0);
        assertThat(row.get("brightness").asDouble()).isBetween(0.0, 1.0);
        assertThat(row.get("hot_share").asDouble()).isPositive();
        double t = row.get("frame_timestamp").asDouble();
        assertThat(t)
            .isEqualTo(
                row.get("frame_index").asLong() / 25.0,
                org.assertj.core.api.Assertions.within(1e-6));
        annotators.add(row.get("annotator").asInt());
        assertThat(frames.add(row.get("video").asText() + "#" + row.get("frame_index").asLong()))
            .isTrue();
      }
    }
    assertThat(frames).hasSize(7000);
    assertThat(annotators).isNotEmpty();

    // Run again: the videos are reused and the output replaced.
    assertThat(
            run(
                0,
                "--work-dir",
                dir.toString(),
                "--generate",
                "7",
                "--frames",
                "1000",
                "--video-size",
                "32x32",
                "--frame-size",
                "32",
                "--budget",
                "1m",
                "--decode-cpus",
                "2",
                "--max-frames",
                "10",
                "--stride",
                "5",
                "--progress",
                "OFF"))
        .contains("Reusing 7 videos")
        .contains("Wrote 70 frames' predictions");
  }

  @Test
  void aBrokenVideoAmongTheUsersFailsNamingItOrIsSkipped(@TempDir Path dir) throws Exception {
    SyntheticVideos.Videos good =
        SyntheticVideos.ensure(dir.resolve("mine"), new SyntheticVideos.Spec(2, 30, 25, 32, 32));
    Path broken = dir.resolve("mine").resolve("broken.mp4");
    Files.writeString(broken, "no frames in here");
    String[] args = {
      "--videos", good.dir().toString(),
      "--work-dir", dir.toString(),
      "--frame-size", "32",
      "--budget", "4m",
      "--decode-cpus", "1",
      "--progress", "OFF"
    };
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    CommandLine cli =
        new CommandLine(new VideoPipeline(new PrintStream(new ByteArrayOutputStream())));
    cli.setErr(new java.io.PrintWriter(err, true));
    assertThat(cli.execute(args)).isEqualTo(1);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains(broken.toString())
        .contains("not a readable video");

    String[] allowing =
        Stream.concat(Stream.of(args), Stream.of("--bad-records", "1")).toArray(String[]::new);
    assertThat(run(0, allowing)).contains("Wrote 60 frames' predictions");
  }
}
