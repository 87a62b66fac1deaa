/**
 * Small concurrency pieces shared by Sluice's modules: waits that an interrupt must not cut short,
 * and the one prefetch thread.
 */
package dev.sluice.loader.concurrent;
