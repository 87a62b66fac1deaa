/** Sluice nd4j-bridge. */
package dev.sluice.nd4j;
