/**
 * Sluice cluster internals: the wire formats of what Sluice puts in Hazelcast. Not API: anything
 * here may change between versions (the formats themselves only by a new version number).
 */
package dev.sluice.cluster.internal;
