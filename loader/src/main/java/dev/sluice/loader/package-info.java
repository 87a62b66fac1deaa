/** Sluice loader. */
package dev.sluice.loader;
