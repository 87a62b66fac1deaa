package dev.sluice.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MemberAttributeConfig;
import com.hazelcast.config.NetworkConfig;
import dev.sluice.cluster.internal.SluiceSerialization;
import dev.sluice.loader.runtime.Resources;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How a member joins a Sluice cluster and what it offers. Immutable; made by a {@link Builder},
 * which checks every value, so a configuration that exists is one Hazelcast accepts.
 *
 * <p>Members find each other over TCP/IP from a list of addresses, never by multicast or cloud
 * auto-detection: a Sluice cluster is exactly the machines named. Everything binds to one address,
 * {@code 127.0.0.1} unless told otherwise, so that several members on one machine each take their
 * own loopback address (127.0.0.2, 127.0.0.3, ...: all of 127/8 reaches the loopback device on
 * Linux) and look like separate hosts.
 *
 * <p>Failure detection and the join timeouts default to Hazelcast's production values; tests use
 * short ones. What a bad configuration does, measured with Hazelcast 5.7 on loopback: a member
 * whose addresses refuse connections, or answer with another cluster name, does not fail; Hazelcast
 * gives up on each such address and the member forms a cluster of its own, in about a second
 * whatever the join timeout (Hazelcast cannot tell "wrong" from "first"). An address that does not
 * answer at all (a firewall dropping packets) is waited for up to about {@link Builder#joinTimeout}
 * (not measured: loopback always answers). {@link SluiceMember#awaitWorkers} is where a member left
 * alone becomes an error.
 */
public final class ClusterConfig {
  /** Threads of the executor the scheduler's calls run on, on each member. */
  static final int EXECUTOR_THREADS = 64;

  /** The cluster name when none is given. */
  public static final String DEFAULT_CLUSTER_NAME = "sluice";

  /** The bind address when none is given: loopback, so that nothing is exposed by default. */
  public static final String DEFAULT_BIND_ADDRESS = "127.0.0.1";

  /** Hazelcast's member port. */
  public static final int DEFAULT_PORT = 5701;

  /** Ports tried from the port up when it is taken (Hazelcast's default). */
  public static final int DEFAULT_PORT_COUNT = 100;

  /** Hazelcast's production heartbeat interval. */
  public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(5);

  /** Hazelcast's production failure-detection time: a member silent this long is removed. */
  public static final Duration DEFAULT_MAX_NO_HEARTBEAT = Duration.ofSeconds(60);

  /** Hazelcast's TCP/IP connection timeout, which bounds each join attempt. */
  public static final Duration DEFAULT_JOIN_TIMEOUT = Duration.ofSeconds(5);

  /** Hazelcast's bound on the whole join ({@code hazelcast.max.join.seconds}). */
  public static final Duration DEFAULT_MAX_JOIN_TIME = Duration.ofSeconds(300);

  /**
   * How often the sides of a split cluster look for each other to merge again (Hazelcast's {@code
   * hazelcast.merge.first.run.delay.seconds} and {@code next.run.delay.seconds}, 300 s and 120 s by
   * default there): a worker cut off for a while comes back within about this long once it can
   * reach the others.
   */
  public static final Duration DEFAULT_MERGE_INTERVAL = Duration.ofSeconds(60);

  // Hazelcast instance names must be unique in a JVM; they prefix every thread of the instance.
  private static final AtomicInteger INSTANCES = new AtomicInteger();

  private final Role role;
  private final String clusterName;
  private final List<String> members;
  private final String bindAddress;
  private final int port;
  private final int portCount;
  private final String hostLabel;
  private final Resources resources;
  private final long memoryBudget;
  private final String transport;
  private final String memberName;
  private final String coordinator;
  private final String sluiceVersion;
  private final Duration heartbeatInterval;
  private final Duration maxNoHeartbeat;
  private final Duration joinTimeout;
  private final Duration maxJoinTime;
  private final Duration mergeInterval;

  private ClusterConfig(Builder b) {
    this.role = b.role;
    this.clusterName = b.clusterName;
    this.members = List.copyOf(b.members);
    this.bindAddress = b.bindAddress;
    this.port = b.port;
    this.portCount = b.portCount;
    this.hostLabel = b.hostLabel == null ? b.bindAddress : b.hostLabel;
    this.resources = b.resources;
    this.memoryBudget = b.memoryBudget;
    this.transport = b.transport;
    this.memberName = b.memberName;
    this.coordinator = b.coordinator;
    this.sluiceVersion = b.sluiceVersion;
    this.heartbeatInterval = b.heartbeatInterval;
    this.maxNoHeartbeat = b.maxNoHeartbeat;
    this.joinTimeout = b.joinTimeout;
    this.maxJoinTime = b.maxJoinTime;
    this.mergeInterval = b.mergeInterval;
  }

  /** A worker's configuration: it must be given the resources and memory budget it offers. */
  public static Builder worker() {
    return new Builder(Role.WORKER);
  }

  /** A trainer's configuration: a lite member, offering its GPUs (none unless given). */
  public static Builder trainer() {
    return new Builder(Role.TRAINER);
  }

  /** A builder holding this configuration's values. */
  public Builder toBuilder() {
    Builder b = new Builder(role);
    b.clusterName = clusterName;
    b.members = new ArrayList<>(members);
    b.bindAddress = bindAddress;
    b.port = port;
    b.portCount = portCount;
    b.hostLabel = hostLabel.equals(bindAddress) ? null : hostLabel;
    b.resources = resources;
    b.memoryBudget = memoryBudget;
    b.transport = transport;
    b.memberName = memberName;
    b.coordinator = coordinator;
    b.sluiceVersion = sluiceVersion;
    b.heartbeatInterval = heartbeatInterval;
    b.maxNoHeartbeat = maxNoHeartbeat;
    b.joinTimeout = joinTimeout;
    b.maxJoinTime = maxJoinTime;
    b.mergeInterval = mergeInterval;
    return b;
  }

  /** Worker or trainer. */
  public Role role() {
    return role;
  }

  /** The cluster name; members of other names never join this cluster. */
  public String clusterName() {
    return clusterName;
  }

  /** The addresses to join, {@code host[:port]} each, as given; empty: start alone. */
  public List<String> members() {
    return members;
  }

  /** The one address the member binds to and advertises. */
  public String bindAddress() {
    return bindAddress;
  }

  /** The port to listen on; 0: any free port the system picks. */
  public int port() {
    return port;
  }

  /** How many ports from {@link #port()} up are tried when it is taken (1: that port only). */
  public int portCount() {
    return portCount;
  }

  /** The host label locality is decided on; by default the bind address. */
  public String hostLabel() {
    return hostLabel;
  }

  /** The CPUs and GPUs offered. */
  public Resources resources() {
    return resources;
  }

  /** The memory budget in bytes; {@link Long#MAX_VALUE}: none of its own (a trainer's default). */
  public long memoryBudget() {
    return memoryBudget;
  }

  /** The data plane's {@code host:port} advertised as {@code sluice.transport}, or null. */
  public String transport() {
    return transport;
  }

  /** The member's name advertised as {@code sluice.name}, or null. */
  public String memberName() {
    return memberName;
  }

  /**
   * The name of the trainer that coordinates, or null: the one the oldest member naming one names,
   * else the oldest trainer.
   */
  public String coordinator() {
    return coordinator;
  }

  /** The Sluice version advertised and compared on joining. */
  public String sluiceVersion() {
    return sluiceVersion;
  }

  /** How often members tell each other they are alive. */
  public Duration heartbeatInterval() {
    return heartbeatInterval;
  }

  /** How long a silent member stays in the cluster before it is removed. */
  public Duration maxNoHeartbeat() {
    return maxNoHeartbeat;
  }

  /** How long each join attempt waits for the members listed to answer. */
  public Duration joinTimeout() {
    return joinTimeout;
  }

  /** The bound on the whole join, however the members answer. */
  public Duration maxJoinTime() {
    return maxJoinTime;
  }

  /** How often the sides of a split cluster look for each other to merge again. */
  public Duration mergeInterval() {
    return mergeInterval;
  }

  /**
   * The Hazelcast configuration of this member: TCP/IP join from {@link #members()} (multicast and
   * auto-detection off), bound to {@link #bindAddress()} alone, a lite member for a trainer, the
   * Sluice attributes, Sluice's serializers and Java deserialization allow-list, logging through
   * SLF4J, phone-home and Hazelcast's own shutdown hook off (whoever starts a member shuts it down,
   * with a clean leave), and the failure-detection and join timings.
   *
   * @throws ClusterException when the bind address cannot be resolved
   */
  public Config toHazelcastConfig() {
    String bindIp = resolve(bindAddress);
    Config c = new Config();
    c.setInstanceName(
        "sluice-" + role.attributeValue() + "-" + hostLabel + "-" + INSTANCES.incrementAndGet());
    c.setClusterName(clusterName);
    c.setLiteMember(role == Role.TRAINER);
    c.getJetConfig().setEnabled(false);

    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.logging.type", "slf4j");
    c.setProperty("hazelcast.shutdownhook.enabled", "false");
    c.setProperty("hazelcast.local.localAddress", bindIp);
    c.setProperty("hazelcast.socket.bind.any", "false");
    c.setProperty(
        "hazelcast.heartbeat.interval.seconds", Long.toString(heartbeatInterval.toSeconds()));
    c.setProperty("hazelcast.max.no.heartbeat.seconds", Long.toString(maxNoHeartbeat.toSeconds()));
    c.setProperty("hazelcast.max.join.seconds", Long.toString(maxJoinTime.toSeconds()));
    c.setProperty(
        "hazelcast.merge.first.run.delay.seconds", Long.toString(mergeInterval.toSeconds()));
    c.setProperty(
        "hazelcast.merge.next.run.delay.seconds", Long.toString(mergeInterval.toSeconds()));

    NetworkConfig network = c.getNetworkConfig();
    network.setPort(port);
    network.setPortAutoIncrement(port != 0 && portCount > 1);
    network.setPortCount(portCount);
    network.getInterfaces().setEnabled(true).addInterface(bindIp);
    JoinConfig join = network.getJoin();
    join.getMulticastConfig().setEnabled(false);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig()
        .setEnabled(true)
        .setMembers(new ArrayList<>(members))
        .setConnectionTimeoutSeconds((int) joinTimeout.toSeconds());

    MemberAttributeConfig attributes = c.getMemberAttributeConfig();
    attributes.setAttribute(MemberInfo.ROLE, role.attributeValue());
    attributes.setAttribute(MemberInfo.VERSION, sluiceVersion);
    attributes.setAttribute(MemberInfo.HOST, hostLabel);
    attributes.setAttribute(MemberInfo.CPUS, Double.toString(resources.cpus()));
    attributes.setAttribute(MemberInfo.GPUS, Double.toString(resources.gpus()));
    if (memoryBudget != Long.MAX_VALUE) {
      attributes.setAttribute(MemberInfo.MEMORY, Long.toString(memoryBudget));
    }
    if (transport != null) {
      attributes.setAttribute(MemberInfo.TRANSPORT, transport);
    }
    if (memberName != null) {
      attributes.setAttribute(MemberInfo.NAME, memberName);
    }
    if (coordinator != null) {
      attributes.setAttribute(MemberInfo.COORDINATOR, coordinator);
    }

    SluiceSerialization.configure(c.getSerializationConfig());
    // The split leases outlive the worker that holds them: one synchronous backup elsewhere.
    c.addMapConfig(
        new com.hazelcast.config.MapConfig(dev.sluice.cluster.exec.SplitLeases.MAP)
            .setBackupCount(1)
            .setAsyncBackupCount(0));
    // The scheduler's calls: a worker's call waits for its task or actor call to end, so the pool
    // is as large as the tasks, actor calls and opens that may be in flight on one worker.
    c.getExecutorConfig(dev.sluice.cluster.exec.ClusterRuntime.EXECUTOR)
        .setPoolSize(EXECUTOR_THREADS);
    return c;
  }

  private static String resolve(String address) {
    try {
      return InetAddress.getByName(address).getHostAddress();
    } catch (UnknownHostException e) {
      throw new ClusterException("cannot resolve the bind address '" + address + "'", e);
    }
  }

  @Override
  public String toString() {
    return role.attributeValue()
        + " of cluster '"
        + clusterName
        + "' at "
        + bindAddress
        + ":"
        + (port == 0 ? "(any port)" : port)
        + " (host "
        + hostLabel
        + "), joining "
        + (members.isEmpty() ? "nobody" : String.join(", ", members));
  }

  /** Builds a {@link ClusterConfig}; not thread-safe. */
  public static final class Builder {
    private final Role role;
    private String clusterName = DEFAULT_CLUSTER_NAME;
    private List<String> members = new ArrayList<>();
    private String bindAddress = DEFAULT_BIND_ADDRESS;
    private int port = DEFAULT_PORT;
    private int portCount = DEFAULT_PORT_COUNT;
    private String hostLabel;
    private Resources resources = Resources.NONE;
    private long memoryBudget = Long.MAX_VALUE;
    private String transport;
    private String memberName;
    private String coordinator;
    private String sluiceVersion = SluiceVersion.current();
    private Duration heartbeatInterval = DEFAULT_HEARTBEAT_INTERVAL;
    private Duration maxNoHeartbeat = DEFAULT_MAX_NO_HEARTBEAT;
    private Duration joinTimeout = DEFAULT_JOIN_TIMEOUT;
    private Duration maxJoinTime = DEFAULT_MAX_JOIN_TIME;
    private Duration mergeInterval = DEFAULT_MERGE_INTERVAL;

    private Builder(Role role) {
      this.role = role;
    }

    /** The cluster name (default {@value #DEFAULT_CLUSTER_NAME}). */
    public Builder clusterName(String name) {
      this.clusterName = name;
      return this;
    }

    /**
     * The addresses of members to join, {@code host[:port]} each; without a port Hazelcast tries
     * this member's port and the two above it. The list may name this member itself (the same list
     * on every machine). Empty (the default): start alone, as the first member.
     */
    public Builder members(List<String> addresses) {
      this.members = new ArrayList<>(addresses);
      return this;
    }

    /** {@link #members(List)}. */
    public Builder members(String... addresses) {
      return members(List.of(addresses));
    }

    /**
     * The one address to bind to and advertise (default {@value #DEFAULT_BIND_ADDRESS}); not a
     * wildcard, since the other members must be able to reach what this member advertises.
     */
    public Builder bindAddress(String address) {
      this.bindAddress = address;
      return this;
    }

    /**
     * The port (default {@value #DEFAULT_PORT}); 0 lets the system pick a free one, which suits
     * tests run in parallel (the member's address then has to be read from the running member).
     */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    /**
     * How many ports from the port up to try when it is taken (default {@value
     * #DEFAULT_PORT_COUNT}; 1: the port or fail). Ignored for port 0.
     */
    public Builder portCount(int count) {
      this.portCount = count;
      return this;
    }

    /** The host label (default: the bind address); members on one machine share none. */
    public Builder hostLabel(String label) {
      this.hostLabel = label;
      return this;
    }

    /** The logical CPUs and GPUs offered (a worker must offer some). */
    public Builder resources(Resources resources) {
      this.resources = resources;
      return this;
    }

    /** The memory budget in bytes (a worker must have one; a trainer has none by default). */
    public Builder memoryBudget(long bytes) {
      this.memoryBudget = bytes;
      return this;
    }

    /** The data plane's {@code host:port}, advertised for others to fetch blocks from. */
    public Builder transport(String hostPort) {
      this.transport = hostPort;
      return this;
    }

    /** A name for this member, which {@link #coordinator(String)} can refer to. */
    public Builder memberName(String name) {
      this.memberName = name;
      return this;
    }

    /**
     * The name of the trainer that coordinates; while no trainer of that name is a member there is
     * no coordinator. The name is advertised ({@code sluice.coordinator}), so that members not told
     * (workers, say) follow it too: a member not told takes the name of the oldest member carrying
     * one. Default: none named, the oldest trainer coordinates.
     */
    public Builder coordinator(String name) {
      this.coordinator = name;
      return this;
    }

    /** The Sluice version advertised (default {@link SluiceVersion#current()}); for tests. */
    public Builder sluiceVersion(String version) {
      this.sluiceVersion = version;
      return this;
    }

    /** Heartbeat interval, whole seconds (default 5 s). */
    public Builder heartbeatInterval(Duration interval) {
      this.heartbeatInterval = interval;
      return this;
    }

    /** Failure-detection time, whole seconds above the heartbeat interval (default 60 s). */
    public Builder maxNoHeartbeat(Duration timeout) {
      this.maxNoHeartbeat = timeout;
      return this;
    }

    /**
     * How long each join attempt waits for the listed members to answer, whole seconds (default 5
     * s; Hazelcast's TCP/IP connection timeout). An address that refuses, or answers with another
     * cluster name, is given up at once; one that does not answer is waited for this long.
     */
    public Builder joinTimeout(Duration timeout) {
      this.joinTimeout = timeout;
      return this;
    }

    /** The bound on the whole join, whole seconds (default 300 s). */
    public Builder maxJoinTime(Duration bound) {
      this.maxJoinTime = bound;
      return this;
    }

    /**
     * How often the sides of a split cluster look for each other to merge again, whole seconds
     * (default 60 s; see {@link ClusterConfig#DEFAULT_MERGE_INTERVAL}).
     */
    public Builder mergeInterval(Duration interval) {
      this.mergeInterval = interval;
      return this;
    }

    /**
     * The configuration.
     *
     * @throws IllegalArgumentException naming the first bad value
     */
    public ClusterConfig build() {
      requireText(clusterName, "cluster name");
      for (String m : members) {
        checkHostPort(m, "member address", false);
      }
      requireText(bindAddress, "bind address");
      if (bindAddress.equals("0.0.0.0") || bindAddress.equals("::") || bindAddress.equals("*")) {
        throw new IllegalArgumentException(
            "bind address must be one address the other members can reach, not the wildcard "
                + bindAddress);
      }
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("port must be 0..65535: " + port);
      }
      if (portCount < 1) {
        throw new IllegalArgumentException("port count must be >= 1: " + portCount);
      }
      if (hostLabel != null) {
        requireText(hostLabel, "host label");
      }
      Objects.requireNonNull(resources, "resources");
      if (memoryBudget <= 0) {
        throw new IllegalArgumentException("memory budget must be > 0 bytes: " + memoryBudget);
      }
      if (role == Role.WORKER) {
        if (resources.cpus() <= 0 && resources.gpus() <= 0) {
          throw new IllegalArgumentException("a worker must offer CPUs or GPUs: " + resources);
        }
        if (memoryBudget == Long.MAX_VALUE) {
          throw new IllegalArgumentException("a worker needs a memory budget");
        }
      }
      if (transport != null) {
        checkHostPort(transport, "transport address", true);
      }
      if (memberName != null) {
        requireText(memberName, "member name");
      }
      if (coordinator != null) {
        requireText(coordinator, "coordinator name");
      }
      requireText(sluiceVersion, "Sluice version");
      long heartbeat = wholeSeconds(heartbeatInterval, "heartbeat interval");
      long noHeartbeat = wholeSeconds(maxNoHeartbeat, "max no-heartbeat time");
      if (noHeartbeat <= heartbeat) {
        throw new IllegalArgumentException(
            "max no-heartbeat time ("
                + noHeartbeat
                + " s) must exceed the heartbeat interval ("
                + heartbeat
                + " s)");
      }
      long join = wholeSeconds(joinTimeout, "join timeout");
      if (join > Integer.MAX_VALUE) {
        throw new IllegalArgumentException("join timeout too long: " + joinTimeout);
      }
      if (wholeSeconds(maxJoinTime, "max join time") < join) {
        throw new IllegalArgumentException(
            "max join time (" + maxJoinTime + ") must be at least the join timeout");
      }
      wholeSeconds(mergeInterval, "merge interval");
      return new ClusterConfig(this);
    }

    private static void requireText(String value, String what) {
      if (value == null || value.isBlank()) {
        throw new IllegalArgumentException(what + " must not be empty");
      }
      if (!value.strip().equals(value) || value.chars().anyMatch(Character::isISOControl)) {
        throw new IllegalArgumentException(
            what + " must not start or end with spaces: '" + value + "'");
      }
    }

    private static long wholeSeconds(Duration d, String what) {
      Objects.requireNonNull(d, what);
      if (d.isNegative() || d.isZero() || d.toMillis() % 1000 != 0) {
        throw new IllegalArgumentException(
            what + " must be a positive whole number of seconds: " + d);
      }
      return d.toSeconds();
    }

    /**
     * {@code host[:port]}, or {@code [v6]:port}; with {@code portRequired} the port must be there.
     */
    static void checkHostPort(String value, String what, boolean portRequired) {
      requireText(value, what);
      String host = value;
      String port = null;
      if (value.startsWith("[")) {
        int close = value.indexOf(']');
        if (close < 0) {
          throw new IllegalArgumentException(what + " has no closing ']': " + value);
        }
        host = value.substring(1, close);
        if (close + 1 < value.length()) {
          if (value.charAt(close + 1) != ':') {
            throw new IllegalArgumentException(what + " is not [host]:port: " + value);
          }
          port = value.substring(close + 2);
        }
      } else if (value.indexOf(':') >= 0 && value.indexOf(':') == value.lastIndexOf(':')) {
        host = value.substring(0, value.indexOf(':'));
        port = value.substring(value.indexOf(':') + 1);
      }
      if (host.isEmpty() || host.chars().anyMatch(Character::isWhitespace)) {
        throw new IllegalArgumentException(what + " has no host: '" + value + "'");
      }
      if (port == null) {
        if (portRequired) {
          throw new IllegalArgumentException(what + " must be host:port: '" + value + "'");
        }
        return;
      }
      int p;
      try {
        p = Integer.parseInt(port);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            what + " has a bad port '" + port + "': '" + value + "'", e);
      }
      if (p < 1 || p > 65535) {
        throw new IllegalArgumentException(what + " port must be 1..65535: '" + value + "'");
      }
    }
  }
}
