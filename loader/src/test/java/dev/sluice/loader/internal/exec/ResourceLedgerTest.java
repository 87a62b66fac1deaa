package dev.sluice.loader.internal.exec;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Placement: resources first, then free memory, then locality, then free CPUs and memory. */
class ResourceLedgerTest {
  private final Map<String, Long> inUse = new HashMap<>();

  private ResourceLedger ledger(Node... nodes) {
    for (Node n : nodes) {
      inUse.putIfAbsent(n.id(), 0L);
    }
    return new ResourceLedger(List.of(nodes), inUse::get);
  }

  @Test
  void aNodeShortOfMemoryLosesItsLocalityToOneWithRoom() {
    Node a = new Node("a", "h1", Resources.cpus(2), 1_000);
    Node b = new Node("b", "h2", Resources.cpus(2), 1_000);
    ResourceLedger ledger = ledger(a, b);
    inUse.put("a", 900L);
    // The input is on h1, but a has only 100 bytes free of the 500 the task reserves.
    assertThat(ledger.place(Resources.cpus(1), List.of("h1"), 500)).isEqualTo(b);
    // A task that needs 50 bytes fits on a, its input's host.
    assertThat(ledger.place(Resources.cpus(1), List.of("h1"), 50)).isEqualTo(a);
    assertThat(ledger.freeMemory(a)).isEqualTo(100);
  }

  @Test
  void whenNoNodeHasRoomLocalityThenFreeCpusThenFreeMemoryDecide() {
    Node a = new Node("a", "h1", Resources.cpus(2), 1_000);
    Node b = new Node("b", "h2", Resources.cpus(2), 1_000);
    Node c = new Node("c", "h3", Resources.cpus(2), 1_000);
    ResourceLedger ledger = ledger(a, b, c);
    inUse.put("a", 990L);
    inUse.put("b", 950L);
    inUse.put("c", 900L);
    assertThat(ledger.place(Resources.cpus(1), List.of("h1"), 500)).isEqualTo(a);
    // No locality: c has the most memory free among nodes with as many CPUs free.
    assertThat(ledger.place(Resources.cpus(1), List.of(), 500)).isEqualTo(c);
    ledger.acquire(c, Resources.cpus(1));
    // Now c has fewer CPUs free: b (more CPUs free than c, more memory free than a) wins.
    assertThat(ledger.place(Resources.cpus(1), List.of(), 500)).isEqualTo(b);
  }

  @Test
  void resourcesAlwaysComeFirstAndANodeWithoutABudgetAlwaysHasRoom() {
    Node a = new Node("a", "h1", Resources.cpus(1), 1_000);
    Node b = new Node("b", "h2", Resources.cpus(1));
    ResourceLedger ledger = ledger(a, b);
    inUse.put("b", Long.MAX_VALUE / 2);
    assertThat(ledger.place(Resources.cpus(1), List.of("h1"), 5_000)).isEqualTo(b);
    ledger.acquire(b, Resources.cpus(1));
    assertThat(ledger.place(Resources.cpus(1), List.of(), 5_000)).isEqualTo(a);
    ledger.acquire(a, Resources.cpus(1));
    assertThat(ledger.place(Resources.cpus(1), List.of(), 0)).isNull();
  }
}
