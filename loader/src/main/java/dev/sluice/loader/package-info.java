/**
 * The user-facing API of the Sluice loader: {@link dev.sluice.loader.Sluice} (the context that owns
 * memory and threads), {@link dev.sluice.loader.Dataset} (a lazy plan), {@link
 * dev.sluice.loader.Batch} and {@link dev.sluice.loader.BatchBuilder} (Arrow-backed batches with
 * written-down ownership) and the options of each. Everything under {@code .internal} may change
 * without notice; sources and sinks live in {@code dev.sluice.loader.source} and {@code
 * dev.sluice.loader.sink}, the runtime contract in {@code dev.sluice.loader.runtime}.
 */
package dev.sluice.loader;
