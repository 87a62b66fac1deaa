package dev.sluice.loader.sink;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchBuilder;
import dev.sluice.loader.Columns;
import dev.sluice.loader.ElementType;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonLinesSinkTest {
  private static final Schema SCHEMA =
      new Schema(
          List.of(
              Columns.utf8("name"),
              Columns.int32("i"),
              Columns.int64("l"),
              Columns.float32("f"),
              Columns.float64("d"),
              Columns.binary("bin"),
              Columns.tensor("pixels", ElementType.UINT8, 2, 3),
              Columns.tensor("vec", ElementType.FLOAT32, 2)));

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private static Batch batch(BufferAllocator allocator, int from, int rows) {
    try (BatchBuilder b = BatchBuilder.create(allocator, SCHEMA, rows, 64, List.of())) {
      ArrowBuf pixels = b.tensorData("pixels");
      ArrowBuf vec = b.tensorData("vec");
      for (int r = 0; r < rows; r++) {
        int id = from + r;
        if (id == 1) {
          b.setNull("name", r).setNull("i", r).setNull("bin", r);
        } else {
          b.setString("name", r, "é-" + id + "\"\n")
              .setLong("i", r, -id)
              .setBytes("bin", r, new byte[] {(byte) id, (byte) 0xff, 0});
        }
        b.setLong("l", r, 10_000_000_000L + id)
            .setDouble("f", r, id + 0.25)
            .setDouble("d", r, id / 3.0);
        for (int k = 0; k < 6; k++) {
          pixels.setByte((long) r * 6 + k, 250 + k - id);
        }
        vec.setFloat((long) r * 8, id);
        vec.setFloat((long) r * 8 + 4, -0.5f * id);
      }
      return b.build(rows);
    }
  }

  @Test
  void rowsParseBackWithTheirValues() throws IOException {
    Path out = dir.resolve("json");
    JsonLinesSink sink = new JsonLinesSink(out);
    try (BufferAllocator allocator = new RootAllocator();
        Batch a = batch(allocator, 0, 2);
        Batch b = batch(allocator, 2, 1)) {
      sink.write(a);
      sink.write(b);
    } finally {
      sink.close();
    }
    assertThat(sink.files()).containsExactly(out.resolve("part-00000.jsonl"));
    assertThat(sink.rowsWritten()).isEqualTo(3);
    List<String> lines =
        Files.readAllLines(out.resolve("part-00000.jsonl"), StandardCharsets.UTF_8);
    assertThat(lines).hasSize(3);
    assertThat(Files.readString(out.resolve("part-00000.jsonl"))).endsWith("}\n");

    JsonNode row0 = JSON.readTree(lines.get(0));
    assertThat(row0.fieldNames())
        .toIterable()
        .containsExactly("name", "i", "l", "f", "d", "bin", "pixels", "vec");
    assertThat(row0.get("name").asText()).isEqualTo("é-0\"\n");
    assertThat(row0.get("i").isInt()).isTrue();
    assertThat(row0.get("l").asLong()).isEqualTo(10_000_000_000L);
    assertThat(row0.get("f").asDouble()).isEqualTo(0.25);
    assertThat(row0.get("bin").asText())
        .isEqualTo(Base64.getEncoder().encodeToString(new byte[] {0, (byte) 0xff, 0}));
    assertThat(row0.get("pixels").toString()).isEqualTo("[[250,251,252],[253,254,255]]");
    assertThat(row0.get("vec").toString()).isEqualTo("[0.0,-0.0]");

    JsonNode row1 = JSON.readTree(lines.get(1));
    assertThat(row1.get("name").isNull()).isTrue();
    assertThat(row1.get("i").isNull()).isTrue();
    assertThat(row1.get("bin").isNull()).isTrue();
    assertThat(row1.get("d").asDouble()).isEqualTo(1 / 3.0);
    assertThat(row1.get("pixels").get(1).get(2).asInt()).isEqualTo(254);

    JsonNode row2 = JSON.readTree(lines.get(2));
    assertThat(row2.get("i").asInt()).isEqualTo(-2);
    assertThat(row2.get("vec").get(1).asDouble()).isEqualTo(-1.0);
  }

  @Test
  void filesRollAfterMaxRows() throws IOException {
    Path out = dir.resolve("json");
    JsonLinesSink sink = new JsonLinesSink(out, 4);
    try (BufferAllocator allocator = new RootAllocator()) {
      int id = 0;
      for (int rows : new int[] {3, 1, 2, 5}) {
        try (Batch b = batch(allocator, id, rows)) {
          sink.write(b);
        }
        id += rows;
      }
    } finally {
      sink.close();
    }
    List<Integer> lines = new ArrayList<>();
    for (Path f : sink.files()) {
      lines.add(Files.readAllLines(f).size());
    }
    assertThat(lines).containsExactly(4, 2, 5);
  }
}
