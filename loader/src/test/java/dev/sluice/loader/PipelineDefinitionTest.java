package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.loader.internal.plan.DatasetPlans;
import dev.sluice.loader.internal.plan.PlanFingerprint;
import dev.sluice.loader.runtime.Resources;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PipelineDefinitionTest {

  /** A pipeline as a user writes it: a read, a lambda, an actor pool, parameters. */
  public static final class Pipeline implements PipelineDefinition {
    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      int rows = Integer.parseInt(p.get("rows"));
      int batch = Integer.parseInt(p.getOrDefault("batch", "0"));
      return sluice
          .range(rows, 5)
          .mapBatches(DatasetBasicsTest.plusOne())
          .mapBatches(
              Identity.class,
              ActorPool.of(1, 2),
              MapOptions.DEFAULT.withCpus(0.5).withBatchSize(batch));
    }
  }

  /** An actor pool's function. */
  public static final class Identity implements BatchFunction {
    @Override
    public Batch apply(Batch in, BatchContext ctx) {
      return in.slice(ctx.allocator(), 0, in.rowCount());
    }
  }

  /** Not constructible by name. */
  public static final class NoDefaultConstructor implements PipelineDefinition {
    public NoDefaultConstructor(int x) {}

    @Override
    public Dataset build(Sluice sluice, Map<String, String> p) {
      return null;
    }
  }

  private static Sluice sluice() {
    return Sluice.builder()
        .resources(Resources.cpus(2))
        .options(ExecutionOptions.defaults().withProgress(ExecutionOptions.Progress.OFF))
        .build();
  }

  private static PlanFingerprint fingerprint(Dataset ds) {
    return PlanFingerprint.of(DatasetPlans.plan(ds));
  }

  @Test
  void twoContextsBuildTheSamePlanAndTheSameRows() {
    Map<String, String> p = Map.of("rows", "5000", "batch", "64");
    try (Sluice a = sluice();
        Sluice b = sluice()) {
      Dataset da = a.pipeline(Pipeline.class, p);
      Dataset db = b.pipeline(PipelineRef.of(Pipeline.class, p), getClass().getClassLoader());
      assertThat(da.definition()).contains(PipelineRef.of(Pipeline.class, p));
      assertThat(fingerprint(da)).isEqualTo(fingerprint(db));
      assertThat(fingerprint(da).hash()).isEqualTo(fingerprint(db).hash());
      assertThat(fingerprint(da).firstDifference(fingerprint(db))).isNull();
      // The lambda is named by the class that defines it, the pool by the user's class.
      assertThat(fingerprint(da).lines())
          .anySatisfy(l -> assertThat(l).contains("DatasetBasicsTest$$Lambda").doesNotContain("/"))
          .anySatisfy(l -> assertThat(l).contains("factory=" + Identity.class.getName()));
      assertThat(da.count()).isEqualTo(5000).isEqualTo(db.count());
    }
  }

  @Test
  void otherParametersGiveAnotherPlanAndSayWhere() {
    try (Sluice s = sluice()) {
      PlanFingerprint a = fingerprint(s.pipeline(Pipeline.class, Map.of("rows", "10")));
      PlanFingerprint b =
          fingerprint(s.pipeline(Pipeline.class, Map.of("rows", "10", "batch", "32")));
      assertThat(a.hash()).isNotEqualTo(b.hash());
      assertThat(a.firstDifference(b))
          .startsWith("operator 1: here ActorPool Identity")
          .contains("batch=0")
          .contains("there ActorPool Identity")
          .contains("batch=32");
    }
  }

  @Test
  void aDatasetTransformedAfterItsDefinitionHasNone() {
    try (Sluice s = sluice()) {
      Dataset ds = s.pipeline(Pipeline.class, Map.of("rows", "10"));
      assertThat(ds.forEpoch(3).definition()).isPresent();
      assertThat(ds.withOptions(ds.options().withMemoryBudget(32L << 20)).definition()).isPresent();
      assertThat(ds.mapBatches(DatasetBasicsTest.plusOne()).definition()).isEmpty();
      assertThat(s.range(10, 1).definition()).isEmpty();
    }
  }

  @Test
  void aChangeOfReadOrderKeepsTheDefinitionAndIsMadeAgainByName() {
    try (Sluice s = sluice()) {
      Dataset ds =
          s.pipeline(Pipeline.class, Map.of("rows", "100")).shuffleFiles(7).randomizeBlockOrder(9);
      PipelineRef ref = ds.definition().orElseThrow();
      assertThat(ref.reorders()).containsExactly("shuffleFiles:7", "randomizeBlockOrder:9");
      Dataset again = s.pipeline(ref, getClass().getClassLoader());
      assertThat(again.definition()).contains(ref);
      assertThat(fingerprint(again)).isEqualTo(fingerprint(ds));
      assertThat(fingerprint(again))
          .isNotEqualTo(fingerprint(s.pipeline(Pipeline.class, Map.of("rows", "100"))));
      assertThatThrownBy(() -> new PipelineRef("x.P", Map.of(), List.of("filter:1")))
          .hasMessageContaining("not a read-order change: filter:1");
    }
  }

  @Test
  void definitionsThatCannotBeMadeAreNamed() {
    ClassLoader cl = getClass().getClassLoader();
    try (Sluice s = sluice()) {
      assertThatThrownBy(() -> s.pipeline(new PipelineRef("no.such.Pipeline", Map.of()), cl))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("no.such.Pipeline is not on the class path");
      assertThatThrownBy(() -> s.pipeline(new PipelineRef(String.class.getName(), Map.of()), cl))
          .hasMessageContaining("java.lang.String is not a PipelineDefinition");
      assertThatThrownBy(() -> s.pipeline(NoDefaultConstructor.class, Map.of()))
          .hasMessageContaining("needs a public no-argument constructor");
    }
  }

  @Test
  void parametersAreKeptInKeyOrder() {
    PipelineRef r = new PipelineRef("x.P", Map.of("b", "2", "a", "1", "c", "3"));
    assertThat(List.copyOf(r.parameters().keySet())).containsExactly("a", "b", "c");
    assertThat(r).isEqualTo(new PipelineRef("x.P", Map.of("c", "3", "a", "1", "b", "2")));
  }
}
