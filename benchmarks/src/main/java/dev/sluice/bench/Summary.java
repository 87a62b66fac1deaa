package dev.sluice.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The spread of one metric over the runs of a benchmark.
 *
 * @param min the smallest value
 * @param median the median (the mean of the two middle values for an even count)
 * @param max the largest value
 * @param n the number of values
 */
public record Summary(double min, double median, double max, int n) {

  /**
   * The summary of {@code values}.
   *
   * @throws IllegalArgumentException when there are none
   */
  public static Summary of(List<Double> values) {
    if (values.isEmpty()) {
      throw new IllegalArgumentException("no values to summarise");
    }
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int n = sorted.size();
    double median =
        n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    return new Summary(sorted.get(0), median, sorted.get(n - 1), n);
  }

  /**
   * One summary per group of runs, in the order of {@code groups}: the values {@code metric} gives
   * for the runs whose {@code groupOf} is that group.
   */
  public static <R> java.util.Map<String, Summary> byGroup(
      List<R> runs,
      List<String> groups,
      java.util.function.Function<R, String> groupOf,
      java.util.function.ToDoubleFunction<R> metric) {
    java.util.Map<String, Summary> out = new java.util.LinkedHashMap<>();
    for (String g : groups) {
      List<Double> values = new ArrayList<>();
      for (R r : runs) {
        if (groupOf.apply(r).equals(g)) {
          values.add(metric.applyAsDouble(r));
        }
      }
      out.put(g, of(values));
    }
    return out;
  }

  /** The ratio of two summaries' medians ({@code this / other}), for "streaming / bulk" figures. */
  public double medianRatio(Summary other) {
    return median / other.median;
  }
}
