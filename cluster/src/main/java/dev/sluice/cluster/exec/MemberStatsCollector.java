package dev.sluice.cluster.exec;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.IExecutorService;
import dev.sluice.cluster.MemberInfo;
import dev.sluice.cluster.MemberStats;
import dev.sluice.cluster.Role;
import dev.sluice.cluster.SluiceMember;
import dev.sluice.cluster.wire.ExecutionCodec;
import dev.sluice.cluster.wire.MemberStatsCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Collects every worker's {@link MemberStats} for a trainer: one {@link WorkerCalls.Stats} call to
 * each worker at once, all answers awaited up to one deadline; a worker that does not answer by
 * then, or whose call fails, is reported as {@linkplain MemberStats#unanswered unanswered}, never
 * waited for longer. CPU shares are made over the interval since the previous collection of the
 * same member (since its start at the first). Thread-safe: collections run one at a time.
 */
final class MemberStatsCollector {
  private final Map<UUID, MemberStats> previous = new HashMap<>(); // guarded by this

  /**
   * The trainer's own figures first, then every worker's, in the cluster's order.
   *
   * @param member the trainer's member
   * @param self the trainer's own figures, taken just before
   * @param timeout how long every worker together may take to answer
   */
  synchronized List<MemberStats> collect(SluiceMember member, MemberStats self, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    IExecutorService executor = member.hazelcast().getExecutorService(ClusterRuntime.EXECUTOR);
    Map<UUID, Member> byId = new HashMap<>();
    for (Member m : member.hazelcast().getCluster().getMembers()) {
      byId.put(m.getUuid(), m);
    }
    Map<MemberInfo, Future<byte[]>> asked = new LinkedHashMap<>();
    Map<MemberInfo, String> failed = new HashMap<>();
    for (MemberInfo w : member.members()) {
      if (w.role() != Role.WORKER) {
        continue;
      }
      Member target = byId.get(w.id());
      if (target == null) {
        failed.put(w, "left the cluster");
        asked.put(w, null);
        continue;
      }
      try {
        asked.put(w, executor.submitToMember(new WorkerCalls.Stats(), target));
      } catch (RuntimeException e) {
        failed.put(w, "cannot be asked: " + e);
        asked.put(w, null);
      }
    }
    List<MemberStats> out = new ArrayList<>();
    out.add(withInterval(self));
    for (Map.Entry<MemberInfo, Future<byte[]>> e : asked.entrySet()) {
      MemberInfo w = e.getKey();
      Future<byte[]> f = e.getValue();
      if (f == null) {
        out.add(MemberStats.unanswered(w, failed.get(w)));
        continue;
      }
      try {
        long left = Math.max(0, deadline - System.nanoTime());
        byte[] reply = f.get(left, TimeUnit.NANOSECONDS);
        out.add(withInterval(ExecutionCodec.read(reply, MemberStatsCodec::read, "worker " + w)));
      } catch (TimeoutException t) {
        f.cancel(false);
        out.add(MemberStats.unanswered(w, "no answer within " + timeout.toMillis() + " ms"));
      } catch (InterruptedException i) {
        Thread.currentThread().interrupt();
        f.cancel(false);
        out.add(MemberStats.unanswered(w, "interrupted while waiting for its answer"));
      } catch (ExecutionException | java.io.IOException | RuntimeException x) {
        Throwable c = x instanceof ExecutionException && x.getCause() != null ? x.getCause() : x;
        String why = c.getMessage() != null ? c.getMessage() : c.toString();
        out.add(MemberStats.unanswered(w, "its answer failed: " + why));
      }
    }
    return out;
  }

  /** The CPU share over the interval since the member's previous figures, when there are some. */
  private MemberStats withInterval(MemberStats now) {
    if (!now.answered() || now.cpuNanos() < 0) {
      return now;
    }
    MemberStats before = previous.put(now.id(), now);
    if (before == null || before.cpuNanos() < 0 || now.upNanos() <= before.upNanos()) {
      return now;
    }
    double share =
        (now.cpuNanos() - before.cpuNanos())
            / (double) (now.upNanos() - before.upNanos())
            / now.cpus();
    return now.withCpuShare(share);
  }
}
