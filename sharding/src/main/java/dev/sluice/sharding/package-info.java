/**
 * Pure sharding logic: source splits, per-epoch plans seeded by (seed, epoch), assignment of splits
 * to consumers and resumable positions. Depends on nothing beyond the JDK.
 */
package dev.sluice.sharding;
