package dev.sluice.sharding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

class SplitEnumeratorTest {
  private static final SplitResponse WAIT = new SplitResponse.Wait();
  private static final SplitResponse DONE = new SplitResponse.NoMoreSplits();

  @Test
  void handsOutEverySplitOnceInPlanOrderThenSignalsTheEnd() {
    EpochPlan plan = plan(List.of(List.of(), List.of(), List.of()));
    var enumerator = new SplitEnumerator(plan);

    var leases = new ArrayList<SplitLease>();
    for (int i = 0; i < 3; i++) {
      leases.add((SplitLease) enumerator.handleSplitRequest(0, "any"));
    }
    assertThat(leases).extracting(SplitLease::planPosition).containsExactly(0, 1, 2);
    assertThat(leases).extracting(SplitLease::split).containsExactlyElementsOf(plan.splits());
    assertThat(leases).allMatch(l -> l.attempt() == 0 && l.consumerId() == 0 && l.epoch() == 4);
    assertThat(enumerator.handleSplitRequest(0, "any")).isEqualTo(WAIT);
    assertThat(enumerator.waitingConsumers()).containsExactly(0);

    leases.forEach(lease -> assertThat(enumerator.complete(lease)).isTrue());
    assertThat(enumerator.serveWaiting()).containsExactly(new SplitEnumerator.Reply(0, DONE));
    assertThat(enumerator.isFinished()).isTrue();
    assertThat(enumerator.handleSplitRequest(1, "any")).isEqualTo(DONE);
    assertThat(enumerator.waitingConsumers()).isEmpty();
  }

  @Test
  void prefersSplitsHeldOnTheRequestersHost() {
    var enumerator =
        new SplitEnumerator(
            plan(List.of(List.of("a"), List.of("b"), List.of("b", "c"), List.of())));

    assertThat(position(enumerator.handleSplitRequest(0, "b"))).isEqualTo(1);
    assertThat(position(enumerator.handleSplitRequest(1, "c"))).isEqualTo(2);
    // No split left on b: the first free one in plan order, wherever it is.
    assertThat(position(enumerator.handleSplitRequest(0, "b"))).isEqualTo(0);
    assertThat(position(enumerator.handleSplitRequest(2, "a"))).isEqualTo(3);
  }

  @Test
  void consumersWithoutAHostTakeSplitsInPlanOrder() {
    var enumerator = new SplitEnumerator(plan(List.of(List.of("a"), List.of("b"))));
    assertThat(position(enumerator.handleSplitRequest(0, null))).isZero();
    assertThat(position(enumerator.handleSplitRequest(0, "elsewhere"))).isEqualTo(1);
  }

  @Test
  void aFailedConsumersSplitsAreHandedOutAgainAndItsLateCompletionIsRejected() {
    var enumerator = new SplitEnumerator(plan(List.of(List.of(), List.of(), List.of(), List.of())));
    var first = (SplitLease) enumerator.handleSplitRequest(0, "h0");
    var second = (SplitLease) enumerator.handleSplitRequest(1, "h1");
    var third = (SplitLease) enumerator.handleSplitRequest(1, "h1");
    assertThat(enumerator.complete(second)).isTrue();

    // Consumer 1 dies mid-epoch, holding `third`.
    assertThat(enumerator.leasesOf(1)).containsExactly(third);
    assertThat(enumerator.addSplitsBack(1)).isEqualTo(1);
    assertThat(enumerator.leasesOf(1)).isEmpty();
    assertThat(enumerator.freeSplits()).isEqualTo(2);

    var reissued = (SplitLease) enumerator.handleSplitRequest(0, "h0");
    assertThat(reissued.planPosition()).isEqualTo(third.planPosition());
    assertThat(reissued.attempt()).isEqualTo(1);
    assertThat(reissued.consumerId()).isZero();

    // The zombie finishes after all: too late.
    assertThat(enumerator.complete(third)).isFalse();
    assertThat(enumerator.complete(reissued)).isTrue();
    assertThat(enumerator.complete(first)).isTrue();
    var last = (SplitLease) enumerator.handleSplitRequest(2, "h2");
    assertThat(enumerator.complete(last)).isTrue();
    assertThat(enumerator.isFinished()).isTrue();
    assertThat(enumerator.completedSplits()).isEqualTo(4);
  }

  @Test
  void aSplitHandedBackGoesOutAgainUnderTheNextAttemptAndTheConsumerKeepsItsOthers() {
    var enumerator = new SplitEnumerator(plan(List.of(List.of(), List.of(), List.of())));
    var first = (SplitLease) enumerator.handleSplitRequest(0, null);
    var second = (SplitLease) enumerator.handleSplitRequest(0, null);
    assertThat(enumerator.handleSplitRequest(1, null)).isInstanceOf(SplitLease.class);

    assertThat(enumerator.giveBack(second)).isTrue();
    assertThat(enumerator.giveBack(second)).as("given back already").isFalse();
    assertThat(enumerator.leasesOf(0)).containsExactly(first);
    assertThat(enumerator.freeSplits()).isEqualTo(1);
    assertThat(enumerator.leasedSplits()).isEqualTo(2);

    var again = (SplitLease) enumerator.handleSplitRequest(1, null);
    assertThat(again.planPosition()).isEqualTo(second.planPosition());
    assertThat(again.attempt()).isEqualTo(1);
    assertThat(enumerator.complete(second)).as("the handed-back lease is stale").isFalse();
    assertThat(enumerator.giveBack(first)).isTrue();
    assertThat(enumerator.leasesOf(0)).isEmpty();
  }

  @Test
  void aConsumerWaitingIsAnsweredWithASplitHandedBack() {
    var enumerator = new SplitEnumerator(plan(List.of(List.of())));
    var lease = (SplitLease) enumerator.handleSplitRequest(0, null);
    assertThat(enumerator.handleSplitRequest(1, null)).isEqualTo(WAIT);
    assertThat(enumerator.giveBack(lease)).isTrue();
    List<SplitEnumerator.Reply> replies = enumerator.serveWaiting();
    assertThat(replies).hasSize(1);
    assertThat(((SplitLease) replies.get(0).response()).attempt()).isEqualTo(1);
  }

  @Test
  void waitingConsumersGetTheSplitsOfAFailedOne() {
    var enumerator = new SplitEnumerator(plan(List.of(List.of(), List.of())));
    var a = (SplitLease) enumerator.handleSplitRequest(0, null);
    var b = (SplitLease) enumerator.handleSplitRequest(1, null);
    assertThat(enumerator.handleSplitRequest(2, null)).isEqualTo(WAIT);
    assertThat(enumerator.handleSplitRequest(3, null)).isEqualTo(WAIT);
    assertThat(enumerator.serveWaiting()).isEmpty();

    enumerator.addSplitsBack(1);
    List<SplitEnumerator.Reply> replies = enumerator.serveWaiting();
    assertThat(replies).hasSize(1);
    assertThat(replies.get(0).consumerId()).isEqualTo(2);
    var retried = (SplitLease) replies.get(0).response();
    assertThat(retried.split()).isEqualTo(b.split());
    assertThat(retried.attempt()).isEqualTo(1);
    assertThat(enumerator.waitingConsumers()).containsExactly(3);

    assertThat(enumerator.complete(a)).isTrue();
    assertThat(enumerator.serveWaiting()).isEmpty();
    assertThat(enumerator.complete(retried)).isTrue();
    assertThat(enumerator.serveWaiting()).containsExactly(new SplitEnumerator.Reply(3, DONE));
  }

  @Test
  void aConsumerThatFailsWhileWaitingIsForgotten() {
    var enumerator = new SplitEnumerator(plan(List.of(List.of())));
    var lease = (SplitLease) enumerator.handleSplitRequest(0, null);
    assertThat(enumerator.handleSplitRequest(1, null)).isEqualTo(WAIT);
    assertThat(enumerator.addSplitsBack(1)).isZero();
    assertThat(enumerator.complete(lease)).isTrue();
    assertThat(enumerator.serveWaiting()).isEmpty();
  }

  @Test
  void staleAndForeignLeasesAreRejected() {
    EpochPlan plan = plan(List.of(List.of(), List.of()));
    var enumerator = new SplitEnumerator(plan);
    var lease = (SplitLease) enumerator.handleSplitRequest(0, null);
    var other = (SplitLease) enumerator.handleSplitRequest(1, null);

    assertThat(enumerator.complete(new SplitLease(5, 0, lease.split(), 0, 0))).isFalse();
    assertThat(enumerator.complete(new SplitLease(4, 0, lease.split(), 1, 0))).isFalse();
    assertThat(enumerator.complete(new SplitLease(4, 7, lease.split(), 0, 0))).isFalse();
    assertThat(enumerator.complete(lease)).isTrue();
    assertThat(enumerator.complete(lease)).isFalse();
    assertThat(enumerator.completedSplits()).isEqualTo(1);
    assertThat(enumerator.leasedSplits()).isEqualTo(1);
    assertThat(enumerator.leasesOf(1)).containsExactly(other);
    assertThatThrownBy(() -> enumerator.handleSplitRequest(-1, null))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void anEmptyEpochEndsAtOnce() {
    var enumerator = new SplitEnumerator(plan(List.of()));
    assertThat(enumerator.isFinished()).isTrue();
    assertThat(enumerator.handleSplitRequest(0, "a")).isEqualTo(DONE);
  }

  /**
   * Random interleavings of requests, completions (current and stale), splits handed back and
   * failures, then every survivor drains the epoch: each split is completed by exactly one accepted
   * lease, a request is served locally whenever a free split is on the requester's host, and nobody
   * is left waiting.
   */
  @Property(tries = 200)
  void everySplitIsCompletedExactlyOnceWhateverFails(
      @ForAll @Size(max = 25) List<@Size(max = 2) List<@IntRange(max = 3) Integer>> hostsOfSplits,
      @ForAll @Size(max = 150) List<@IntRange(max = 999) Integer> steps) {
    var hosts = new ArrayList<List<String>>();
    hostsOfSplits.forEach(h -> hosts.add(h.stream().distinct().map(i -> "h" + i).toList()));
    EpochPlan plan = plan(hosts);
    var enumerator = new SplitEnumerator(plan);
    int consumers = 4;
    Map<Integer, List<SplitLease>> held = new HashMap<>();
    List<SplitLease> everIssued = new ArrayList<>();
    Set<Integer> done = new HashSet<>();
    Set<Integer> waiting = new HashSet<>();

    for (int step : steps) {
      int consumer = step % consumers;
      String host = "h" + (step / consumers) % 5;
      switch ((step / 20) % 4) {
        case 0, 1 -> {
          if (waiting.contains(consumer)) {
            break;
          }
          SplitResponse response = request(enumerator, plan, done, held, consumer, host);
          record(response, consumer, held, everIssued, waiting);
        }
        case 2 -> {
          List<SplitLease> mine = held.getOrDefault(consumer, List.of());
          // Sometimes a lease of the past: a zombie's or an already completed one.
          SplitLease lease =
              !mine.isEmpty() && step % 3 != 0
                  ? mine.remove(0)
                  : everIssued.isEmpty() ? null : everIssued.get(step % everIssued.size());
          if (lease != null && enumerator.complete(lease)) {
            assertThat(done.add(lease.planPosition())).as("completed twice").isTrue();
            // A lease picked from the past may still be current: then its holder is done with it.
            held.getOrDefault(lease.consumerId(), new ArrayList<>()).remove(lease);
          }
          serve(enumerator, held, everIssued, waiting);
        }
        default -> {
          List<SplitLease> mine = held.getOrDefault(consumer, new ArrayList<>());
          if ((step / 80) % 2 == 0 && !mine.isEmpty()) {
            // It hands one split back (leaving) and keeps the others.
            assertThat(enumerator.giveBack(mine.remove(0))).isTrue();
            serve(enumerator, held, everIssued, waiting);
            break;
          }
          int givenBack = enumerator.addSplitsBack(consumer);
          List<SplitLease> lost = held.remove(consumer);
          assertThat(givenBack).isEqualTo(lost == null ? 0 : lost.size());
          waiting.remove(consumer);
          serve(enumerator, held, everIssued, waiting);
        }
      }
    }

    // Drain: everyone completes what it holds and asks again until the end.
    for (int round = 0; !enumerator.isFinished(); round++) {
      assertThat(round).as("epoch must finish").isLessThan(4 * plan.size() + 10);
      for (int consumer = 0; consumer < consumers; consumer++) {
        for (SplitLease lease : held.getOrDefault(consumer, new ArrayList<>())) {
          assertThat(enumerator.complete(lease)).isTrue();
          assertThat(done.add(lease.planPosition())).isTrue();
        }
        held.remove(consumer);
        serve(enumerator, held, everIssued, waiting);
        if (!waiting.contains(consumer)) {
          SplitResponse response = request(enumerator, plan, done, held, consumer, "h" + consumer);
          record(response, consumer, held, everIssued, waiting);
        }
      }
    }
    serve(enumerator, held, everIssued, waiting);
    assertThat(done).hasSize(plan.size());
    assertThat(waiting).isEmpty();
    assertThat(enumerator.waitingConsumers()).isEmpty();
  }

  private static SplitResponse request(
      SplitEnumerator enumerator,
      EpochPlan plan,
      Set<Integer> done,
      Map<Integer, List<SplitLease>> held,
      int consumer,
      String host) {
    Set<Integer> leased = new HashSet<>();
    held.values().forEach(ls -> ls.forEach(l -> leased.add(l.planPosition())));
    boolean localFree = false;
    for (int p = 0; p < plan.size(); p++) {
      localFree |= !done.contains(p) && !leased.contains(p) && plan.split(p).hosts().contains(host);
    }
    SplitResponse response = enumerator.handleSplitRequest(consumer, host);
    if (response instanceof SplitLease lease) {
      assertThat(done).doesNotContain(lease.planPosition());
      assertThat(leased).doesNotContain(lease.planPosition());
      if (localFree) {
        assertThat(lease.split().hosts()).contains(host);
      }
    }
    return response;
  }

  private static void record(
      SplitResponse response,
      int consumer,
      Map<Integer, List<SplitLease>> held,
      List<SplitLease> everIssued,
      Set<Integer> waiting) {
    if (response instanceof SplitLease lease) {
      held.computeIfAbsent(consumer, c -> new ArrayList<>()).add(lease);
      everIssued.add(lease);
    } else if (response instanceof SplitResponse.Wait) {
      waiting.add(consumer);
    }
  }

  private static void serve(
      SplitEnumerator enumerator,
      Map<Integer, List<SplitLease>> held,
      List<SplitLease> everIssued,
      Set<Integer> waiting) {
    for (SplitEnumerator.Reply reply : enumerator.serveWaiting()) {
      assertThat(waiting.remove(reply.consumerId())).isTrue();
      assertThat(reply.response()).isNotInstanceOf(SplitResponse.Wait.class);
      record(reply.response(), reply.consumerId(), held, everIssued, waiting);
    }
  }

  private static int position(SplitResponse response) {
    return ((SplitLease) response).planPosition();
  }

  /** Epoch 4 of an unshuffled plan with one split per host list. */
  private static EpochPlan plan(List<List<String>> hosts) {
    var splits = new ArrayList<SourceSplit>();
    for (int i = 0; i < hosts.size(); i++) {
      splits.add(new SourceSplit("src", i, List.of(i + ".tar"), 0, -1, 10, 1000, hosts.get(i)));
    }
    return EpochPlan.create(splits, 99, 4, false);
  }
}
