package dev.sluice.loader.internal.plan;

import dev.sluice.loader.internal.plan.PhysicalOp.ActorMapOp;
import dev.sluice.loader.internal.plan.PhysicalOp.LimitOp;
import dev.sluice.loader.internal.plan.PhysicalOp.NamedFunction;
import dev.sluice.loader.internal.plan.PhysicalOp.ReadOp;
import dev.sluice.loader.internal.plan.PhysicalOp.TaskMapOp;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * What makes two members' plans the same plan: one line per operator, in order, naming its kind,
 * its name, the class of each function (a lambda by the class that defines it, since the JVM
 * numbers lambda classes per process), its resources, batch size, concurrency and pool, and for the
 * read the source's class and name and the shuffle seeds. A task names its function by operator
 * index, so a worker whose lines differ from the trainer's must refuse the job: {@link
 * #firstDifference} says where.
 *
 * @param lines one per operator, upstream first
 */
public record PlanFingerprint(List<String> lines) {
  public PlanFingerprint {
    lines = List.copyOf(lines);
  }

  /** The fingerprint of a physical plan. */
  public static PlanFingerprint of(List<PhysicalOp> plan) {
    List<String> lines = new ArrayList<>(plan.size());
    for (int i = 0; i < plan.size(); i++) {
      lines.add(line(plan.get(i)));
    }
    return new PlanFingerprint(lines);
  }

  private static String line(PhysicalOp op) {
    if (op instanceof ReadOp r) {
      return "Read "
          + r.name()
          + " source="
          + className(r.source().getClass())
          + " splitShuffle="
          + r.splitShuffleSeed()
          + " fileShuffle="
          + r.fileShuffleSeed()
          + " fused="
          + functions(r.fused())
          + " resources="
          + r.resources()
          + " concurrency="
          + r.concurrency();
    }
    if (op instanceof TaskMapOp t) {
      return "TaskMap "
          + t.name()
          + " functions="
          + functions(t.chain())
          + " resources="
          + t.resources()
          + " batch="
          + t.batchSize()
          + " concurrency="
          + t.concurrency();
    }
    if (op instanceof ActorMapOp a) {
      return "ActorPool "
          + a.name()
          + " factory="
          + className(
              a.factory() instanceof FunctionIdentity f ? f.identity() : a.factory().getClass())
          + " pool="
          + a.pool()
          + " resources="
          + a.resources()
          + " batch="
          + a.batchSize();
    }
    return "Limit " + ((LimitOp) op).rows();
  }

  private static String functions(List<NamedFunction> chain) {
    StringBuilder sb = new StringBuilder("[");
    for (NamedFunction f : chain) {
      sb.append(sb.length() > 1 ? ", " : "")
          .append(f.name())
          .append(':')
          .append(className(f.function().getClass()));
    }
    return sb.append(']').toString();
  }

  /**
   * A class's name, the same in every JVM: a lambda's hidden class ({@code Outer$$Lambda$14/0x...}
   * on Java 17, {@code Outer$$Lambda/0x...} later) by the class that defines it.
   */
  static String className(Class<?> c) {
    String n = c.getName();
    int lambda = n.indexOf("$$Lambda");
    return lambda < 0 ? n : n.substring(0, lambda) + "$$Lambda";
  }

  /** A short hash of the lines, to compare at a glance and to log. */
  public String hash() {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (String l : lines) {
        md.update(l.getBytes(StandardCharsets.UTF_8));
        md.update((byte) '\n');
      }
      return HexFormat.of().formatHex(md.digest(), 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /**
   * Where {@code other} first differs from this, said for a person ("operator 2: here ..., there
   * ..."); null when they are the same.
   */
  public String firstDifference(PlanFingerprint other) {
    int n = Math.max(lines.size(), other.lines.size());
    for (int i = 0; i < n; i++) {
      String a = i < lines.size() ? lines.get(i) : "(no operator)";
      String b = i < other.lines.size() ? other.lines.get(i) : "(no operator)";
      if (!a.equals(b)) {
        return "operator " + i + ": here " + a + ", there " + b;
      }
    }
    return null;
  }
}
