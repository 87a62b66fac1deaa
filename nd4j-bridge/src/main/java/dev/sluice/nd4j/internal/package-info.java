/**
 * Internals of the ND4J bridge: Arrow column access, the converting copy loops and the prefetch
 * thread. Not API: anything here may change without notice. Users go through {@link
 * dev.sluice.nd4j.ArrowToNd4j}, {@link dev.sluice.nd4j.SluiceDataSetIterator} and {@link
 * dev.sluice.nd4j.SluiceMultiDataSetIterator}.
 */
package dev.sluice.nd4j.internal;
