package dev.sluice.loader;

import dev.sluice.loader.runtime.Resources;

/**
 * How a dataset executes. Immutable; {@code withX} returns a copy.
 *
 * @param memoryBudget bytes of Arrow memory the pipeline's blocks may hold at once (queued, in
 *     flight and held by the consumer); the executor admits new work only while it fits
 * @param reservedShare share of the budget reserved evenly across operators (half of each for its
 *     outputs), so that a fast upstream cannot take the memory a slow downstream needs
 * @param hardLimitFactor the allocator's hard limit as a multiple of the budget: the safety net,
 *     never the mechanism (a pipeline that reaches it fails with an allocation error)
 * @param mode streaming (all stages at once) or bulk (stage by stage, for comparison only)
 * @param preserveOrder whether blocks come out in input order (splits in plan order, blocks in
 *     split order); costs some parallelism
 * @param badRecordAllowance corrupt records that may be skipped (and counted) before failing
 * @param targetBlockRows the most rows a reader puts in one block
 * @param targetBlockBytes roughly the most bytes a reader puts in one block (raw input bytes)
 * @param resources logical resources to use, or null for all the runtime offers
 * @param progress when to draw the progress line on stderr
 * @param operatorProgress whether to draw one bar per operator too
 * @param locality whether placement follows where the data is (see {@link #withLocality})
 */
public record ExecutionOptions(
    long memoryBudget,
    double reservedShare,
    double hardLimitFactor,
    Mode mode,
    boolean preserveOrder,
    long badRecordAllowance,
    int targetBlockRows,
    long targetBlockBytes,
    Resources resources,
    Progress progress,
    boolean operatorProgress,
    boolean locality) {

  /** Execution mode. */
  public enum Mode {
    /** Every stage runs at once under the memory budget. */
    STREAMING,
    /**
     * Each stage completes before the next starts, everything materialised in between; unbounded
     * memory. For benchmarks only.
     */
    BULK
  }

  /** When the progress line is drawn. */
  public enum Progress {
    /** Only when a console is attached. */
    AUTO,
    /** Always. */
    ON,
    /** Never. */
    OFF
  }

  public ExecutionOptions {
    if (memoryBudget <= 0) {
      throw new IllegalArgumentException("memory budget must be > 0");
    }
    if (reservedShare < 0 || reservedShare > 1) {
      throw new IllegalArgumentException("reservedShare must be in [0, 1]");
    }
    if (hardLimitFactor < 1) {
      throw new IllegalArgumentException("hardLimitFactor must be >= 1");
    }
    if (targetBlockRows <= 0 || targetBlockBytes <= 0 || badRecordAllowance < 0) {
      throw new IllegalArgumentException("block targets must be > 0 and the allowance >= 0");
    }
  }

  /**
   * The output size one task of a map (without a batch size of its own) or of a read with fused
   * functions aims at: an eighth of the budget. Such an operator learns the bytes its tasks produce
   * per input row and cuts its input so that one task's output stays near this, however much the
   * functions expand the data (the first task takes one row, to learn from). A read learns per
   * split, from the split's own blocks, so that a split is always cut the same way and its blocks
   * keep their names ({@link dev.sluice.loader.runtime.Lineage}) when it is read again.
   */
  public long targetOutputBytes() {
    return Math.max(1, memoryBudget / 8);
  }

  /**
   * 512 MiB budget, half reserved, streaming, unordered, no bad records, 256 rows / 16 MiB blocks.
   */
  public static ExecutionOptions defaults() {
    return new ExecutionOptions(
        512L << 20,
        0.5,
        2.0,
        Mode.STREAMING,
        false,
        0,
        256,
        16L << 20,
        null,
        Progress.AUTO,
        false,
        true);
  }

  public ExecutionOptions withMemoryBudget(long bytes) {
    return new ExecutionOptions(
        bytes,
        reservedShare,
        hardLimitFactor,
        mode,
        preserveOrder,
        badRecordAllowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withReservedShare(double share) {
    return new ExecutionOptions(
        memoryBudget,
        share,
        hardLimitFactor,
        mode,
        preserveOrder,
        badRecordAllowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withHardLimitFactor(double factor) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        factor,
        mode,
        preserveOrder,
        badRecordAllowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withMode(Mode mode) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        hardLimitFactor,
        mode,
        preserveOrder,
        badRecordAllowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withPreserveOrder(boolean preserve) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        hardLimitFactor,
        mode,
        preserve,
        badRecordAllowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withBadRecordAllowance(long allowance) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        hardLimitFactor,
        mode,
        preserveOrder,
        allowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withTargetBlockRows(int rows) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        hardLimitFactor,
        mode,
        preserveOrder,
        badRecordAllowance,
        rows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withTargetBlockBytes(long bytes) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        hardLimitFactor,
        mode,
        preserveOrder,
        badRecordAllowance,
        targetBlockRows,
        bytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withResources(Resources resources) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        hardLimitFactor,
        mode,
        preserveOrder,
        badRecordAllowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withProgress(Progress progress) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        hardLimitFactor,
        mode,
        preserveOrder,
        badRecordAllowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        locality);
  }

  public ExecutionOptions withOperatorProgress(boolean on) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        hardLimitFactor,
        mode,
        preserveOrder,
        badRecordAllowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        on,
        locality);
  }

  /**
   * With locality routing on (the default) or off: reads go preferably to the nodes on their
   * splits' hosts, tasks to the nodes holding their inputs, blocks to the actors beside them and to
   * the consumers on their hosts. Off, placement ignores where data is (for measuring what locality
   * saves: the {@code locality} benchmark).
   */
  public ExecutionOptions withLocality(boolean on) {
    return new ExecutionOptions(
        memoryBudget,
        reservedShare,
        hardLimitFactor,
        mode,
        preserveOrder,
        badRecordAllowance,
        targetBlockRows,
        targetBlockBytes,
        resources,
        progress,
        operatorProgress,
        on);
  }
}
