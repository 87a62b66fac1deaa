package dev.sluice.cluster;

import com.hazelcast.cluster.Member;
import dev.sluice.loader.runtime.Node;
import dev.sluice.loader.runtime.Resources;
import java.util.Objects;
import java.util.UUID;

/**
 * What a Sluice member tells the others about itself, read from its Hazelcast member attributes
 * (set once, when the member starts, and never changed: Hazelcast 5 has no attribute updates).
 * Immutable.
 *
 * @param id the member's Hazelcast UUID, new each time a member starts
 * @param address where the member's Hazelcast endpoint listens, {@code host:port}
 * @param role worker or trainer
 * @param host the host label locality is decided on (by default the bind address)
 * @param resources the logical CPUs and GPUs it offers
 * @param memoryBudget the bytes of blocks it takes ({@link Long#MAX_VALUE}: no budget of its own,
 *     as for a trainer that names none)
 * @param sluiceVersion the Sluice version it runs
 * @param transport the {@code host:port} of its data plane, or null when it has none
 * @param name the name a coordinator can be chosen by, or null
 */
public record MemberInfo(
    UUID id,
    String address,
    Role role,
    String host,
    Resources resources,
    long memoryBudget,
    String sluiceVersion,
    String transport,
    String name) {

  /** Attribute: the {@link Role}, {@code worker} or {@code trainer}. */
  public static final String ROLE = "sluice.role";

  /** Attribute: the Sluice version the member runs. */
  public static final String VERSION = "sluice.version";

  /** Attribute: the host label. */
  public static final String HOST = "sluice.host";

  /** Attribute: logical CPUs offered, a decimal number. */
  public static final String CPUS = "sluice.cpus";

  /** Attribute: logical GPUs offered, a decimal number. */
  public static final String GPUS = "sluice.gpus";

  /** Attribute: the memory budget in bytes; absent when the member has none of its own. */
  public static final String MEMORY = "sluice.memory";

  /** Attribute: the data plane's {@code host:port}; absent when the member has none. */
  public static final String TRANSPORT = "sluice.transport";

  /** Attribute: the member's name; absent when it has none. */
  public static final String NAME = "sluice.name";

  /**
   * Attribute: the name of the trainer this member was told coordinates; absent when it was told
   * none. Members not told follow the oldest member that carries one.
   */
  public static final String COORDINATOR = "sluice.coordinator";

  public MemberInfo {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(host, "host");
    Objects.requireNonNull(resources, "resources");
    Objects.requireNonNull(sluiceVersion, "sluiceVersion");
    if (memoryBudget <= 0) {
      throw new IllegalArgumentException("memory budget must be > 0: " + memoryBudget);
    }
  }

  /**
   * Reads a member's attributes.
   *
   * @throws ClusterException when the member is not a Sluice member (it lacks the role or version
   *     attribute) or an attribute cannot be read
   */
  public static MemberInfo of(Member member) {
    String address = addressOf(member);
    String role = member.getAttribute(ROLE);
    String version = member.getAttribute(VERSION);
    if (role == null || version == null) {
      throw new ClusterException(
          "member "
              + member.getUuid()
              + " at "
              + address
              + " carries no Sluice attributes ("
              + ROLE
              + ", "
              + VERSION
              + "): not a Sluice member");
    }
    try {
      String memory = member.getAttribute(MEMORY);
      String host = member.getAttribute(HOST);
      return new MemberInfo(
          member.getUuid(),
          address,
          Role.fromAttribute(role),
          host == null ? member.getAddress().getHost() : host,
          new Resources(number(member, CPUS), number(member, GPUS)),
          memory == null ? Long.MAX_VALUE : Long.parseLong(memory),
          version,
          member.getAttribute(TRANSPORT),
          member.getAttribute(NAME));
    } catch (IllegalArgumentException e) {
      throw new ClusterException(
          "member " + member.getUuid() + " at " + address + " has a bad Sluice attribute", e);
    }
  }

  /** The {@code host:port} of a member's Hazelcast endpoint. */
  static String addressOf(Member member) {
    return member.getAddress().getHost() + ":" + member.getAddress().getPort();
  }

  private static double number(Member member, String attribute) {
    String value = member.getAttribute(attribute);
    return value == null ? 0 : Double.parseDouble(value);
  }

  /** This member as a place the executor runs work on: id = the UUID, host = the host label. */
  public Node toNode() {
    return new Node(id.toString(), host, resources, memoryBudget);
  }

  /** Whether it has a memory budget of its own. */
  public boolean hasMemoryBudget() {
    return memoryBudget != Long.MAX_VALUE;
  }

  /** {@code worker <uuid> at 127.0.0.2:5701 (host h2): 2.0 CPU, 0.0 GPU, 2048 MiB}. */
  public String describe() {
    return role.attributeValue()
        + " "
        + id
        + (name == null ? "" : " '" + name + "'")
        + " at "
        + address
        + " (host "
        + host
        + "): "
        + resources
        + (hasMemoryBudget() ? ", " + (memoryBudget >> 20) + " MiB" : "");
  }

  @Override
  public String toString() {
    return describe() + ", Sluice " + sluiceVersion;
  }
}
