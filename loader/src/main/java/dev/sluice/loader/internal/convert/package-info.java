/**
 * Conversions of tensor values shared by the loader's functions and the DL4J bridge (internal: no
 * compatibility promise).
 */
package dev.sluice.loader.internal.convert;
