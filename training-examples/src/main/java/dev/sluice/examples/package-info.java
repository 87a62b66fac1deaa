/** Sluice training-examples. */
package dev.sluice.examples;
