/**
 * A self-contained demonstration of Sluice's streaming executor: synthetic WebDataset shards
 * ({@link dev.sluice.examples.demo.SyntheticShards}), a CPU decode that expands each sample about
 * 10:1 ({@link dev.sluice.examples.demo.ExpandDecode}), a stateful actor-pool stage ({@link
 * dev.sluice.examples.demo.ChecksumAugment}) and the runnable {@link
 * dev.sluice.examples.demo.DemoPipeline}. The benchmarks reuse the generator and the decode.
 */
package dev.sluice.examples.demo;
