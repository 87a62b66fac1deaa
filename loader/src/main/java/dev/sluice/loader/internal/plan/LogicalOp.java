package dev.sluice.loader.internal.plan;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.runtime.Resources;
import dev.sluice.loader.source.Source;
import java.util.concurrent.Callable;

/** One step of a dataset's logical plan, as the user wrote it. Immutable values. */
public sealed interface LogicalOp {

  /** A short name for plans and logs. */
  String name();

  /**
   * Reads a source. Always the first step.
   *
   * @param resources what each read task asks for (one CPU unless the user said otherwise)
   * @param concurrency the most read tasks in flight, 0 for no cap
   */
  record Read(Source source, Resources resources, int concurrency) implements LogicalOp {
    /** A read of one CPU per task, without a concurrency cap. */
    public Read(Source source) {
      this(source, Resources.cpus(1), 0);
    }

    @Override
    public String name() {
      return source.name();
    }
  }

  /** Permutes the order in which the source's splits are read, seeded. */
  record RandomizeBlockOrder(long seed) implements LogicalOp {
    @Override
    public String name() {
      return "RandomizeBlockOrder";
    }
  }

  /**
   * Permutes the source's files (or, for sources of several samples per file, its splits) each
   * epoch, seeded.
   */
  record ShuffleFiles(long seed) implements LogicalOp {
    @Override
    public String name() {
      return "ShuffleFiles";
    }
  }

  /** A stateless function run as tasks. */
  record MapTask(String name, BatchFunction function, MapOptions options) implements LogicalOp {}

  /** A stateful function run in a pool of actors, each built once by {@code factory}. */
  record MapActor(
      String name, Callable<? extends BatchFunction> factory, ActorPool pool, MapOptions options)
      implements LogicalOp {}

  /** Keeps the first {@code rows} rows that arrive. */
  record Limit(long rows) implements LogicalOp {
    @Override
    public String name() {
      return "Limit[" + rows + "]";
    }
  }
}
