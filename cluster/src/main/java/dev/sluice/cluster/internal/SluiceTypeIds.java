package dev.sluice.cluster.internal;

/**
 * The Hazelcast type ids of Sluice's serializers: fixed forever, since a type id is what a receiver
 * picks the serializer by. Hazelcast keeps negative ids for itself; Sluice uses 5100 to 5199. A new
 * type takes the next id; an id is never reused, even after its type is gone.
 */
public final class SluiceTypeIds {
  /** {@link dev.sluice.cluster.MemberInfo}. */
  public static final int MEMBER_INFO = 5100;

  private SluiceTypeIds() {}
}
