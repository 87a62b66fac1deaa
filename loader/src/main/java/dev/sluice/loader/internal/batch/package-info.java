/** Access to {@link dev.sluice.loader.Batch} internals for Sluice's own packages; not an API. */
package dev.sluice.loader.internal.batch;
