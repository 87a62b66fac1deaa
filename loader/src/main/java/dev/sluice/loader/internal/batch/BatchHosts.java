package dev.sluice.loader.internal.batch;

import dev.sluice.loader.Batch;
import java.util.List;
import java.util.function.BiConsumer;

/**
 * Sets the hosts a delivered batch reports ({@link Batch#hosts()}). Inside an execution a block's
 * hosts live on its {@link dev.sluice.loader.runtime.BlockRef reference}; the executor writes them
 * onto the batch once, when it hands the block to a consumer, through this door that {@link Batch}
 * opens to Sluice's own packages (the JDK's shared-secrets pattern), so that the public API has no
 * setter.
 */
public final class BatchHosts {
  private static volatile BiConsumer<Batch, List<String>> setter;

  private BatchHosts() {}

  /** Called once, by {@link Batch}'s static initialiser. */
  public static void register(BiConsumer<Batch, List<String>> batchSetter) {
    if (setter != null) {
      throw new IllegalStateException("already registered");
    }
    setter = batchSetter;
  }

  /** Sets {@code batch}'s hosts (before anyone outside the executor sees it). */
  public static void set(Batch batch, List<String> hosts) {
    // Any Batch instance means its class is initialised, so the setter is registered.
    setter.accept(batch, hosts);
  }
}
