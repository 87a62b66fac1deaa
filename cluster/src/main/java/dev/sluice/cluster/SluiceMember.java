package dev.sluice.cluster;

import com.hazelcast.cluster.InitialMembershipEvent;
import com.hazelcast.cluster.InitialMembershipListener;
import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import dev.sluice.loader.runtime.Node;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This JVM's membership of a Sluice cluster: an embedded Hazelcast member, started by {@link
 * #start}, left cleanly by {@link #close}. Whoever starts it owns it and must close it (Hazelcast's
 * own shutdown hook is off, so a JVM exit without {@code close} looks to the others like a crash).
 *
 * <p>It keeps a view of the cluster: the Sluice members of its own version, oldest first (the order
 * Hazelcast gives every member alike, so every member sees the same order); {@link #workers()} are
 * the workers among them as executor {@link Node}s, {@link #coordinator()} the oldest trainer or
 * the one named (in this member's configuration, else by the oldest member that names one). {@link
 * ClusterListener}s hear of workers joined, leaving and lost and of coordinator changes; the
 * coordinator is derived again on every change. A worker that says it is leaving ({@link
 * #announceLeaving}) is dropped from {@link #workers()} at once, and lost when it has gone.
 *
 * <p>Versions: Hazelcast 5.7 cannot refuse a joining member for an application reason, so the check
 * runs after the join. A member that finds another Sluice version among the members it joined
 * leaves at once and {@link #start} throws, naming them; the members already there log an error
 * naming it and never count it (it is in no view, and no listener hears of it).
 *
 * <p>Thread-safe. Events reach listeners on Hazelcast's event thread.
 */
public final class SluiceMember implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SluiceMember.class);

  private final ClusterConfig config;
  private final HazelcastInstance hazelcast;
  private volatile MemberInfo self; // a new id after merging back into the cluster
  private final List<ClusterListener> listeners = new CopyOnWriteArrayList<>();
  private final CountDownLatch down = new CountDownLatch(1);
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private View view; // guarded by lock
  private boolean closed; // guarded by lock
  private final Set<UUID> leaving = new HashSet<>(); // guarded by lock

  /**
   * Members that said they are leaving ({@link #announceLeaving}): member id to the time it said
   * so; each entry expires by itself.
   */
  public static final String LEAVING_MAP = "sluice.leaving";

  private SluiceMember(ClusterConfig config, HazelcastInstance hazelcast) {
    this.config = config;
    this.hazelcast = hazelcast;
    this.self = MemberInfo.of(hazelcast.getCluster().getLocalMember());
    this.view = View.of(hazelcast.getCluster().getMembers(), config);
    hazelcast
        .getLifecycleService()
        .addLifecycleListener(
            e -> {
              switch (e.getState()) {
                case SHUTDOWN -> stopped();
                case MERGING -> merging();
                case MERGED -> merged();
                case MERGE_FAILED ->
                    log.error(
                        "cluster '{}': {} failed to merge back into the cluster it was cut off"
                            + " from (see Hazelcast's log above); it stays on its own",
                        config.clusterName(),
                        self.describe());
                default -> {}
              }
            });
    hazelcast.getCluster().addMembershipListener(new Membership());
  }

  /** Hazelcast found the other side of a split and merges this side into it. */
  private void merging() {
    log.warn(
        "cluster '{}': {} was cut off from the rest of the cluster (a network partition, or a"
            + " process paused for longer than {} s) and now merges back into it: it rejoins as a"
            + " new member; what it did on its own side is dropped",
        config.clusterName(),
        self.describe(),
        config.maxNoHeartbeat().toSeconds());
  }

  /** This member merged back into the cluster, under a new id. */
  private void merged() {
    MemberInfo before = self;
    MemberInfo after = MemberInfo.of(hazelcast.getCluster().getLocalMember());
    self = after;
    log.warn(
        "cluster '{}': {} merged back into the cluster as {} ({} members)",
        config.clusterName(),
        before.describe(),
        after.id(),
        hazelcast.getCluster().getMembers().size());
    update(hazelcast.getCluster().getMembers());
    tell(l -> l.merged(before, after), "merged " + after);
  }

  /** Listens for members that say they leave, and reads those that said so before. */
  private void watchLeaving() {
    com.hazelcast.map.IMap<String, Long> announced = hazelcast.getMap(LEAVING_MAP);
    announced.addEntryListener(
        (com.hazelcast.map.listener.EntryAddedListener<String, Long>)
            e -> markLeaving(UUID.fromString(e.getKey())),
        false);
    if (hazelcast.getCluster().getMembers().stream().allMatch(Member::isLiteMember)) {
      return; // no data member, so no worker: none leaving (and the map cannot be read)
    }
    for (String id : announced.keySet()) { // said before this member listened
      markLeaving(UUID.fromString(id));
    }
  }

  /**
   * Says that this member is leaving cleanly: every member's view drops it from {@link #workers()}
   * and its listeners hear {@link ClusterListener#workerLeaving}; it stays a member (and serves)
   * until it closes. The word lasts {@code ttl}, long enough for a member that starts an execution
   * meanwhile to read it.
   *
   * @throws ClusterException when the cluster did not take the word within 10 s
   */
  public void announceLeaving(Duration ttl) {
    com.hazelcast.map.IMap<String, Long> announced = hazelcast.getMap(LEAVING_MAP);
    try {
      announced
          .putAsync(
              self.id().toString(),
              System.currentTimeMillis(),
              Math.max(1, ttl.toSeconds()),
              TimeUnit.SECONDS)
          .toCompletableFuture()
          .get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ClusterException("interrupted while saying that " + self + " leaves", e);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new ClusterException(
          "cluster '" + config.clusterName() + "' did not take the word that " + self + " leaves",
          e);
    }
    markLeaving(self.id());
  }

  /** Whether the member with this id said it is leaving (see {@link #announceLeaving}). */
  public boolean isLeaving(UUID id) {
    lock.lock();
    try {
      return leaving.contains(id);
    } finally {
      lock.unlock();
    }
  }

  private void markLeaving(UUID id) {
    MemberInfo worker = null;
    lock.lock();
    try {
      if (!leaving.add(id)) {
        return;
      }
      for (MemberInfo m : view.members) {
        if (m.id().equals(id) && m.role() == Role.WORKER) {
          worker = m;
        }
      }
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    if (worker != null) {
      MemberInfo w = worker;
      if (!w.id().equals(self.id())) {
        log.info(
            "cluster '{}': {} is leaving (its work is handed over)",
            config.clusterName(),
            w.describe());
      }
      tell(l -> l.workerLeaving(w.toNode()), "workerLeaving " + w);
    }
  }

  /**
   * Starts a member and joins the cluster: returns once Hazelcast has joined the members listed or,
   * when none answers within the join timeout, formed a cluster of its own (the first member of a
   * cluster does that legitimately; a member given addresses that ends up alone logs a warning
   * naming them).
   *
   * @throws ClusterException when Hazelcast cannot start (the port is taken, the address is not
   *     this machine's), or when a member of another Sluice version is in the cluster joined: the
   *     member has then left again, and the message names those members and both versions
   */
  public static SluiceMember start(ClusterConfig config) {
    return start(config, java.util.Map.of());
  }

  /**
   * As {@link #start(ClusterConfig)}, with {@code userContext} in Hazelcast's user context from the
   * first moment (calls that arrive as soon as the member has joined find it there).
   */
  public static SluiceMember start(
      ClusterConfig config, java.util.Map<String, Object> userContext) {
    HazelcastInstance hz;
    dev.sluice.cluster.internal.HazelcastCallbacks.acquire();
    try {
      com.hazelcast.config.Config hc = config.toHazelcastConfig();
      hc.setUserContext(new java.util.concurrent.ConcurrentHashMap<>(userContext));
      hz = Hazelcast.newHazelcastInstance(hc);
    } catch (ClusterException e) {
      dev.sluice.cluster.internal.HazelcastCallbacks.release();
      throw e;
    } catch (RuntimeException e) {
      dev.sluice.cluster.internal.HazelcastCallbacks.release();
      throw new ClusterException("cannot start the Sluice member (" + config + "): " + e, e);
    }
    SluiceMember member = null;
    try {
      refuseOtherVersions(hz, config);
      member = new SluiceMember(config, hz);
      member.watchLeaving();
      member.warnIfAlone();
      log.debug("joined: {}", member.self);
      return member;
    } catch (RuntimeException | Error e) {
      try {
        hz.shutdown();
      } finally {
        if (member == null) {
          dev.sluice.cluster.internal.HazelcastCallbacks.release();
        } else {
          member.stopped(); // once, whether the shutdown told it or not
        }
      }
      throw e;
    }
  }

  private static void refuseOtherVersions(HazelcastInstance hz, ClusterConfig config) {
    List<String> others = new ArrayList<>();
    for (Member m : hz.getCluster().getMembers()) {
      String version = m.getAttribute(MemberInfo.VERSION);
      if (!m.localMember() && !config.sluiceVersion().equals(version)) {
        others.add(
            describe(m) + " runs Sluice " + (version == null ? "(none: not Sluice)" : version));
      }
    }
    if (!others.isEmpty()) {
      throw new ClusterException(
          "this member ("
              + describe(hz.getCluster().getLocalMember())
              + ") runs Sluice "
              + config.sluiceVersion()
              + " but cluster '"
              + config.clusterName()
              + "' has members of another version: "
              + String.join("; ", others)
              + ". It left the cluster again: start every member with the same Sluice version.");
    }
  }

  /** A member for messages, whether or not it is a Sluice member. */
  private static String describe(Member m) {
    try {
      return MemberInfo.of(m).describe();
    } catch (ClusterException e) {
      return "member " + m.getUuid() + " at " + MemberInfo.addressOf(m);
    }
  }

  private void warnIfAlone() {
    if (hazelcast.getCluster().getMembers().size() > 1) {
      return;
    }
    List<String> elsewhere = new ArrayList<>();
    for (String address : config.members()) {
      if (!isSelf(address)) {
        elsewhere.add(address);
      }
    }
    if (!elsewhere.isEmpty()) {
      log.warn(
          "{} is alone in cluster '{}': no member of it answered at {} (refused, no answer within"
              + " the join timeout of {} s, or another cluster name). If other members are running,"
              + " check that they are reachable from {} and use the cluster name '{}'. (The first"
              + " member of a cluster is alone until others join it.)",
          self.describe(),
          config.clusterName(),
          String.join(", ", elsewhere),
          config.joinTimeout().toSeconds(),
          config.bindAddress(),
          config.clusterName());
    }
  }

  // Whether a configured address is this member's own (the same list on every machine names it).
  private boolean isSelf(String address) {
    String host = address;
    int port = -1;
    int colon = address.lastIndexOf(':');
    if (colon > 0 && address.indexOf(':') == colon) {
      host = address.substring(0, colon);
      port = Integer.parseInt(address.substring(colon + 1));
    }
    var own = hazelcast.getCluster().getLocalMember().getAddress();
    try {
      String ip = InetAddress.getByName(host).getHostAddress();
      return ip.equals(own.getInetAddress().getHostAddress())
          && (port == -1 || port == own.getPort());
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** The configuration it was started with. */
  public ClusterConfig config() {
    return config;
  }

  /** This member. */
  public MemberInfo self() {
    return self;
  }

  /** The embedded Hazelcast instance, for Sluice's cluster runtime; never shut it down directly. */
  public HazelcastInstance hazelcast() {
    return hazelcast;
  }

  /** The Sluice members of this version, this one included, oldest first. */
  public List<MemberInfo> members() {
    lock.lock();
    try {
      return view.members;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The workers as executor nodes (id: the member's UUID; host: its host label), oldest first: a
   * stable order, the same on every member. Not those leaving.
   */
  public List<Node> workers() {
    lock.lock();
    try {
      return staying();
    } finally {
      lock.unlock();
    }
  }

  // Guarded by lock.
  private List<Node> staying() {
    List<Node> workers = new ArrayList<>();
    for (Node n : view.workers()) {
      if (!leaving.contains(UUID.fromString(n.id()))) {
        workers.add(n);
      }
    }
    return List.copyOf(workers);
  }

  /**
   * The coordinating trainer: the one named in this member's configuration, else the one the oldest
   * member naming one names, else the oldest trainer; or none.
   */
  public Optional<MemberInfo> coordinator() {
    lock.lock();
    try {
      return view.coordinator;
    } finally {
      lock.unlock();
    }
  }

  /** Whether this member is the coordinator. */
  public boolean isCoordinator() {
    return coordinator().map(c -> c.id().equals(self.id())).orElse(false);
  }

  /**
   * Waits until at least {@code n} workers are members, and returns them all.
   *
   * @throws ClusterException when they are not there within {@code timeout}, or the member stopped:
   *     the message names the cluster name, the addresses this member tried, the members it does
   *     see, and the likely causes
   */
  public List<Node> awaitWorkers(int n, Duration timeout) throws InterruptedException {
    if (n < 0) {
      throw new IllegalArgumentException("workers to await must be >= 0: " + n);
    }
    long start = System.nanoTime();
    long left = timeout.toNanos();
    lock.lock();
    try {
      while (staying().size() < n) {
        if (closed) {
          throw new ClusterException(
              "cluster '" + config.clusterName() + "': this member stopped while awaiting workers");
        }
        if (left <= 0) {
          throw new ClusterException(
              missingWorkers(n, Duration.ofNanos(System.nanoTime() - start)));
        }
        left = changed.awaitNanos(left);
      }
      return staying();
    } finally {
      lock.unlock();
    }
  }

  // Guarded by lock.
  private String missingWorkers(int n, Duration waited) {
    StringBuilder sb = new StringBuilder();
    sb.append("cluster '")
        .append(config.clusterName())
        .append("': ")
        .append(view.workers().size())
        .append(" of ")
        .append(n)
        .append(" workers after ")
        .append(String.format("%.1f s", waited.toMillis() / 1000.0))
        .append(". This member: ")
        .append(self)
        .append(". Addresses tried: ")
        .append(
            config.members().isEmpty()
                ? "none (started without addresses to join: workers must join it)"
                : String.join(", ", config.members()))
        .append(". Members seen: ");
    List<String> seen = new ArrayList<>();
    view.members.forEach(m -> seen.add(m.toString()));
    seen.addAll(view.ignored);
    sb.append(String.join("; ", seen))
        .append(". Likely causes: the workers use another cluster name (this one is '")
        .append(config.clusterName())
        .append("'); an address above is wrong or unreachable from ")
        .append(config.bindAddress())
        .append(" (check each sluice-worker's --bind and --port, and firewalls); the workers run")
        .append(" another Sluice version than ")
        .append(config.sluiceVersion())
        .append(" (they leave and say so in their logs); or they have not been started.");
    return sb.toString();
  }

  /**
   * Tells {@code listener} of changes from now on, until the returned action is run. It hears of no
   * member already there: read {@link #workers()} after adding it.
   */
  public Runnable addListener(ClusterListener listener) {
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** Whether the member is still in the cluster (not closed, Hazelcast not stopped). */
  public boolean isRunning() {
    return down.getCount() > 0;
  }

  /** Waits until the member has stopped: closed, or Hazelcast stopped by itself. */
  public void awaitStopped() throws InterruptedException {
    down.await();
  }

  /** {@link #awaitStopped()}, bounded; whether it stopped. */
  public boolean awaitStopped(Duration timeout) throws InterruptedException {
    return down.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Leaves the cluster cleanly ({@code HazelcastInstance.shutdown()}: the others are told at once,
   * and no failure detection is needed); waits until it is done. Idempotent.
   */
  @Override
  public void close() {
    lock.lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    try {
      hazelcast.shutdown();
    } finally {
      stopped();
    }
  }

  /**
   * This member's share of {@link dev.sluice.cluster.internal.HazelcastCallbacks}, given back once.
   */
  private final java.util.concurrent.atomic.AtomicBoolean callbacksReleased =
      new java.util.concurrent.atomic.AtomicBoolean();

  private void stopped() {
    if (callbacksReleased.compareAndSet(false, true)) {
      dev.sluice.cluster.internal.HazelcastCallbacks.release();
    }
    lock.lock();
    try {
      closed = true;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    down.countDown();
  }

  // Takes the members Hazelcast reports after a change, and tells the listeners what changed.
  private void update(Collection<Member> members) {
    View before;
    View after;
    Set<UUID> announced;
    lock.lock();
    try {
      before = view;
      after = View.of(members, config);
      view = after;
      Set<UUID> present = new HashSet<>();
      after.members.forEach(m -> present.add(m.id()));
      announced = Set.copyOf(leaving);
      leaving.retainAll(present);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    Set<UUID> had = new HashSet<>();
    before.members.forEach(m -> had.add(m.id()));
    Set<UUID> has = new HashSet<>();
    after.members.forEach(m -> has.add(m.id()));
    // This member under the id it had before it merged back: not another member gone.
    before.members.forEach(
        m -> {
          if (m.address().equals(self.address())) {
            has.add(m.id());
          }
        });
    warnIfSplit(before, after, has, announced);
    for (MemberInfo m : before.members) {
      if (m.role() == Role.WORKER && !has.contains(m.id())) {
        log.info(
            "cluster '{}': {} is gone ({} workers left)",
            config.clusterName(),
            m.describe(),
            after.workers().size());
        tell(l -> l.workerLost(m.toNode()), "workerLost " + m);
      }
    }
    for (MemberInfo m : before.members) {
      if (m.role() == Role.TRAINER && !has.contains(m.id())) {
        log.info("cluster '{}': {} is gone", config.clusterName(), m.describe());
        tell(l -> l.trainerLost(m), "trainerLost " + m);
      }
    }
    for (MemberInfo m : after.members) {
      if (m.role() == Role.WORKER && !had.contains(m.id())) {
        tell(l -> l.workerJoined(m.toNode()), "workerJoined " + m);
      }
    }
    if (!before.coordinator.equals(after.coordinator)) {
      log.info(
          "cluster '{}': coordinator is now {}",
          config.clusterName(),
          after.coordinator.map(MemberInfo::describe).orElse("none"));
      tell(l -> l.coordinatorChanged(after.coordinator), "coordinatorChanged");
    }
  }

  /**
   * Members gone within two heartbeat intervals of each other (not counting those that said they
   * leave), as many as stay or more: most likely a network partition (a split brain) rather than
   * crashes. Warns once per such loss, naming both sides.
   */
  private void warnIfSplit(View before, View after, Set<UUID> has, Set<UUID> announced) {
    long now = System.nanoTime();
    // A member cut off loses the others in one or two rounds of heartbeat checks.
    long window = 2 * config.heartbeatInterval().toNanos();
    synchronized (recentlyGone) {
      recentlyGone.removeIf(g -> now - g.at() > window);
      if (recentlyGone.isEmpty()) {
        splitWarned = false;
      }
      for (MemberInfo m : before.members) {
        if (!has.contains(m.id()) && !announced.contains(m.id())) { // not one that said it leaves
          recentlyGone.add(new Gone(m.describe(), now));
        }
      }
      int total = recentlyGone.size() + after.members.size();
      if (splitWarned || recentlyGone.size() < 2 || recentlyGone.size() < after.members.size()) {
        return;
      }
      splitWarned = true;
      List<String> gone = new ArrayList<>();
      recentlyGone.forEach(g -> gone.add(g.member()));
      List<String> side = new ArrayList<>();
      after.members.forEach(m -> side.add(m.describe()));
      log.warn(
          "cluster '{}': {} of {} members are gone at once: {}. This side goes on with {}. If they"
              + " still run, the network is split (or this process was paused): each side goes on"
              + " alone, and Hazelcast merges them back (the smaller into the larger, within {} s"
              + " of their reaching each other again); the work this side lost is made again"
              + " here.",
          config.clusterName(),
          gone.size(),
          total,
          String.join("; ", gone),
          String.join("; ", side),
          config.mergeInterval().toSeconds());
    }
  }

  /** Members gone lately (see {@link #warnIfSplit}). */
  private final List<Gone> recentlyGone = new ArrayList<>();

  private boolean splitWarned; // guarded by recentlyGone

  private record Gone(String member, long at) {}

  private void tell(java.util.function.Consumer<ClusterListener> event, String what) {
    for (ClusterListener l : listeners) {
      try {
        event.accept(l);
      } catch (RuntimeException e) {
        log.error("cluster listener {} failed on {}", l, what, e);
      }
    }
  }

  /** Hazelcast's membership events, turned into the view's changes. */
  private final class Membership implements InitialMembershipListener {
    @Override
    public void init(InitialMembershipEvent event) {
      update(event.getMembers());
    }

    @Override
    public void memberAdded(MembershipEvent event) {
      Member m = event.getMember();
      String version = m.getAttribute(MemberInfo.VERSION);
      if (!config.sluiceVersion().equals(version)) {
        log.error(
            "{} joined cluster '{}' running Sluice {}, but this member ({}) runs Sluice {}: it is"
                + " not counted, and it leaves by itself. Start every member with the same Sluice"
                + " version.",
            describe(m),
            config.clusterName(),
            version == null ? "(none: not a Sluice member)" : version,
            self.describe(),
            config.sluiceVersion());
      }
      update(event.getMembers());
    }

    @Override
    public void memberRemoved(MembershipEvent event) {
      update(event.getMembers());
    }
  }

  /**
   * The members at one moment: those of this Sluice version (oldest first), a description of every
   * other member, and the coordinator derived from them.
   */
  private record View(
      List<MemberInfo> members, List<String> ignored, Optional<MemberInfo> coordinator) {
    static View of(Collection<Member> all, ClusterConfig config) {
      List<MemberInfo> members = new ArrayList<>();
      List<String> ignored = new ArrayList<>();
      String named = config.coordinator();
      for (Member m : all) {
        String version = m.getAttribute(MemberInfo.VERSION);
        if (!config.sluiceVersion().equals(version)) {
          ignored.add(
              describe(m) + ", Sluice " + (version == null ? "(none: not Sluice)" : version));
          continue;
        }
        try {
          members.add(MemberInfo.of(m));
        } catch (ClusterException e) {
          ignored.add(e.getMessage());
          continue;
        }
        if (named == null) {
          named = m.getAttribute(MemberInfo.COORDINATOR); // the oldest that names one
        }
      }
      Optional<MemberInfo> coordinator = Optional.empty();
      for (MemberInfo m : members) {
        if (m.role() == Role.TRAINER && (named == null || named.equals(m.name()))) {
          coordinator = Optional.of(m);
          break;
        }
      }
      return new View(List.copyOf(members), List.copyOf(ignored), coordinator);
    }

    List<Node> workers() {
      List<Node> workers = new ArrayList<>();
      for (MemberInfo m : members) {
        if (m.role() == Role.WORKER) {
          workers.add(m.toNode());
        }
      }
      return List.copyOf(workers);
    }
  }
}
