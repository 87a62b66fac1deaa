package dev.sluice.loader.internal.plan;

import dev.sluice.loader.internal.plan.LogicalOp.Limit;
import dev.sluice.loader.internal.plan.LogicalOp.MapActor;
import dev.sluice.loader.internal.plan.LogicalOp.MapTask;
import dev.sluice.loader.internal.plan.LogicalOp.RandomizeBlockOrder;
import dev.sluice.loader.internal.plan.LogicalOp.Read;
import dev.sluice.loader.internal.plan.LogicalOp.ShuffleFiles;
import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.internal.plan.PhysicalOp.LimitOp;
import dev.sluice.loader.internal.plan.PhysicalOp.NamedFunction;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.internal.plan.PhysicalOp.TaskMapOp;
import dev.sluice.loader.runtime.Resources;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * Turns a logical plan into a physical one. Fusion rule: a stateless map joins the operator before
 * it (a read or another stateless map) when both ask for the same resources, the map needs no
 * re-batching of its own (no batch size, or the same as the operator's), and the concurrency caps
 * agree. Actor pools and limits are never fused.
 */
public final class Planner {
  private Planner() {}

  /** Plans a logical chain that starts with a {@link Read}. */
  public static List<PhysicalOp> plan(List<LogicalOp> logical) {
    if (logical.isEmpty() || !(logical.get(0) instanceof Read read)) {
      throw new IllegalArgumentException("a plan starts with a read");
    }
    // Both act at the read, wherever they stand in the chain; the last of each kind wins.
    OptionalLong splitSeed = OptionalLong.empty();
    OptionalLong fileSeed = OptionalLong.empty();
    for (LogicalOp op : logical) {
      if (op instanceof RandomizeBlockOrder r) {
        splitSeed = OptionalLong.of(r.seed());
      } else if (op instanceof ShuffleFiles f) {
        fileSeed = OptionalLong.of(f.seed());
      }
    }
    List<PhysicalOp> out = new ArrayList<>();
    out.add(
        new ReadOp(
            read.source(), splitSeed, fileSeed, List.of(), read.resources(), read.concurrency()));
    for (LogicalOp op : logical.subList(1, logical.size())) {
      if (op instanceof MapTask m) {
        PhysicalOp last = out.get(out.size() - 1);
        Resources res = m.options().resources();
        NamedFunction fn = new NamedFunction(m.name(), m.function());
        if (last instanceof ReadOp r
            && r.resources().equals(res)
            && m.options().batchSize() == 0
            && m.options().concurrency() == r.concurrency()) {
          out.set(
              out.size() - 1,
              new ReadOp(
                  r.source(),
                  r.splitShuffleSeed(),
                  r.fileShuffleSeed(),
                  append(r.fused(), fn),
                  res,
                  r.concurrency()));
        } else if (last instanceof TaskMapOp t
            && t.resources().equals(res)
            && (m.options().batchSize() == 0 || m.options().batchSize() == t.batchSize())
            && m.options().concurrency() == t.concurrency()) {
          out.set(
              out.size() - 1,
              new TaskMapOp(append(t.chain(), fn), res, t.batchSize(), t.concurrency()));
        } else {
          out.add(
              new TaskMapOp(List.of(fn), res, m.options().batchSize(), m.options().concurrency()));
        }
      } else if (op instanceof MapActor a) {
        out.add(
            new ActorMapOp(
                a.name(), a.factory(), a.pool(), a.options().resources(), a.options().batchSize()));
      } else if (op instanceof Limit l) {
        out.add(new LimitOp(l.rows()));
      } else if (op instanceof Read) {
        throw new IllegalArgumentException("a plan has one read, at its start");
      }
    }
    return List.copyOf(out);
  }

  /** The DAG in one line, for example {@code Input -> TaskPoolMap[read->decode] -> Output}. */
  public static String describe(List<PhysicalOp> plan) {
    StringBuilder sb = new StringBuilder("Input");
    for (PhysicalOp op : plan) {
      sb.append(" -> ");
      if (op instanceof ReadOp || op instanceof TaskMapOp) {
        sb.append("TaskPoolMap[").append(op.name()).append(']');
      } else if (op instanceof ActorMapOp a) {
        sb.append("ActorPoolMap[").append(a.name()).append(']');
      } else {
        sb.append(op.name());
      }
    }
    return sb.append(" -> Output").toString();
  }

  private static List<NamedFunction> append(List<NamedFunction> list, NamedFunction fn) {
    List<NamedFunction> out = new ArrayList<>(list);
    out.add(fn);
    return List.copyOf(out);
  }
}
