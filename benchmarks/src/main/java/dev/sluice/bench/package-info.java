/**
 * Sluice's reproducible benchmarks: the {@link dev.sluice.bench.SluiceBench} command line, one
 * sub-command per scenario, each run measured in a fresh child JVM and written as JSON and a PNG
 * chart under {@code benchmarks/results/}. See {@code benchmarks/RESULTS.md} for the figures and
 * the commands that reproduce them.
 */
package dev.sluice.bench;
