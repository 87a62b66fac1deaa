package dev.sluice.loader.internal.exec;

import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.SluiceException;
import dev.sluice.loader.internal.plan.PhysicalOp;
import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.internal.plan.PhysicalOp.NamedFunction;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.internal.plan.PhysicalOp.TaskMapOp;
import dev.sluice.loader.runtime.Lineage;
import dev.sluice.loader.runtime.TaskSpec;
import dev.sluice.loader.source.SplitReader;
import dev.sluice.sharding.SourceSplit;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;
import org.apache.arrow.memory.BufferAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What runs on one node: it carries out {@link TaskSpec task specs} against the plan as built on
 * this node (sources and functions named by operator index), reads input blocks through {@link
 * InputBlocks} (in place when this process holds them), and keeps the readers of the splits leased
 * to this node open between their blocks (a reader is a live object of one process; the scheduler
 * only knows where a split stands). The scheduler calls it through the runtime; a cluster member
 * will run the same class on the specs it receives. Thread-safe: different splits' readers are used
 * by different tasks at once, one task at a time per split.
 */
final class NodeWorker {
  private static final Logger LOG = LoggerFactory.getLogger(NodeWorker.class);

  private final String nodeId;
  private final List<PhysicalOp> plan;
  private final List<String> names;
  private final ExecContext ctx;
  private final InputBlocks blocks;
  private final Map<Integer, SourceSplit> splits;
  private final IntFunction<BufferAllocator> operatorAllocator;

  /** Open readers by split index. */
  private final Map<Integer, OpenSplit> readers = new ConcurrentHashMap<>();

  /** A split's reader on this node, and the rest of a source block being cut. */
  private static final class OpenSplit {
    final SourceSplit split;
    final int attempt;
    SplitReader reader;

    /** The split's row the next block starts at. */
    long position;

    BufferAllocator pendingAllocator;
    Batch pending;
    int pendingOffset;

    OpenSplit(SourceSplit split, int attempt) {
      this.split = split;
      this.attempt = attempt;
    }
  }

  /**
   * @param nodeId the node
   * @param plan the physical plan, as built on this node
   * @param names each operator's name (its state's), by index
   * @param ctx the execution's options, contexts and epoch
   * @param blocks where input blocks are read
   * @param splits the read's splits by index
   * @param operatorAllocator each operator's allocator, by index (a cut block's rest is kept in a
   *     child of the read's)
   */
  NodeWorker(
      String nodeId,
      List<PhysicalOp> plan,
      List<String> names,
      ExecContext ctx,
      InputBlocks blocks,
      Map<Integer, SourceSplit> splits,
      IntFunction<BufferAllocator> operatorAllocator) {
    this.nodeId = nodeId;
    this.plan = List.copyOf(plan);
    this.names = List.copyOf(names);
    this.ctx = ctx;
    this.blocks = blocks;
    this.splits = Map.copyOf(splits);
    this.operatorAllocator = operatorAllocator;
  }

  // ---- tasks

  /** Runs a task spec of a task (not an actor's call); the output stays in {@code alloc}. */
  TaskResult run(TaskSpec spec, BufferAllocator alloc) throws Exception {
    if (spec instanceof TaskSpec.ReadBlock read) {
      return read(read, alloc);
    }
    if (spec instanceof TaskSpec.MapBundle map) {
      return mapTask(map, chain(map.operator()), alloc);
    }
    TaskSpec.Remake remake = (TaskSpec.Remake) spec;
    return new TaskResult(remake(remake, alloc), 0, 0, 0, 0, 0, false);
  }

  /**
   * The name of a task's output: a read's block by its split, attempt, sequence and rows; a map's
   * by the slices it read; a block made again by the name it had.
   */
  Lineage lineage(TaskSpec spec, TaskResult r) {
    String name = names.get(spec.operator());
    if (spec instanceof TaskSpec.ReadBlock read) {
      return new Lineage.Read(
          read.operator(),
          name,
          read.split(),
          read.attempt(),
          read.sequence(),
          read.fromRow(),
          read.fromRow() + r.rowsIn());
    }
    if (spec instanceof TaskSpec.MapBundle map) {
      List<Lineage.Slice> slices = new ArrayList<>(map.inputs().size());
      for (TaskSpec.Input in : map.inputs()) {
        slices.add(new Lineage.Slice(in.block().lineage(), in.from(), in.to(), in.block().rows()));
      }
      return new Lineage.Derived(map.operator(), name, slices);
    }
    return ((TaskSpec.Remake) spec).lineage();
  }

  /**
   * The hosts a task's output was read from: a split's, the inputs' (in order, without repeats), or
   * those of the block made again.
   */
  List<String> hosts(TaskSpec spec) {
    if (spec instanceof TaskSpec.ReadBlock read) {
      SourceSplit split = splits.get(read.split());
      return split == null ? List.of() : split.hosts();
    }
    if (spec instanceof TaskSpec.MapBundle map) {
      return hostsOf(map.inputs());
    }
    return ((TaskSpec.Remake) spec).hosts();
  }

  /** The hosts of a task's input blocks, in order and without repeats: its output's hosts. */
  static List<String> hostsOf(List<TaskSpec.Input> inputs) {
    if (inputs.size() == 1) {
      return inputs.get(0).block().hosts();
    }
    java.util.LinkedHashSet<String> hosts = new java.util.LinkedHashSet<>();
    for (TaskSpec.Input in : inputs) {
      hosts.addAll(in.block().hosts());
    }
    return List.copyOf(hosts);
  }

  // ---- reads

  /** Reads the block {@code spec} names; the output stays in {@code alloc}. */
  TaskResult read(TaskSpec.ReadBlock spec, BufferAllocator alloc) throws Exception {
    ReadOp op = (ReadOp) plan.get(spec.operator());
    String name = names.get(spec.operator());
    OpenSplit s = readers.get(spec.split());
    if (s != null && (s.attempt != spec.attempt() || s.position != spec.fromRow())) {
      closeReader(spec.split()); // another lease's, or left elsewhere: start again
      s = null;
    }
    if (s == null) {
      SourceSplit split = splits.get(spec.split());
      if (split == null) {
        throw new IllegalStateException(name + " has no split " + spec.split());
      }
      s = new OpenSplit(split, spec.attempt());
      readers.put(spec.split(), s);
    }
    try {
      if (s.reader == null) {
        s.reader = op.source().open(s.split, ctx.readContext());
        if (spec.fromRow() > 0) {
          skipTo(op, s, spec.operator(), spec.fromRow(), alloc);
        }
      }
      TaskResult r = op.fused().isEmpty() ? readRaw(s, alloc) : readFused(op, name, s, spec, alloc);
      s.position += r.rowsIn();
      if (r.exhausted()) {
        closeReader(spec.split());
      }
      return r;
    } catch (SluiceException e) {
      closeReader(spec.split());
      throw e.source() == null
          ? new SluiceException(
              e.reason(),
              e.operator() != null ? e.operator() : name,
              s.split.describe(),
              e.entry(),
              e)
          : e;
    } catch (Exception e) {
      closeReader(spec.split());
      throw new SluiceException(
          "reading failed: " + e.getMessage(), name, s.split.describe(), null, e);
    }
  }

  private static TaskResult readRaw(OpenSplit s, BufferAllocator alloc) throws IOException {
    Batch raw = s.reader.next(alloc);
    return raw == null
        ? new TaskResult(null, 0, 0, 0, 0, 0, true)
        : new TaskResult(raw, raw.rowCount(), raw.sizeInBytes(), 0, 0, 0, false);
  }

  /**
   * A read with fused functions: the next source block through the functions when its output fits
   * the target (handed to the functions as it is), else as many rows as fit, the rest kept (its own
   * allocator; a copy of input rows, small next to the output) for the next tasks.
   */
  private TaskResult readFused(
      ReadOp op, String name, OpenSplit s, TaskSpec.ReadBlock spec, BufferAllocator alloc)
      throws Exception {
    long target = ctx.options().targetOutputBytes();
    Batch part;
    if (s.pending == null) {
      Batch raw = s.reader.next(alloc);
      if (raw == null) {
        return new TaskResult(null, 0, 0, 0, 0, 0, true);
      }
      int rows = OperatorState.rowsForTarget(raw.rowCount(), spec.bytesOutPerRow(), target);
      if (rows >= raw.rowCount()) {
        int in = raw.rowCount();
        long inBytes = raw.sizeInBytes();
        Batch out =
            TaskBody.runChain(op.fused(), raw, true, alloc, ctx.badRecords(), name, ctx.epoch());
        return new TaskResult(out, in, inBytes, 0, 0, 0, false);
      }
      try {
        keepRest(s, spec.operator(), raw, rows);
        part = raw.slice(alloc, 0, rows);
      } finally {
        raw.close();
      }
    } else {
      Batch block = s.pending;
      int rows =
          OperatorState.rowsForTarget(
              block.rowCount() - s.pendingOffset, spec.bytesOutPerRow(), target);
      part = block.slice(alloc, s.pendingOffset, rows);
      s.pendingOffset += rows;
      if (s.pendingOffset == block.rowCount()) {
        closePending(s);
      }
    }
    long rows = part.rowCount();
    long bytes = part.sizeInBytes();
    Batch out =
        TaskBody.runChain(op.fused(), part, true, alloc, ctx.badRecords(), name, ctx.epoch());
    return new TaskResult(out, rows, bytes, 0, 0, 0, false);
  }

  /** Keeps rows {@code from..} of {@code raw} for the split's next tasks. */
  private void keepRest(OpenSplit s, int operator, Batch raw, int from) {
    if (s.pendingAllocator == null) {
      s.pendingAllocator =
          operatorAllocator
              .apply(operator)
              .newChildAllocator(
                  names.get(operator) + "-split-" + s.split.index() + "@" + nodeId,
                  0,
                  Long.MAX_VALUE);
    }
    s.pending = raw.slice(s.pendingAllocator, from, raw.rowCount() - from);
    s.pendingOffset = 0;
  }

  /**
   * Moves a reader opened for a split taken over from another node to where that node's reader
   * stood: past {@code row} rows, keeping the rest of a source block that was being cut, as the
   * other reader kept it.
   */
  private void skipTo(ReadOp op, OpenSplit s, int operator, long row, BufferAllocator alloc)
      throws Exception {
    long at = 0;
    while (at < row) {
      Batch raw = s.reader.next(alloc);
      if (raw == null) {
        throw new IllegalStateException(
            s.split.describe()
                + " ends at row "
                + at
                + ", before row "
                + row
                + " where it was left");
      }
      long end = at + raw.rowCount();
      if (end <= row) {
        raw.close();
        at = end;
        continue;
      }
      try {
        if (op.fused().isEmpty()) {
          throw new IllegalStateException(
              s.split.describe() + " was left at row " + row + ", inside a block of the source");
        }
        keepRest(s, operator, raw, (int) (row - at));
      } finally {
        raw.close();
      }
      at = row;
    }
    s.position = row;
  }

  /** Closes the reader of split {@code split} if this node has one open. */
  void closeReader(int split) {
    OpenSplit s = readers.remove(split);
    if (s == null) {
      return;
    }
    closePending(s);
    if (s.pendingAllocator != null) {
      s.pendingAllocator.close();
      s.pendingAllocator = null;
    }
    if (s.reader != null) {
      try {
        s.reader.close();
      } catch (IOException | RuntimeException e) {
        LOG.warn("closing the reader of {} failed", s.split.describe(), e);
      }
      s.reader = null;
    }
  }

  /** Closes every reader (the execution ends, or the node was lost). */
  void closeAll() {
    for (Integer split : List.copyOf(readers.keySet())) {
      closeReader(split);
    }
  }

  private static void closePending(OpenSplit s) {
    if (s.pending != null) {
      s.pending.close();
      s.pending = null;
    }
  }

  // ---- maps

  /**
   * Runs {@code chain} (a task map's, or an actor's own function) over the rows {@code spec} names;
   * the output stays in {@code alloc}.
   */
  Batch map(TaskSpec.MapBundle spec, List<NamedFunction> chain, BufferAllocator alloc)
      throws Exception {
    TaskBody.Assembled in = TaskBody.assemble(spec.inputs(), blocks, alloc);
    return TaskBody.runChain(
        chain,
        in.batch(),
        in.owned(),
        alloc,
        ctx.badRecords(),
        names.get(spec.operator()),
        ctx.epoch());
  }

  /**
   * Runs {@code chain} over the rows {@code spec} names, counting them (a task map's task, an
   * actor's call).
   */
  TaskResult mapTask(TaskSpec.MapBundle spec, List<NamedFunction> chain, BufferAllocator alloc)
      throws Exception {
    long rows = 0;
    long bytes = 0;
    for (TaskSpec.Input in : spec.inputs()) {
      rows += in.rows();
      bytes +=
          in.whole()
              ? in.block().bytes()
              : in.block().bytes() * in.rows() / Math.max(1, in.block().rows());
    }
    return new TaskResult(map(spec, chain, alloc), rows, bytes, 0, 0, 0, false);
  }

  /** The functions of a task map, by operator index. */
  List<NamedFunction> chain(int operator) {
    return ((TaskMapOp) plan.get(operator)).chain();
  }

  // ---- blocks made again

  /**
   * The error for a lost block that an actor pool made, needed to make again a block downstream:
   * that needs one of the pool's actors in the middle of another operator's task, which the
   * executor does not do (the execution fails instead of hanging). A lost block of the pool itself
   * is made again on one of its actors ({@link #remakeOnActor}).
   */
  static SluiceException actorBlockLost(String pool, Lineage lineage) {
    return new SluiceException(
        "a block made by the actor pool "
            + pool
            + " was lost with its node, and making again a block made from it needs one of the"
            + " pool's actors in another operator's task, which this executor does not do: "
            + lineage,
        pool,
        null,
        null,
        null);
  }

  /** Makes the block {@code spec} names again from its lineage. */
  Batch remake(TaskSpec.Remake spec, BufferAllocator alloc) throws Exception {
    return remake(spec.lineage(), null, alloc);
  }

  /**
   * Makes again, on an actor of the pool that made it, the block {@code spec} names: its inputs
   * from their lineage, then the actor's function over them (an actor's function maps its input to
   * the same output whichever actor runs it: the pool's actors hold models and clients, not the
   * data).
   *
   * @param pool the pool's name
   * @param fn the actor's function instance
   */
  TaskResult remakeOnActor(
      TaskSpec.Remake spec, String pool, BatchFunction fn, BufferAllocator alloc) throws Exception {
    if (!(plan.get(spec.operator()) instanceof ActorMapOp)
        || spec.lineage().operator() != spec.operator()) {
      throw new IllegalArgumentException(
          "an actor of " + pool + " makes again only its own pool's blocks: " + spec.lineage());
    }
    return new TaskResult(
        remake(spec.lineage(), new NamedFunction(pool, fn), alloc), 0, 0, 0, 0, 0, false);
  }

  /**
   * A read's block by reading its rows again; any other block by making its inputs again (they were
   * released once used), cutting the recorded slices and running the operator's functions; a block
   * of an actor pool only with {@code actor}, that pool's actor function (else the error of {@link
   * #actorBlockLost}).
   */
  private Batch remake(Lineage lineage, NamedFunction actor, BufferAllocator alloc)
      throws Exception {
    PhysicalOp producer = plan.get(lineage.operator());
    String name = names.get(lineage.operator());
    if (lineage instanceof Lineage.Read read) {
      SourceSplit split = splits.get(read.split());
      if (split == null) {
        throw new IllegalStateException(name + " has no split " + read.split());
      }
      return ReadReplay.remake(
          (ReadOp) producer, split, read, ctx.readContext(), ctx.badRecords(), ctx.epoch(), alloc);
    }
    if (producer instanceof ActorMapOp && actor == null) {
      throw actorBlockLost(name, lineage);
    }
    List<Batch> parts = new ArrayList<>();
    try {
      for (Lineage.Slice s : ((Lineage.Derived) lineage).inputs()) {
        Batch in = remake(s.block(), null, alloc);
        if (in.rowCount() != s.rows()) {
          int rows = in.rowCount();
          in.close();
          throw new IllegalStateException(
              "made again, "
                  + s.block()
                  + " has "
                  + rows
                  + " rows, not "
                  + s.rows()
                  + ": a function upstream is not deterministic");
        }
        if (s.whole()) {
          parts.add(in);
        } else {
          try {
            parts.add(in.slice(alloc, s.from(), s.to() - s.from()));
          } finally {
            in.close();
          }
        }
      }
      Batch input = parts.size() == 1 ? parts.remove(0) : Batch.concat(alloc, parts);
      if (producer instanceof TaskMapOp t) {
        return TaskBody.runChain(
            t.chain(), input, true, alloc, ctx.badRecords(), name, ctx.epoch());
      }
      if (producer instanceof ActorMapOp) {
        return TaskBody.runChain(
            List.of(actor), input, true, alloc, ctx.badRecords(), name, ctx.epoch());
      }
      return input; // a limit's cut is its input's rows
    } finally {
      parts.forEach(Batch::close);
    }
  }
}
