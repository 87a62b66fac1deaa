package dev.sluice.cluster;

import dev.sluice.cluster.exec.ClusterTrainer;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.sharding.ConsumerPosition;
import dev.sluice.sharding.ShareAssignment;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

/**
 * A trainer of {@link TrainerResumeIT} in a process of its own, so that the test can kill it: it
 * joins the cluster ({@code args}: cluster name, bind address, a member to join, the state file,
 * the rows after which it stops taking (0: never), and optionally a saved state to resume from),
 * reads its share ({@link TestPipelines.Share}) and after every batch saves, atomically, the ids it
 * took and its position ({@code ShareAssignment.positionAfter}): its checkpoint. Resumed, it saves
 * only the ids it takes after the position.
 */
public final class ShareTrainerProcess {
  static final String PAUSED = "share trainer paused";
  static final String DONE = "share trainer done";

  private ShareTrainerProcess() {}

  public static void main(String[] args) throws Exception {
    Path state = Path.of(args[3]);
    long pauseAt = Long.parseLong(args[4]);
    Map<String, String> p = new HashMap<>(TrainerResumeIT.PARAMETERS);
    long before = 0;
    if (args.length > 5) {
      State saved = State.read(Path.of(args[5]));
      p.put("position", Base64.getEncoder().encodeToString(saved.position()));
      before = saved.delivered();
    }
    ShareAssignment assignment = TestPipelines.Share.assignment(p);
    int rank = Integer.parseInt(p.get("rank"));
    ConsumerPosition.Serializer serializer = new ConsumerPosition.Serializer();
    ClusterTrainer trainer =
        ClusterTrainer.start(TestMembers.trainerOf(args[0], args[1], List.of(args[2])).build());
    trainer.awaitWorkers(2, Duration.ofSeconds(30));
    Sluice sluice =
        Sluice.builder()
            .runtime(trainer.runtime())
            .options(
                ExecutionOptions.defaults()
                    .withMemoryBudget(TrainerResumeIT.BUDGET)
                    .withTargetBlockRows(64)
                    .withProgress(ExecutionOptions.Progress.OFF))
            .build();
    List<Long> ids = new ArrayList<>();
    long delivered = before;
    try (BatchIterator it = sluice.pipeline(TestPipelines.Share.class, p).iterBatches()) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          for (int i = 0; i < b.rowCount(); i++) {
            ids.add(b.getLong("id", i));
          }
          delivered += b.rowCount();
        }
        new State(delivered, serializer.serialize(assignment.positionAfter(rank, delivered)), ids)
            .write(state);
        if (pauseAt > 0 && delivered >= pauseAt) {
          System.out.println(PAUSED + " after " + delivered + " rows");
          new CountDownLatch(1).await(); // until killed
        }
      }
    }
    System.out.println(DONE + " after " + delivered + " rows");
    sluice.close();
    trainer.close();
  }

  /** A checkpoint: rows of the share delivered, the position after them, the ids taken. */
  record State(long delivered, byte[] position, List<Long> ids) {
    void write(Path file) throws IOException {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (DataOutputStream out = new DataOutputStream(bytes)) {
        out.writeLong(delivered);
        out.writeInt(position.length);
        out.write(position);
        out.writeInt(ids.size());
        for (long id : ids) {
          out.writeLong(id);
        }
      }
      Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
      Files.write(tmp, bytes.toByteArray());
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static State read(Path file) throws IOException {
      try (DataInputStream in = new DataInputStream(Files.newInputStream(file))) {
        long delivered = in.readLong();
        byte[] position = in.readNBytes(in.readInt());
        int n = in.readInt();
        List<Long> ids = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          ids.add(in.readLong());
        }
        return new State(delivered, position, ids);
      }
    }
  }
}
