package dev.sluice.sharding;

import java.util.ArrayList;
import java.util.List;

/** Datasets and row bookkeeping shared by the tests. */
final class Fixtures {
  private Fixtures() {}

  /** How a test assigns a plan: balanced, or equal with one of the remainder policies. */
  enum Mode {
    BALANCED,
    DROP,
    PAD,
    UNEVEN;

    StaticAssigner assigner(int consumers) {
      return this == BALANCED
          ? StaticAssigner.balanced(consumers)
          : StaticAssigner.equal(consumers, RemainderPolicy.valueOf(name()));
    }
  }

  /** One whole-file split per row count, indexed in order; split i lives on host "host-(i % 3)". */
  static List<SourceSplit> splits(List<Long> rowCounts) {
    var splits = new ArrayList<SourceSplit>();
    for (int i = 0; i < rowCounts.size(); i++) {
      splits.add(
          new SourceSplit(
              "src",
              i,
              List.of("part-" + i + ".tar"),
              0,
              -1,
              rowCounts.get(i),
              rowCounts.get(i) * 100,
              List.of("host-" + (i % 3))));
    }
    return splits;
  }

  /** A row's identity across the dataset: its split's index and its row number. */
  static long rowId(SourceSplit split, long row) {
    return ((long) split.index() << 32) | row;
  }

  /** The rows a segment delivers; an open-ended one runs to its split's (test-known) row count. */
  static List<Long> rows(ShareSegment segment) {
    long end = segment.toRow() == -1 ? segment.split().estimatedRows() : segment.toRow();
    var rows = new ArrayList<Long>();
    for (long row = segment.fromRow(); row < end; row++) {
      rows.add(rowId(segment.split(), row));
    }
    return rows;
  }

  static List<Long> rows(List<ShareSegment> segments) {
    var rows = new ArrayList<Long>();
    segments.forEach(segment -> rows.addAll(rows(segment)));
    return rows;
  }

  /** Every row of the plan, in plan order. */
  static List<Long> planRows(EpochPlan plan) {
    var rows = new ArrayList<Long>();
    plan.splits().forEach(split -> rows.addAll(rows(ShareSegment.whole(split))));
    return rows;
  }
}
