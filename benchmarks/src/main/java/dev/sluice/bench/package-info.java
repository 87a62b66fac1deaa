/** Sluice benchmarks. */
package dev.sluice.bench;
