package dev.sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Writes a benchmark's results as indented JSON, atomically (a reader never sees half a file).
 * Every result object gets a {@code "source"} entry: the command line's arguments, the git commit
 * the code was built from, and whether tracked files other than the results differed from it (so
 * that a figure can be traced to the code that made it).
 */
final class ResultFile {
  private static final ObjectMapper JSON =
      new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static volatile List<String> arguments = List.of();

  private ResultFile() {}

  /** The arguments of the command line being run, recorded in the files it writes. */
  static void arguments(String... args) {
    arguments = List.of(args);
  }

  /** Writes {@code results} (records, maps, lists, numbers, strings) to {@code file}. */
  static void write(Path file, Object results) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    JsonNode tree = JSON.valueToTree(results);
    if (tree instanceof ObjectNode o) {
      ObjectNode source = JSON.createObjectNode();
      source.put("arguments", String.join(" ", arguments));
      String commit = git("rev-parse", "HEAD");
      source.put("commit", commit.isEmpty() ? "unknown" : commit);
      if (!commit.isEmpty()) {
        // Tracked files changed since the commit, the results themselves not counted.
        String changed =
            git(
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ":/",
                ":(exclude,top)benchmarks/results");
        source.put("uncommittedChanges", !changed.isEmpty());
      }
      o.set("source", source);
    }
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    JSON.writeValue(tmp.toFile(), tree);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /** What {@code git args} prints in the working directory, trimmed; empty if it fails. */
  private static String git(String... args) {
    List<String> command = new java.util.ArrayList<>(List.of("git"));
    command.addAll(List.of(args));
    try {
      Process p =
          new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String out;
      try (InputStream in = p.getInputStream()) {
        out = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
      }
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return "";
      }
      return p.exitValue() == 0 ? out : "";
    } catch (IOException e) {
      return "";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "";
    }
  }
}
