package dev.sluice.cluster;

import java.util.Locale;

/**
 * What a member does in a Sluice cluster. Carried as the {@code sluice.role} member attribute, so
 * every member knows every other's role without asking.
 */
public enum Role {
  /**
   * Reads and decodes data: a Hazelcast data member offering CPUs, GPUs and a memory budget,
   * started by {@code sluice-worker} on each machine that has cores to spare.
   */
  WORKER,
  /**
   * Consumes batches and trains: a Hazelcast lite member (it holds no partitions, so its leaving
   * moves no data), offering its GPUs. The oldest trainer (or the one named) coordinates.
   */
  TRAINER;

  /** The attribute value: the name in lower case. */
  public String attributeValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * The role an attribute value names.
   *
   * @throws IllegalArgumentException when it names none
   */
  public static Role fromAttribute(String value) {
    for (Role r : values()) {
      if (r.attributeValue().equals(value)) {
        return r;
      }
    }
    throw new IllegalArgumentException("not a Sluice role: " + value);
  }
}
