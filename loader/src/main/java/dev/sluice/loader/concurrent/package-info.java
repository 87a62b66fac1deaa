/** Small concurrency helpers shared by Sluice's modules (waits that an interrupt must not cut short). */
package dev.sluice.loader.concurrent;
