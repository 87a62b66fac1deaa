/**
 * Sluice's cluster: Hazelcast 5.7 members embedded in each JVM, found over TCP/IP from an address
 * list, with roles.
 *
 * <ul>
 *   <li>{@link dev.sluice.cluster.ClusterConfig}: how a member joins and what it offers (cluster
 *       name, addresses, bind address, resources, memory budget, host label, timings), turned into
 *       a Hazelcast configuration.
 *   <li>{@link dev.sluice.cluster.SluiceMember}: a running member; the view of the cluster the
 *       executor places work by ({@code workers()} as {@link dev.sluice.loader.runtime.Node}s), the
 *       coordinator, listeners for workers joined and lost, a bounded wait for workers.
 *   <li>{@link dev.sluice.cluster.MemberInfo}: what a member advertises in its member attributes.
 *   <li>{@link dev.sluice.cluster.WorkerMain}: the {@code sluice-worker} launcher.
 * </ul>
 *
 * <p>Workers are Hazelcast data members; trainers are lite members. Everything Sluice puts in
 * Hazelcast has an explicit serializer with a fixed type id and a format version ({@code
 * internal}); Java deserialization is limited to an allow-list of Hazelcast's own needs.
 */
package dev.sluice.cluster;
