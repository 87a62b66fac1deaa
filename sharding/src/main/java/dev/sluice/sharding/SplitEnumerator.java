package dev.sluice.sharding;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Hands out one epoch's splits to consumers that ask for them (dynamic leasing, in the shape of
 * Flink's FLIP-27 {@code SplitEnumerator}): consumers pull, a failed consumer's unfinished splits
 * go back to the pool and are handed out again, and a consumer is given a split held on its own
 * host when there is one.
 *
 * <p>Order: free splits are handed out in plan order (a split given back returns to its place, so
 * it goes out again before later splits); a requester whose host is among some free split's {@link
 * SourceSplit#hosts()} (exact string match) gets the first such split instead. Dynamic leasing
 * balances by speed, not by rows: it does not make shares equal, and which consumer reads which
 * split depends on timing. Use {@link StaticAssigner} when shares must be equal or reproducible.
 *
 * <p>Exactly once: every split is completed by exactly one lease. A re-issued split is read again
 * from its first row; rows the failed attempt already handed on are for the consumers to drop (by
 * split and sequence). Leases carry an attempt number, and {@link #complete} accepts only the
 * split's current lease, so a consumer declared failed that completes late is rejected.
 *
 * <p>Threading: not thread-safe, by design. Every call must be made from one coordinator thread (or
 * otherwise serialised, with a happens-before edge between calls), as Flink runs its enumerators in
 * the coordinator thread; the enumerator holds no locks and never blocks. No call waits: a request
 * that cannot be answered yet gets {@link SplitResponse.Wait} and is answered later by {@link
 * #serveWaiting()}, which the coordinator calls after every {@link #complete}, {@link
 * #addSplitsBack} and {@link #giveBack}.
 */
public final class SplitEnumerator {
  private final EpochPlan plan;
  private final TreeSet<Integer> free = new TreeSet<>();
  private final Map<String, TreeSet<Integer>> freeByHost = new HashMap<>();
  private final SplitLease[] active;
  private final int[] leasesIssued;
  private final Map<Integer, TreeSet<Integer>> leasesByConsumer = new HashMap<>();
  private final LinkedHashMap<Integer, String> waiting = new LinkedHashMap<>();
  private int leased;
  private int completed;

  /** An enumerator for {@code plan}'s epoch with every split free. */
  public SplitEnumerator(EpochPlan plan) {
    this.plan = Objects.requireNonNull(plan, "plan");
    this.active = new SplitLease[plan.size()];
    this.leasesIssued = new int[plan.size()];
    for (int position = 0; position < plan.size(); position++) {
      release(position);
    }
  }

  /** The plan whose splits this hands out. */
  public EpochPlan plan() {
    return plan;
  }

  /**
   * A consumer asks for a split.
   *
   * @param consumerId the consumer, {@code >= 0} (a subtask index or trainer rank)
   * @param host the consumer's host, or null if it has no locality preference
   * @return a lease on a free split (one on {@code host} if any); {@link SplitResponse.Wait} if
   *     none is free but leases are out (the request is then kept and answered by {@link
   *     #serveWaiting()}); {@link SplitResponse.NoMoreSplits} once every split is completed
   */
  public SplitResponse handleSplitRequest(int consumerId, String host) {
    if (consumerId < 0) {
      throw new IllegalArgumentException("consumer id must be >= 0: " + consumerId);
    }
    waiting.remove(consumerId);
    SplitResponse response = answer(consumerId, host);
    if (response instanceof SplitResponse.Wait) {
      waiting.put(consumerId, host);
    }
    return response;
  }

  /**
   * Marks a lease's split done.
   *
   * @return true if {@code lease} is the split's current lease and the split is now completed;
   *     false (and nothing changes) if the lease is stale: from another epoch, already completed,
   *     given back, or superseded by a re-issue
   */
  public boolean complete(SplitLease lease) {
    if (!end(lease)) {
      return false;
    }
    completed++;
    return true;
  }

  /** Ends {@code lease} if it is its split's current one; whether it was. */
  private boolean end(SplitLease lease) {
    Objects.requireNonNull(lease, "lease");
    int position = lease.planPosition();
    if (lease.epoch() != plan.epoch()
        || position >= active.length
        || !lease.equals(active[position])) {
      return false;
    }
    active[position] = null;
    leased--;
    TreeSet<Integer> mine = leasesByConsumer.get(lease.consumerId());
    mine.remove(position);
    if (mine.isEmpty()) {
      leasesByConsumer.remove(lease.consumerId());
    }
    return true;
  }

  /**
   * A consumer failed (or left): every split it holds and has not completed goes back to the pool,
   * to be handed out again with a higher attempt number, and a pending request of it is forgotten.
   *
   * @return the number of splits given back
   */
  public int addSplitsBack(int consumerId) {
    waiting.remove(consumerId);
    TreeSet<Integer> mine = leasesByConsumer.remove(consumerId);
    if (mine == null) {
      return 0;
    }
    for (int position : mine) {
      active[position] = null;
      leased--;
      release(position);
    }
    return mine.size();
  }

  /**
   * A consumer hands one split back before finishing it (it is leaving, and hands its work over):
   * the split goes back to the pool, to be handed out again with a higher attempt number, like a
   * failed consumer's. The consumer keeps its other leases.
   *
   * @return true if {@code lease} was the split's current lease and the split is free again; false
   *     (and nothing changes) if the lease is stale
   */
  public boolean giveBack(SplitLease lease) {
    if (!end(lease)) {
      return false;
    }
    release(lease.planPosition());
    return true;
  }

  /**
   * Answers the waiting requests that can now be answered, oldest first: with a lease while splits
   * are free, with {@link SplitResponse.NoMoreSplits} once every split is completed. The others
   * keep waiting. Call after every {@link #complete} and {@link #addSplitsBack}; the coordinator
   * delivers the replies.
   */
  public List<Reply> serveWaiting() {
    var replies = new ArrayList<Reply>();
    for (Iterator<Map.Entry<Integer, String>> it = waiting.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Integer, String> request = it.next();
      SplitResponse response = answer(request.getKey(), request.getValue());
      if (response instanceof SplitResponse.Wait) {
        break;
      }
      it.remove();
      replies.add(new Reply(request.getKey(), response));
    }
    return replies;
  }

  /** Whether every split of the epoch is completed. */
  public boolean isFinished() {
    return completed == plan.size();
  }

  /** Splits neither leased nor completed. */
  public int freeSplits() {
    return free.size();
  }

  /** Splits leased and not completed. */
  public int leasedSplits() {
    return leased;
  }

  /** Splits completed. */
  public int completedSplits() {
    return completed;
  }

  /** The consumers whose requests wait for an answer, oldest first. */
  public List<Integer> waitingConsumers() {
    return List.copyOf(waiting.keySet());
  }

  /** The leases {@code consumerId} holds and has not completed, in plan order. */
  public List<SplitLease> leasesOf(int consumerId) {
    var leases = new ArrayList<SplitLease>();
    for (int position : leasesByConsumer.getOrDefault(consumerId, new TreeSet<>())) {
      leases.add(active[position]);
    }
    return leases;
  }

  /**
   * An answer to a request that had to wait.
   *
   * @param consumerId the consumer that asked
   * @param response a lease or {@link SplitResponse.NoMoreSplits}
   */
  public record Reply(int consumerId, SplitResponse response) {}

  private SplitResponse answer(int consumerId, String host) {
    if (free.isEmpty()) {
      return leased > 0 ? new SplitResponse.Wait() : new SplitResponse.NoMoreSplits();
    }
    TreeSet<Integer> local = host == null ? null : freeByHost.get(host);
    int position = local != null ? local.first() : free.first();
    take(position);
    var lease =
        new SplitLease(
            plan.epoch(), position, plan.split(position), consumerId, leasesIssued[position]++);
    active[position] = lease;
    leased++;
    leasesByConsumer.computeIfAbsent(consumerId, id -> new TreeSet<>()).add(position);
    return lease;
  }

  private void release(int position) {
    free.add(position);
    for (String host : plan.split(position).hosts()) {
      freeByHost.computeIfAbsent(host, h -> new TreeSet<>()).add(position);
    }
  }

  private void take(int position) {
    free.remove(position);
    for (String host : plan.split(position).hosts()) {
      TreeSet<Integer> positions = freeByHost.get(host);
      if (positions != null && positions.remove(position) && positions.isEmpty()) {
        freeByHost.remove(host);
      }
    }
  }
}
