package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.ImageFolderSource;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A folder sorted by class, as DL4J users lay out images: read with its files shuffled, every batch
 * mixes the classes as the folder does, another way each epoch, and the same way for the same
 * (seed, epoch) whatever the threads do.
 */
class FileShuffleTest {
  private static final int CLASSES = 10;
  private static final int PER_CLASS = 100;
  private static final int BATCH = 50;

  @TempDir Path root;

  /** Keeps the JIT from dropping the busy work of the test's map. */
  static volatile long sink;

  @BeforeEach
  void classSortedFolder() throws IOException {
    for (int c = 0; c < CLASSES; c++) {
      Path dir = Files.createDirectories(root.resolve(String.format(Locale.ROOT, "class-%02d", c)));
      for (int i = 0; i < PER_CLASS; i++) {
        Files.write(
            dir.resolve(String.format(Locale.ROOT, "img-%04d.png", i)),
            new byte[] {(byte) c, (byte) i});
      }
    }
  }

  private static Sluice sluice(int cpus, boolean ordered) {
    return Sluice.builder()
        .resources(Resources.cpus(cpus))
        .options(ExecutionOptions.defaults().withTargetBlockRows(16).withPreserveOrder(ordered))
        .build();
  }

  /** The labels of every row of one epoch, batch by batch. */
  private static List<int[]> labels(Dataset ds, IterOptions options) {
    List<int[]> out = new ArrayList<>();
    try (BatchIterator it = ds.iterBatches(options)) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          int[] l = new int[b.rowCount()];
          for (int r = 0; r < l.length; r++) {
            l[r] = b.getInt(ImageFolderSource.LABEL_COLUMN, r);
          }
          out.add(l);
        }
      }
    }
    return out;
  }

  /** The largest count of one class among the first {@code batches} batches. */
  private static int largestClassCount(List<int[]> batches, int batches2) {
    int[] counts = new int[CLASSES];
    for (int[] b : batches.subList(0, batches2)) {
      for (int l : b) {
        counts[l]++;
      }
    }
    return Arrays.stream(counts).max().orElseThrow();
  }

  @Test
  void shuffledFilesMixTheClassesOfAFolderSortedByClassAndReshuffleEachEpoch() throws IOException {
    try (Sluice s = sluice(2, false)) {
      ImageFolderSource folder = ImageFolderSource.of(root.toString());
      IterOptions batches = IterOptions.batches(BATCH);

      // Without shuffling the first two batches hold 100 rows of the first class or two.
      List<int[]> sorted =
          labels(s.read(folder).withOptions(s.defaultOptions().withPreserveOrder(true)), batches);
      assertThat(largestClassCount(sorted, 2)).isGreaterThanOrEqualTo(50);

      // Shuffled: 100 rows drawn without replacement from 1,000 (100 per class) hold 10 of each
      // class on average (sd 2.8); 30 or more of one class has a probability below 1e-9.
      Dataset shuffled = s.read(folder).shuffleFiles(7);
      List<int[]> epoch0 = labels(shuffled, batches);
      List<int[]> epoch1 = labels(shuffled.forEpoch(1), batches);
      assertThat(largestClassCount(epoch0, 2)).isLessThan(30);
      assertThat(largestClassCount(epoch1, 2)).isLessThan(30);
      assertThat(epoch0.stream().mapToInt(b -> b.length).sum()).isEqualTo(CLASSES * PER_CLASS);
      // Every batch, not just the first: no batch of 50 holds more than 25 of one class.
      for (List<int[]> epoch : List.of(epoch0, epoch1)) {
        for (int i = 0; i < epoch.size(); i++) {
          assertThat(largestClassCount(epoch.subList(i, i + 1), 1))
              .as("batch %d", i)
              .isLessThanOrEqualTo(25);
        }
      }
    }
  }

  @Test
  void splitsAreCutByFilesAndTheirFilesChangeWithTheEpoch() throws IOException {
    ImageFolderSource folder = ImageFolderSource.builder(root).targetSplitFiles(64).build();
    List<SourceSplit> plain = folder.planSplits();
    assertThat(plain).hasSize(16); // 1,000 files of 2 bytes: cut by count, not bytes
    List<SourceSplit> e0 = folder.planSplits(7, 0);
    List<SourceSplit> e0again = folder.planSplits(7, 0);
    List<SourceSplit> e1 = folder.planSplits(7, 1);
    assertThat(e0).isEqualTo(e0again);
    assertThat(e0).isNotEqualTo(e1);
    HashSet<String> all = new HashSet<>();
    e1.forEach(sp -> all.addAll(sp.paths()));
    HashSet<String> plainAll = new HashSet<>();
    plain.forEach(sp -> plainAll.addAll(sp.paths()));
    assertThat(all).isEqualTo(plainAll).hasSize(CLASSES * PER_CLASS);
  }

  @Test
  void theSameSeedAndEpochGiveTheSameBatchesWhateverTheCoresAndTheirTiming() throws IOException {
    ImageFolderSource folder = ImageFolderSource.of(root.toString());
    IterOptions options = IterOptions.batches(BATCH).withLocalShuffle(200, 11);
    List<String> reference = null;
    for (int cpus : new int[] {1, 2, 2, 4}) {
      try (Sluice s = sluice(cpus, true)) {
        // A map whose work varies per block, so blocks finish out of order in the parallel runs.
        Dataset ds =
            s.read(folder)
                .shuffleFiles(3)
                .mapBatches(
                    (in, ctx) -> {
                      long spin = (in.getString(Batch.KEY_COLUMN, 0).hashCode() & 0xff) * 20_000L;
                      long x = 0;
                      for (long i = 0; i < spin; i++) {
                        x += i ^ (x >>> 3);
                      }
                      sink = x;
                      return in;
                    })
                .forEpoch(2);
        List<String> keys = keys(ds, options);
        assertThat(keys).hasSize(CLASSES * PER_CLASS).doesNotHaveDuplicates();
        if (reference == null) {
          reference = keys;
        } else {
          assertThat(keys).as("%d cores", cpus).isEqualTo(reference);
        }
      }
    }
    try (Sluice s = sluice(2, true)) {
      assertThat(keys(s.read(folder).shuffleFiles(3).forEpoch(3), options)).isNotEqualTo(reference);
      assertThat(keys(s.read(folder).shuffleFiles(4).forEpoch(2), options)).isNotEqualTo(reference);
    }
  }

  @Test
  void functionsSeeTheEpochTheyRunIn() throws IOException {
    try (Sluice s = sluice(2, false)) {
      java.util.Set<Integer> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
      Dataset ds =
          s.read(ImageFolderSource.of(root.toString()))
              .mapBatches(
                  (in, ctx) -> {
                    seen.add(ctx.epoch());
                    return in;
                  });
      assertThat(keys(ds.forEpoch(5), IterOptions.batches(BATCH))).hasSize(CLASSES * PER_CLASS);
      assertThat(seen).containsExactly(5);
      seen.clear();
      keys(ds, IterOptions.batches(BATCH));
      assertThat(seen).containsExactly(0);
      // The same dataset read another way reports its executions to it; a new map does not.
      Dataset other = ds.mapBatches((in, ctx) -> in);
      assertThat(other.stats()).isNull();
      keys(ds.shuffleFiles(1).forEpoch(3), IterOptions.batches(BATCH));
      assertThat(ds.stats().rowsOut()).isEqualTo(CLASSES * PER_CLASS);
      assertThat(other.stats()).isNull();
    }
  }

  private static List<String> keys(Dataset ds, IterOptions options) {
    List<String> out = new ArrayList<>();
    try (BatchIterator it = ds.iterBatches(options)) {
      while (it.hasNext()) {
        try (Batch b = it.next()) {
          for (int r = 0; r < b.rowCount(); r++) {
            out.add(b.getString(Batch.KEY_COLUMN, r));
          }
        }
      }
    }
    return out;
  }
}
