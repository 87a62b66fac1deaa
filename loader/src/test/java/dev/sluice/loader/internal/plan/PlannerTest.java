package dev.sluice.loader.internal.plan;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.loader.ActorPool;
import dev.sluice.loader.BatchFunction;
import dev.sluice.loader.MapOptions;
import dev.sluice.loader.source.RangeSource;
import java.util.List;
import org.junit.jupiter.api.Test;

class PlannerTest {
  private static final BatchFunction ID = (in, ctx) -> in;
  private static final LogicalOp READ = new LogicalOp.Read(new RangeSource(10, 1));

  private static String plan(LogicalOp... ops) {
    return Planner.describe(Planner.plan(List.of(ops)));
  }

  @Test
  void fusesStatelessMapsWithEqualResourcesIntoTheRead() {
    assertThat(
            plan(
                READ,
                new LogicalOp.MapTask("Decode", ID, MapOptions.DEFAULT),
                new LogicalOp.MapTask("Crop", ID, MapOptions.DEFAULT)))
        .isEqualTo("Input -> TaskPoolMap[ReadRange->Decode->Crop] -> Output");
  }

  @Test
  void doesNotFuseWhenResourcesDiffer() {
    assertThat(
            plan(
                READ,
                new LogicalOp.MapTask("Decode", ID, MapOptions.DEFAULT),
                new LogicalOp.MapTask("Infer", ID, MapOptions.DEFAULT.withGpus(1)),
                new LogicalOp.MapTask("Post", ID, MapOptions.DEFAULT.withGpus(1))))
        .isEqualTo("Input -> TaskPoolMap[ReadRange->Decode] -> TaskPoolMap[Infer->Post] -> Output");
  }

  @Test
  void doesNotFuseAcrossBatchSizesActorsOrLimits() {
    assertThat(
            plan(
                READ,
                new LogicalOp.MapTask("Batched", ID, MapOptions.DEFAULT.withBatchSize(32)),
                new LogicalOp.MapTask("Other", ID, MapOptions.DEFAULT.withBatchSize(16)),
                new LogicalOp.MapActor("Augment", () -> ID, ActorPool.of(1, 2), MapOptions.DEFAULT),
                new LogicalOp.MapTask("After", ID, MapOptions.DEFAULT),
                new LogicalOp.Limit(5)))
        .isEqualTo(
            "Input -> ReadRange -> TaskPoolMap[Batched] -> TaskPoolMap[Other] -> ActorPoolMap[Augment]"
                    .replace("ReadRange", "TaskPoolMap[ReadRange]")
                + " -> TaskPoolMap[After] -> Limit[5] -> Output");
  }

  @Test
  void aMapWithTheSameBatchSizeJoinsTheBatchedMap() {
    assertThat(
            plan(
                READ,
                new LogicalOp.MapTask("A", ID, MapOptions.DEFAULT.withBatchSize(32)),
                new LogicalOp.MapTask("B", ID, MapOptions.DEFAULT.withBatchSize(32)),
                new LogicalOp.MapTask("C", ID, MapOptions.DEFAULT)))
        .isEqualTo("Input -> TaskPoolMap[ReadRange] -> TaskPoolMap[A->B->C] -> Output");
  }
}
