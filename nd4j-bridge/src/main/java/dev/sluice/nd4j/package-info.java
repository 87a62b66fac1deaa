/**
 * The bridge from Sluice to Deeplearning4j. User-facing: {@link dev.sluice.nd4j.ArrowToNd4j}
 * (tensor and numeric columns to {@code INDArray}s, zero-copy views and one-pass copies), {@link
 * dev.sluice.nd4j.SluiceDataSetIterator} and {@link dev.sluice.nd4j.SluiceMultiDataSetIterator}
 * (DL4J iterators with their own prefetch thread, one execution per epoch), the column mappings
 * {@link dev.sluice.nd4j.FeatureColumn} and {@link dev.sluice.nd4j.LabelColumn}, {@link
 * dev.sluice.nd4j.PrefetchStats}, and the native decoders: {@link
 * dev.sluice.nd4j.NativeImageDecoder} (OpenCV) and {@link dev.sluice.nd4j.VideoSource} (video
 * frames with FFmpeg). Everything under {@code dev.sluice.nd4j.internal} may change without notice.
 */
package dev.sluice.nd4j;
