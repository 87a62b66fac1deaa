package dev.sluice.loader.internal.exec;

import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.source.SupportsFileShuffle;
import dev.sluice.sharding.EpochPlan;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.util.List;
import java.util.OptionalLong;

/**
 * The plan of one epoch of a read (its splits, in the order they are handed out): the source's
 * files permuted by (seed, epoch) when the read shuffles files and the source supports it, then the
 * splits in the order of sharding's {@link EpochPlan} for (seed, epoch) when the read shuffles.
 * Depends on nothing but the source's listing, the seeds and the epoch, so every execution of the
 * same epoch reads the same splits in the same order, whatever its threads do.
 */
final class EpochSplits {
  private EpochSplits() {}

  /**
   * The plan's splits in a few words: their count and a digest of each one's index, source, paths
   * and row range, in plan order; equal in every process that lists the same files.
   */
  static String describe(EpochPlan plan) {
    java.security.MessageDigest md;
    try {
      md = java.security.MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    for (SourceSplit s : plan.splits()) {
      StringBuilder b = new StringBuilder();
      b.append(s.index()).append('|').append(s.sourceId()).append('|');
      for (String p : s.paths()) {
        b.append(p).append(',');
      }
      b.append('|').append(s.start()).append('-').append(s.end()).append('\n');
      md.update(b.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    return plan.splits().size()
        + " splits, "
        + java.util.HexFormat.of().formatHex(md.digest(), 0, 8);
  }

  static EpochPlan plan(ReadOp read, int epoch) {
    try {
      OptionalLong fileSeed = read.fileShuffleSeed();
      List<SourceSplit> splits =
          fileSeed.isPresent() && read.source() instanceof SupportsFileShuffle files
              ? files.planSplits(fileSeed.getAsLong(), epoch)
              : read.source().planSplits();
      OptionalLong splitSeed =
          read.splitShuffleSeed().isPresent() ? read.splitShuffleSeed() : fileSeed;
      return EpochPlan.create(splits, splitSeed.orElse(0), epoch, splitSeed.isPresent());
    } catch (IOException e) {
      throw new SluiceException(
          "planning splits failed: " + e.getMessage(), read.source().name(), null, null, e);
    }
  }
}
