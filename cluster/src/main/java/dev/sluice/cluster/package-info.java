/** Sluice cluster. */
package dev.sluice.cluster;
