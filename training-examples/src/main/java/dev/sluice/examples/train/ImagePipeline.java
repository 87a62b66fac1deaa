package dev.sluice.examples.train;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.ClassLabels;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ImageDecoder;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.PipelineDefinition;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.source.ImageFolderSource;
import dev.sluice.loader.source.WebDatasetSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The main job's input pipeline as a {@link PipelineDefinition}, so that the same pipeline runs in
 * one JVM and on a cluster's workers (each builds it from these parameters): an image folder
 * (labels from its class folders) or WebDataset shards (labels from the label column), decoded and
 * resized; for training, augmented in an actor pool.
 *
 * <p>Parameters: {@code data} (a folder or a shard pattern), {@code training} ({@code true} adds
 * the augmentation), {@code classes}, {@code size}, {@code channels}, {@code decoder} ({@code
 * NATIVE} or {@code JAVA}), {@code seed}, and for shards {@code image-column} and {@code
 * label-column}.
 */
public final class ImagePipeline implements PipelineDefinition {
  @Override
  public Dataset build(Sluice sluice, Map<String, String> p) {
    String data = p.get("data");
    int classes = Integer.parseInt(p.get("classes"));
    Dataset ds;
    if (Files.isDirectory(Path.of(data))) {
      ImageFolderSource folder;
      try {
        folder = ImageFolderSource.of(data);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException("cannot list the image folder " + data, e);
      }
      if (folder.classNames().size() != classes) {
        throw new IllegalArgumentException(
            data
                + " has "
                + folder.classNames().size()
                + " class folders "
                + folder.classNames()
                + " but the model has --classes "
                + classes);
      }
      ds =
          sluice
              .read(folder)
              .mapBatches(
                  decoder(p, ImageFolderSource.IMAGE_COLUMN),
                  MapOptions.DEFAULT.withName("Decode"));
    } else {
      ds =
          sluice
              .read(WebDatasetSource.of(data))
              .mapBatches(
                  ClassLabels.fromIndex(p.get("label-column"), classes),
                  MapOptions.DEFAULT.withName("ClassLabels"))
              .mapBatches(decoder(p, p.get("image-column")), MapOptions.DEFAULT.withName("Decode"));
    }
    if (Boolean.parseBoolean(p.get("training"))) {
      long seed = Long.parseLong(p.get("seed"));
      ds =
          ds.mapBatches(
              () -> new ImageInputs.RandomFlip(seed),
              ActorPool.of(1, 2),
              MapOptions.DEFAULT.withCpus(0.5).withName("Augment"));
    }
    return ds;
  }

  private static BatchFunction decoder(Map<String, String> p, String column) {
    int size = Integer.parseInt(p.get("size"));
    int channels = Integer.parseInt(p.get("channels"));
    return "JAVA".equals(p.get("decoder"))
        ? ImageDecoder.builder()
            .column(column)
            .output(ImageInputs.PIXELS)
            .size(size, size)
            .channels(channels)
            .build()
        : dev.sluice.nd4j.NativeImageDecoder.of(column, ImageInputs.PIXELS, size, size, channels);
  }
}
