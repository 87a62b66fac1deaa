package dev.sluice.cluster;

import dev.sluice.loader.runtime.Node;
import java.util.Optional;

/**
 * Told of changes to the cluster as a {@link SluiceMember} sees them. Called on a Hazelcast event
 * thread, one event at a time and in the order the membership changed; an implementation must
 * return quickly and never block (hand long work to a thread of its own). An exception it throws is
 * logged and does not stop other listeners.
 *
 * <p>Only members of this member's Sluice version count: a member of another version is never
 * reported joined (it leaves on its own, see {@link SluiceMember}).
 */
public interface ClusterListener {
  /** A worker joined; it is in {@link SluiceMember#workers()} from now on. */
  default void workerJoined(Node worker) {}

  /**
   * A worker left, cleanly or not (Hazelcast tells the two apart only in its logs): its blocks and
   * running work are gone with it.
   */
  default void workerLost(Node worker) {}

  /**
   * A worker said it is leaving cleanly ({@link SluiceMember#announceLeaving}): it is no longer in
   * {@link SluiceMember#workers()}, takes no new work and waits, for a bounded time, until the
   * executions it takes part in have handed its work over and let it go; then it leaves ({@link
   * #workerLost}).
   */
  default void workerLeaving(Node worker) {}

  /**
   * A trainer left, cleanly or not: the executions it scheduled are over (their halves on the
   * workers are dropped).
   */
  default void trainerLost(MemberInfo trainer) {}

  /**
   * This member had been cut off from the cluster (a network partition, or a pause longer than the
   * failure-detection time) and has merged back into it, under a new member id: the others had
   * given it up, and hear of it as a member that joined. What it held or ran for the others before
   * is stale.
   *
   * @param before this member as it was
   * @param after this member now ({@link SluiceMember#self()})
   */
  default void merged(MemberInfo before, MemberInfo after) {}

  /**
   * The coordinator changed: a trainer joined before any other, the coordinator left and the next
   * oldest trainer (or none) takes over, or the named one came or went.
   *
   * @param coordinator the new coordinator, or empty when there is none
   */
  default void coordinatorChanged(Optional<MemberInfo> coordinator) {}
}
