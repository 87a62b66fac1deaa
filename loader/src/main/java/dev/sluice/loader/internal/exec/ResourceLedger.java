package dev.sluice.loader.internal.exec;

import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * The logical resources of one execution, node by node: what each node offers and what the tasks
 * and actors placed on it hold now, and where the next one goes. The executor never launches what
 * fits no node. Scheduling thread only.
 */
final class ResourceLedger {
  private final Map<String, Node> nodes = new LinkedHashMap<>();
  private final Map<String, Resources> used = new LinkedHashMap<>();
  private final java.util.Set<String> leaving = new java.util.HashSet<>();
  private final ToLongFunction<String> memoryInUse;

  /** A ledger that knows nothing of the nodes' memory in use (every node's is free). */
  ResourceLedger(List<Node> nodes) {
    this(nodes, id -> 0);
  }

  /**
   * @param nodes the runtime's nodes
   * @param memoryInUse the bytes a node holds now (blocks in its store, tasks' reserves), by id
   */
  ResourceLedger(List<Node> nodes, ToLongFunction<String> memoryInUse) {
    this.memoryInUse = memoryInUse;
    if (nodes.isEmpty()) {
      throw new IllegalArgumentException("the runtime offers no node");
    }
    for (Node n : nodes) {
      if (this.nodes.put(n.id(), n) != null) {
        throw new IllegalArgumentException("two nodes named " + n.id());
      }
      used.put(n.id(), Resources.NONE);
    }
  }

  /** The nodes here (those leaving included), in the runtime's order. */
  List<Node> nodes() {
    return List.copyOf(nodes.values());
  }

  /** What all nodes offer together (those leaving aside). */
  Resources total() {
    Resources sum = Resources.NONE;
    for (Node n : nodes.values()) {
      if (leaving.contains(n.id())) {
        continue;
      }
      sum = sum.plus(n.resources());
    }
    return sum;
  }

  /** What tasks and actors hold, on all nodes together. */
  Resources used() {
    Resources sum = Resources.NONE;
    for (Resources r : used.values()) {
      sum = sum.plus(r);
    }
    return sum;
  }

  /** The host of node {@code nodeId}, or null when it is not (or no longer) a node here. */
  String hostOf(String nodeId) {
    Node n = nodes.get(nodeId);
    return n == null ? null : n.host();
  }

  /** Whether {@code r} fits on some node now. */
  boolean fits(Resources r) {
    for (Node n : nodes.values()) {
      if (!leaving.contains(n.id()) && free(n).fits(r)) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code r} fits on {@code n} now (false for a node lost or leaving). */
  boolean fitsOn(Node n, Resources r) {
    return nodes.containsKey(n.id()) && !leaving.contains(n.id()) && free(n).fits(r);
  }

  /**
   * Where a task or an actor asking for {@code r} and {@code memory} bytes goes: among the nodes
   * its CPUs and GPUs fit on now, first those with that much memory free (see {@link #freeMemory}),
   * then one whose host holds its input ({@code hosts}), then the one with the most CPUs free
   * (spreading work), then the most memory free, the first in the runtime's order on ties; null
   * when it fits nowhere. Never a node leaving. A node short of memory is still chosen when every
   * node is: the execution's memory budget, not placement, is the bound.
   */
  Node place(Resources r, Collection<String> hosts, long memory) {
    Node best = null;
    boolean bestRoom = false;
    boolean bestLocal = false;
    long bestMemory = 0;
    for (Node n : nodes.values()) {
      Resources free = free(n);
      if (leaving.contains(n.id()) || !free.fits(r)) {
        continue;
      }
      long freeMemory = freeMemory(n);
      boolean room = freeMemory >= memory;
      boolean local = hosts.contains(n.host());
      int cmp;
      if (best == null) {
        cmp = 1;
      } else if (room != bestRoom) {
        cmp = room ? 1 : -1;
      } else if (local != bestLocal) {
        cmp = local ? 1 : -1;
      } else {
        double cpus = free.cpus() - free(best).cpus();
        cmp = cpus > 1e-9 ? 1 : cpus < -1e-9 ? -1 : Long.compare(freeMemory, bestMemory);
      }
      if (cmp > 0) {
        best = n;
        bestRoom = room;
        bestLocal = local;
        bestMemory = freeMemory;
      }
    }
    return best;
  }

  /** As {@link #place(Resources, Collection, long)} for work that needs no memory of its own. */
  Node place(Resources r, Collection<String> hosts) {
    return place(r, hosts, 0);
  }

  /** The bytes {@code n} has free of its memory budget (blocks held and tasks' reserves used). */
  long freeMemory(Node n) {
    return n.memoryBudget() == Long.MAX_VALUE
        ? Long.MAX_VALUE
        : n.memoryBudget() - memoryInUse.applyAsLong(n.id());
  }

  void acquire(Node n, Resources r) {
    used.computeIfPresent(n.id(), (k, u) -> u.plus(r));
  }

  void release(Node n, Resources r) {
    used.computeIfPresent(n.id(), (k, u) -> u.minus(r));
  }

  /** A node joined the execution: tasks and actors may be placed on it from now on. */
  void add(Node n) {
    if (nodes.putIfAbsent(n.id(), n) == null) {
      used.put(n.id(), Resources.NONE);
    }
  }

  /**
   * Forgets a lost node, or a leaving one that holds nothing any more: nothing is placed on it any
   * more, and what it held is gone with it.
   */
  void lose(Node n) {
    nodes.remove(n.id());
    used.remove(n.id());
    leaving.remove(n.id());
  }

  /**
   * A node is leaving: nothing new is placed on it, while what it runs goes on and gives its
   * resources back as usual (until {@link #lose}).
   */
  void leave(Node n) {
    if (nodes.containsKey(n.id())) {
      leaving.add(n.id());
    }
  }

  /** Whether {@code n} is a node here that is leaving. */
  boolean isLeaving(Node n) {
    return leaving.contains(n.id());
  }

  /** What the tasks and actors on {@code n} hold now (nothing for a node not here). */
  Resources usedOn(Node n) {
    return used.getOrDefault(n.id(), Resources.NONE);
  }

  /** Whether some node left, and not leaving, offers {@code r} at all (free or not). */
  boolean canEverFit(Resources r) {
    for (Node n : nodes.values()) {
      if (!leaving.contains(n.id()) && n.resources().fits(r)) {
        return true;
      }
    }
    return false;
  }

  /** Whether the node with this id is still one of the execution's nodes. */
  boolean hasNode(String nodeId) {
    return nodes.containsKey(nodeId);
  }

  /** Whether {@code n} is still one of the execution's nodes. */
  boolean has(Node n) {
    return nodes.containsKey(n.id());
  }

  /** Whether nothing is held (every task and actor has given its resources back). */
  boolean idle() {
    Resources u = used();
    return u.cpus() < 1e-9 && u.gpus() < 1e-9;
  }

  private Resources free(Node n) {
    return n.resources().minus(used.get(n.id()));
  }
}
