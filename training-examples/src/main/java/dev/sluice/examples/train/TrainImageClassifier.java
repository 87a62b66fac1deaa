package dev.sluice.examples.train;

import dev.sluice.examples.images.LabelledImageShards;
import dev.sluice.loader.ActorPool;
import dev.sluice.loader.Batch;
import dev.sluice.loader.BatchIterator;
import dev.sluice.loader.ClassLabels;
import dev.sluice.loader.Dataset;
import dev.sluice.loader.ExecutionOptions;
import dev.sluice.loader.ImageDecoder;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.Sluice;
import dev.sluice.loader.source.Source;
import dev.sluice.loader.source.WebDatasetSource;
import dev.sluice.nd4j.FeatureColumn;
import dev.sluice.nd4j.LabelColumn;
import dev.sluice.nd4j.Layout;
import dev.sluice.nd4j.PrefetchStats;
import dev.sluice.nd4j.SluiceDataSetIterator;
import dev.sluice.sharding.ConsumerPosition;
import dev.sluice.sharding.EpochPlan;
import dev.sluice.sharding.RemainderPolicy;
import dev.sluice.sharding.ShareAssignment;
import dev.sluice.sharding.StaticAssigner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Trains a small CNN with DL4J on images streamed through Sluice: read tar shards (or an image
 * folder), decode JPEGs in stateless tasks, augment in an actor pool, and feed {@code
 * MultiLayerNetwork.fit} through a {@link SluiceDataSetIterator}. Prints per epoch the loss,
 * held-out accuracy, throughput and the loader's stall share; on a cluster, also each member's
 * figures (CPU, memory against its budget, blocks and bytes sent and received, bytes kept on a host
 * against moved between hosts).
 *
 * <p>With no data given it first generates a labelled dataset of JPEG tar shards (10 classes of
 * shapes and patterns; see {@link LabelledImageShards}).
 */
@Command(
    name = "train-image-classifier",
    mixinStandardHelpOptions = true,
    description = "Train a small CNN on images streamed through Sluice.")
public final class TrainImageClassifier implements Callable<Integer> {

  @Option(
      names = "--train",
      description =
          "Training data: tar shard pattern (e.g. 'data/train-{0000..0009}.tar') or an image folder (one sub-folder per class). Default: generated shards.")
  String train;

  @Option(
      names = "--held-out",
      description = "Held-out data in the same form as --train. Default: generated shards.")
  String heldOut;

  @Option(names = "--work", description = "Where generated data goes. Default: ${DEFAULT-VALUE}")
  Path work = Path.of("target", "train-data");

  @Option(names = "--epochs", description = "Epochs. Default: ${DEFAULT-VALUE}")
  int epochs = 3;

  @Option(names = "--batch", description = "Batch size. Default: ${DEFAULT-VALUE}")
  int batch = 64;

  @Option(
      names = "--size",
      description = "Model input height and width (images are resized). Default: ${DEFAULT-VALUE}")
  int size = 32;

  @Option(
      names = "--channels",
      description =
          "Model input channels, 1 or 3 (images are converted). Default: ${DEFAULT-VALUE}")
  int channels = 3;

  @Option(
      names = "--classes",
      description = "Classes (with --train; generated data has 10). Default: ${DEFAULT-VALUE}")
  int classes = LabelledImageShards.CLASSES;

  @Option(
      names = "--budget-mib",
      description = "Loader memory budget in MiB. Default: ${DEFAULT-VALUE}")
  long budgetMiB = 256;

  @Option(
      names = "--decoder",
      description =
          "JPEG decoder: NATIVE (OpenCV's imdecode, the faster in benchmarks/RESULTS.md) or JAVA (javax.imageio with the JDK's reader; the same pixels for baseline JPEGs). Default: ${DEFAULT-VALUE}")
  Decoder decoder = Decoder.NATIVE;

  /** The image decoders on offer. */
  enum Decoder {
    NATIVE,
    JAVA
  }

  @Option(
      names = "--learning-rate",
      description = "Adam's learning rate. Default: ${DEFAULT-VALUE}")
  double learningRate = 2e-3;

  @Option(
      names = "--seed",
      description = "Seed of shuffles, augmentation and weights. Default: ${DEFAULT-VALUE}")
  long seed = 42;

  @Option(
      names = "--progress",
      description = "Loader progress line: AUTO, ON, OFF. Default: ${DEFAULT-VALUE}")
  ExecutionOptions.Progress progress = ExecutionOptions.Progress.OFF;

  @Option(
      names = "--image-column",
      description =
          "The WebDataset entry holding the image (its extension). Default: the first of "
              + IMAGE_EXTENSIONS_TEXT
              + " that the shards' samples have.")
  String imageColumn;

  @Option(
      names = "--label-column",
      description =
          "The WebDataset entry holding the class index as text (read by ClassLabels). Default: ${DEFAULT-VALUE}")
  String labelColumn = "cls";

  @Option(
      names = "--deterministic",
      description =
          "Every epoch's batches identical from run to run for the same --seed (order preserved through the pipeline; a slow block then holds back the ones after it).")
  boolean deterministic;

  @Option(
      names = "--workers",
      description =
          "Run the loader on N local worker processes (each a JVM on its own loopback address, as"
              + " sluice-worker runs on other machines) and train through them. Default: none (one"
              + " JVM)")
  int workers;

  @Option(
      names = "--worker-cpus",
      description =
          "Logical CPUs each local worker offers (with --workers). Default: ${DEFAULT-VALUE}")
  double workerCpus = 1;

  @Option(
      names = "--cluster-members",
      split = ",",
      paramLabel = "HOST:PORT",
      description =
          "Join the cluster of these members (workers started with sluice-worker) as a trainer and"
              + " run the loader on its workers.")
  List<String> clusterMembers;

  @Option(
      names = "--cluster-name",
      description = "The cluster's name (with --cluster-members). Default: ${DEFAULT-VALUE}")
  String clusterName = "sluice";

  @Option(
      names = "--bind",
      description = "The trainer's address in the cluster. Default: ${DEFAULT-VALUE}")
  String bind = "127.0.0.1";

  /** The image extensions looked for in shards, in order of preference. */
  static final List<String> IMAGE_EXTENSIONS =
      List.of("jpg", "jpeg", "png", "webp", "bmp", "gif", "ppm", "pgm", "tif", "tiff");

  private static final String IMAGE_EXTENSIONS_TEXT =
      "jpg, jpeg, png, webp, bmp, gif, ppm, pgm, tif, tiff";

  @Option(
      names = "--generate",
      description =
          "Images to generate (train and held-out, 6 to 1) when no --train is given. Default: ${DEFAULT-VALUE}")
  int generate = 7_000;

  /**
   * One epoch's figures.
   *
   * @param epoch the epoch, from 1
   * @param loss the model's score after the epoch
   * @param heldOutAccuracy accuracy on the held-out data, or NaN without held-out data
   * @param heldOutExamples examples evaluated
   * @param images training images seen
   * @param seconds the epoch's training time
   * @param stallShare the share of the epoch the trainer waited for the loader
   */
  public record EpochResult(
      int epoch,
      double loss,
      double heldOutAccuracy,
      long heldOutExamples,
      long images,
      double seconds,
      double stallShare) {}

  private final List<EpochResult> results = new java.util.ArrayList<>();

  /** The cluster trained through, while training on one: its members' figures follow each epoch. */
  private dev.sluice.cluster.exec.ClusterTrainer cluster;

  /** The epochs run so far. */
  public List<EpochResult> results() {
    return List.copyOf(results);
  }

  @Option(
      names = "--checkpoint",
      description =
          "Directory to save the model and the loader's position in (ModelSerializer + a versioned position): resumable mid-epoch with --resume. Order within an epoch is then deterministic: shards in an order seeded by the epoch, samples through a seeded local shuffle buffer.")
  Path checkpoint;

  @Option(
      names = "--checkpoint-every",
      description = "Batches between checkpoints. Default: ${DEFAULT-VALUE}")
  int checkpointEvery = 50;

  @Option(names = "--resume", description = "Resume from the checkpoint in --checkpoint.")
  boolean resume;

  @Option(
      names = "--stop-after-batches",
      hidden = true,
      description = "Stop (as if interrupted) after this many batches in all; for tests.")
  long stopAfterBatches = -1;

  /** Runs the command line. */
  public static void main(String[] args) {
    // A cluster member's Hazelcast logs at INFO drown the epochs' lines: warnings only, unless set.
    if (System.getProperty("org.slf4j.simpleLogger.log.com.hazelcast") == null) {
      System.setProperty("org.slf4j.simpleLogger.log.com.hazelcast", "warn");
    }
    System.exit(
        new CommandLine(new TrainImageClassifier())
            .setCaseInsensitiveEnumValuesAllowed(true)
            .execute(args));
  }

  @Override
  public Integer call() throws Exception {
    if (train == null) {
      int heldOutImages = Math.max(10, generate / 7);
      int trainImages = generate - heldOutImages;
      LabelledImageShards.Spec spec =
          LabelledImageShards.Spec.defaults()
              .withSamples(trainImages, Math.max(1, trainImages / 1000), heldOutImages, 1);
      LabelledImageShards.Shards shards = LabelledImageShards.ensure(work, spec);
      train = shards.trainPattern();
      heldOut = shards.heldOutPattern();
      System.out.printf(
          Locale.ROOT,
          "Data: %d training and %d held-out JPEGs (%dx%d) in %s%n",
          shards.spec().train(),
          shards.spec().heldOut(),
          shards.spec().size(),
          shards.spec().size(),
          shards.dir());
    }
    ExecutionOptions options =
        ExecutionOptions.defaults()
            .withMemoryBudget(budgetMiB << 20)
            .withTargetBlockRows(batch)
            .withProgress(progress);
    if (workers > 0 || clusterMembers != null) {
      if (checkpoint != null) {
        throw new IllegalArgumentException("--checkpoint does not run on a cluster yet");
      }
      return trainOnCluster(options);
    }
    try (Sluice sluice = Sluice.builder().options(options).build()) {
      if (checkpoint != null) {
        return trainResumably(sluice);
      }
      return train(sluice);
    }
  }

  /**
   * Trains with the loader's tasks on a cluster's workers: local worker processes ({@code
   * --workers}) or those of the cluster joined ({@code --cluster-members}); this JVM is the trainer
   * (a lite member: the scheduler and the prefetch queue, no task).
   */
  private int trainOnCluster(ExecutionOptions options) throws Exception {
    String name =
        workers > 0
            ? "sluice-local-" + java.util.UUID.randomUUID().toString().substring(0, 8)
            : clusterName;
    try (dev.sluice.cluster.exec.LocalWorkers local =
        workers > 0
            ? dev.sluice.cluster.exec.LocalWorkers.start(
                workers, name, workerCpus, budgetMiB << 20, "1g", java.time.Duration.ofSeconds(60))
            : null) {
      List<String> join = local != null ? local.addresses() : clusterMembers;
      dev.sluice.cluster.ClusterConfig config =
          dev.sluice.cluster.ClusterConfig.trainer()
              .clusterName(name)
              .members(join)
              .bindAddress(bind)
              .port(0)
              .build();
      try (dev.sluice.cluster.exec.ClusterTrainer cluster =
              dev.sluice.cluster.exec.ClusterTrainer.start(config);
          Sluice sluice = Sluice.builder().runtime(cluster.runtime()).options(options).build()) {
        int expected = Math.max(1, workers);
        List<dev.sluice.loader.runtime.Node> nodes =
            cluster.awaitWorkers(expected, java.time.Duration.ofSeconds(60));
        System.out.printf(Locale.ROOT, "Cluster '%s': %d workers%n", name, nodes.size());
        for (dev.sluice.loader.runtime.Node n : nodes) {
          System.out.println("  worker " + n);
        }
        this.cluster = cluster;
        try {
          return train(sluice);
        } finally {
          this.cluster = null;
        }
      }
    }
  }

  /** Trains for {@code --epochs} through {@code sluice}, printing each epoch's figures. */
  /** The training dataset, whose latest execution's stats say what an epoch recovered from. */
  private Dataset trainData;

  private int train(Sluice sluice) throws Exception {
    {
      MultiLayerNetwork model = model();
      try (SluiceDataSetIterator trainIt = iterator(sluice, train, true);
          SluiceDataSetIterator heldOutIt =
              heldOut == null ? null : iterator(sluice, heldOut, false)) {
        for (int epoch = 1; epoch <= epochs; epoch++) {
          if (epoch > 1) {
            trainIt.reset();
          }
          long t0 = System.nanoTime();
          long images = 0;
          PrefetchStats atStart = trainIt.stats();
          while (trainIt.hasNext()) {
            var ds = trainIt.next();
            images += ds.numExamples();
            model.fit(ds);
          }
          double seconds = (System.nanoTime() - t0) / 1e9;
          PrefetchStats stall = trainIt.stats().since(atStart); // this epoch's, not since the start
          double accuracy = Double.NaN;
          long evaluated = 0;
          if (heldOutIt != null) {
            heldOutIt.reset();
            Evaluation eval = model.evaluate(heldOutIt);
            accuracy = eval.accuracy();
            evaluated = eval.getNumRowCounter();
          }
          results.add(
              new EpochResult(
                  epoch, model.score(), accuracy, evaluated, images, seconds, stall.stallShare()));
          System.out.printf(
              Locale.ROOT,
              "epoch %d: loss %.4f, held-out accuracy %.3f, %,d images in %.1f s (%.0f images/s), loader stall %.1f%%%n",
              epoch,
              model.score(),
              accuracy,
              images,
              seconds,
              images / seconds,
              100 * stall.stallShare());
          dev.sluice.loader.DatasetStats epochStats = trainData == null ? null : trainData.stats();
          if (epochStats != null && !epochStats.formatRecovery().isEmpty()) {
            // A worker lost or joined during the epoch: what the execution did about it.
            System.out.println(epochStats.formatRecovery());
          }
          if (cluster != null) {
            System.out.println(
                dev.sluice.cluster.MemberStatsTable.format(
                    cluster.memberStats(sluice, java.time.Duration.ofSeconds(10)),
                    stall.stallShare()));
          }
        }
      }
    }
    return 0;
  }

  /**
   * Training with checkpoints: each epoch reads this trainer's share of the shards (rank 0 of 1) in
   * an order seeded by (seed, epoch), through a local shuffle buffer seeded by (seed, epoch, rank),
   * deterministic within the epoch; every {@code --checkpoint-every} batches the model
   * (ModelSerializer) and the loader's position (a versioned {@link ConsumerPosition}) are saved
   * side by side, and {@code --resume} continues the epoch with exactly the samples not yet seen,
   * in the order they would have come. The shards' sample counts, which positions need, come from a
   * scan of their tar headers ({@link WebDatasetSource.Builder#countSamples}), not from reading
   * them.
   */
  private int trainResumably(Sluice sluice) throws Exception {
    if (Files.isDirectory(Path.of(train))) {
      throw new IllegalArgumentException(
          "--checkpoint works with tar shards (--train pattern), not an image folder");
    }
    Files.createDirectories(checkpoint);
    Source source = WebDatasetSource.builder(train).countSamples(true).build();
    String image = imageColumn(sluice, source);
    int shuffleRows = 8 * batch;
    ConsumerPosition.Serializer serializer = new ConsumerPosition.Serializer();
    MultiLayerNetwork model;
    ConsumerPosition position = null;
    if (resume) {
      model =
          ModelSerializer.restoreMultiLayerNetwork(checkpoint.resolve(MODEL_FILE).toFile(), true);
      position = serializer.deserialize(Files.readAllBytes(checkpoint.resolve(POSITION_FILE)));
      System.out.printf(Locale.ROOT, "Resuming epoch %d from %s%n", position.epoch(), checkpoint);
    } else {
      model = model();
    }
    int first = position == null ? 1 : position.epoch();
    long batches = 0;
    try (SluiceDataSetIterator heldOutIt =
        heldOut == null ? null : iterator(sluice, heldOut, false)) {
      for (int epoch = first; epoch <= epochs; epoch++) {
        ShareAssignment plan =
            StaticAssigner.equal(1, RemainderPolicy.DROP)
                .assign(EpochPlan.create(source.planSplits(), seed, epoch, true));
        boolean resuming = position != null && position.epoch() == epoch;
        long delivered = resuming ? rowsBefore(plan, position) : 0;
        long before = delivered;
        Dataset share =
            resuming
                ? sluice.resumeShare(source, plan, position, shuffleRows)
                : sluice.readShare(source, plan, 0, shuffleRows);
        position = null;
        long augmentSeed = seed + epoch;
        Dataset ds =
            share
                .mapBatches(
                    ClassLabels.fromIndex(labelColumn, classes),
                    MapOptions.DEFAULT.withName("ClassLabels"))
                .mapBatches(decoder(image), MapOptions.DEFAULT.withName("Decode"))
                .mapBatches(
                    () -> new ImageInputs.RandomFlip(augmentSeed),
                    ActorPool.of(1, 2),
                    MapOptions.DEFAULT.withCpus(0.5).withName("Augment"));
        long t0 = System.nanoTime();
        PrefetchStats stall;
        // The share's order comes from its assignment (seeded by the epoch) and local shuffle.
        try (SluiceDataSetIterator it =
            SluiceDataSetIterator.builder(
                    ds, features(), LabelColumn.oneHot(ImageInputs.LABEL, classes))
                .batchSize(batch)
                .reuseArrays(1)
                .build()) { // each batch is fitted before the next is asked for
          while (it.hasNext()) {
            var d = it.next();
            model.fit(d);
            delivered += d.numExamples();
            batches++;
            if (batches % checkpointEvery == 0) {
              save(model, plan.positionAfter(0, delivered), serializer);
            }
            if (stopAfterBatches >= 0 && batches >= stopAfterBatches) {
              save(model, plan.positionAfter(0, delivered), serializer);
              System.out.printf(
                  Locale.ROOT,
                  "Stopped after %d batches, in epoch %d at row %d of %d%n",
                  batches,
                  epoch,
                  delivered,
                  plan.share(0).rows());
              results.add(
                  new EpochResult(epoch, model.score(), Double.NaN, 0, delivered - before, 0, 0));
              return 3;
            }
          }
          stall = it.stats();
        }
        save(model, ConsumerPosition.startOfEpoch(seed, epoch + 1, 0, 1), serializer);
        double seconds = (System.nanoTime() - t0) / 1e9;
        double accuracy = Double.NaN;
        long evaluated = 0;
        if (heldOutIt != null) {
          heldOutIt.reset();
          Evaluation eval = model.evaluate(heldOutIt);
          accuracy = eval.accuracy();
          evaluated = eval.getNumRowCounter();
        }
        results.add(
            new EpochResult(
                epoch,
                model.score(),
                accuracy,
                evaluated,
                delivered - before,
                seconds,
                stall.stallShare()));
        System.out.printf(
            Locale.ROOT,
            "epoch %d: loss %.4f, held-out accuracy %.3f, %,d images (%,d of the epoch) in %.1f s, loader stall %.1f%%%n",
            epoch,
            model.score(),
            accuracy,
            delivered - before,
            delivered,
            seconds,
            100 * stall.stallShare());
      }
    }
    return 0;
  }

  static final String MODEL_FILE = "model.zip";
  static final String POSITION_FILE = "position.bin";

  /**
   * Rows of the share delivered before {@code position}: its completed segments plus the offset.
   */
  private static long rowsBefore(ShareAssignment plan, ConsumerPosition position) {
    long rows = position.offset();
    List<dev.sluice.sharding.ShareSegment> segments = plan.share(0).segments();
    for (int i : position.completedSegments()) {
      rows += segments.get(i).rows();
    }
    return rows;
  }

  /** Saves the model and the position side by side, each written to a temporary file and moved. */
  private void save(
      MultiLayerNetwork model, ConsumerPosition position, ConsumerPosition.Serializer serializer)
      throws java.io.IOException {
    Path modelTmp = checkpoint.resolve(MODEL_FILE + ".tmp");
    ModelSerializer.writeModel(model, modelTmp.toFile(), true);
    Path posTmp = checkpoint.resolve(POSITION_FILE + ".tmp");
    Files.write(posTmp, serializer.serialize(position));
    Files.move(
        modelTmp,
        checkpoint.resolve(MODEL_FILE),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    Files.move(
        posTmp,
        checkpoint.resolve(POSITION_FILE),
        java.nio.file.StandardCopyOption.REPLACE_EXISTING,
        java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  private FeatureColumn features() {
    return FeatureColumn.of(ImageInputs.PIXELS)
        .withLayout(Layout.NCHW)
        .withDataType(DataType.FLOAT)
        .withScale(1 / 255.0);
  }

  /**
   * The iterator over training or held-out data: an image folder (labels from its class folders) or
   * WebDataset shards (labels from {@code --label-column}, images from {@code --image-column} or
   * the first common image extension found). Training shuffles (files, then a local buffer of 8
   * batches; another order each epoch, seeded by {@code --seed}) and augments; evaluation reads in
   * the dataset's order.
   */
  private SluiceDataSetIterator iterator(Sluice sluice, String data, boolean training)
      throws Exception {
    // The pipeline is a definition (ImagePipeline), so that a cluster's workers build it too.
    java.util.Map<String, String> params = new java.util.HashMap<>();
    params.put("data", data);
    params.put("training", Boolean.toString(training));
    params.put("classes", Integer.toString(classes));
    params.put("size", Integer.toString(size));
    params.put("channels", Integer.toString(channels));
    params.put("decoder", decoder.name());
    params.put("seed", Long.toString(seed));
    if (!Files.isDirectory(Path.of(data))) {
      params.put("image-column", imageColumn(sluice, WebDatasetSource.of(data)));
      params.put("label-column", labelColumn);
    }
    Dataset ds = sluice.pipeline(ImagePipeline.class, params);
    if (training) {
      trainData = ds;
    }
    SluiceDataSetIterator.Builder it =
        SluiceDataSetIterator.builder(
                ds,
                FeatureColumn.of(ImageInputs.PIXELS)
                    .withLayout(Layout.NCHW)
                    .withDataType(DataType.FLOAT)
                    .withScale(1 / 255.0),
                LabelColumn.oneHot(ImageInputs.LABEL, classes))
            .batchSize(batch)
            // fit() and evaluate() use each batch before asking for the next: recycle the arrays,
            // as
            // DL4J's AsyncDataSetIterator does, instead of allocating 3 MiB or more per batch.
            .reuseArrays(1)
            .deterministic(deterministic);
    if (training) {
      it.seed(seed).localShuffle(8 * batch, seed);
    } else {
      it.shuffle(false);
    }
    return it.build();
  }

  /**
   * The shards' image column: {@code --image-column} if given, else the first of {@link
   * #IMAGE_EXTENSIONS} that the first sample read has.
   */
  private String imageColumn(Sluice sluice, Source shards) {
    if (imageColumn != null) {
      return imageColumn;
    }
    // Probed in this JVM (on a cluster, the trainer's own context runs definitions only).
    try (Sluice local =
            Sluice.builder()
                .resources(new dev.sluice.loader.runtime.Resources(1, 0))
                .options(
                    ExecutionOptions.defaults()
                        .withMemoryBudget(64L << 20)
                        .withProgress(ExecutionOptions.Progress.OFF))
                .build();
        BatchIterator it = local.read(shards).limit(1).iterBatches()) {
      if (!it.hasNext()) {
        throw new IllegalArgumentException("no samples in " + shards);
      }
      List<String> columns;
      try (Batch first = it.next()) {
        columns = first.schema().getFields().stream().map(f -> f.getName()).toList();
      }
      for (String ext : IMAGE_EXTENSIONS) {
        if (columns.contains(ext)) {
          return ext;
        }
      }
      throw new IllegalArgumentException(
          "the samples of "
              + shards
              + " have no image entry among "
              + IMAGE_EXTENSIONS_TEXT
              + " (their entries: "
              + columns
              + "); name it with --image-column");
    }
  }

  private dev.sluice.loader.BatchFunction decoder(String column) {
    return decoder == Decoder.NATIVE
        ? dev.sluice.nd4j.NativeImageDecoder.of(column, ImageInputs.PIXELS, size, size, channels)
        : ImageDecoder.builder()
            .column(column)
            .output(ImageInputs.PIXELS)
            .size(size, size)
            .channels(channels)
            .build();
  }

  private MultiLayerNetwork model() {
    MultiLayerConfiguration conf =
        new NeuralNetConfiguration.Builder()
            .seed(seed)
            .updater(new Adam(learningRate))
            .weightInit(WeightInit.XAVIER)
            .list(
                new ConvolutionLayer.Builder(5, 5).nOut(16).activation(Activation.RELU).build(),
                new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                    .kernelSize(2, 2)
                    .stride(2, 2)
                    .build(),
                new ConvolutionLayer.Builder(3, 3).nOut(32).activation(Activation.RELU).build(),
                new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                    .kernelSize(2, 2)
                    .stride(2, 2)
                    .build(),
                new DenseLayer.Builder().nOut(64).activation(Activation.RELU).build(),
                new OutputLayer.Builder(LossFunctions.LossFunction.NEGATIVELOGLIKELIHOOD)
                    .nOut(classes)
                    .activation(Activation.SOFTMAX)
                    .build())
            .setInputType(InputType.convolutional(size, size, channels))
            .build();
    MultiLayerNetwork net = new MultiLayerNetwork(conf);
    net.init();
    return net;
  }

  @Override
  public String toString() {
    return "TrainImageClassifier" + List.of(train, heldOut);
  }
}
