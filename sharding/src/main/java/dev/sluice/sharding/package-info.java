/** Sluice sharding. */
package dev.sluice.sharding;
