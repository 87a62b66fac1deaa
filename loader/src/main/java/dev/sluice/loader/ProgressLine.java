package dev.sluice.loader;

import dev.sluice.loader.internal.exec.ExecutionObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The live progress line on stderr, in the spirit of Ray Data's: resources in use, memory in use of
 * the budget, rows done of the total, rate and ETA; and, on request, one bar per operator. Drawn
 * with the progressbar library; shown only when asked, or in {@code AUTO} mode when a console is
 * attached, so logs and CI output stay clean.
 */
final class ProgressLine implements ExecutionObserver {
  /**
   * Wide enough for the bar and the resource figures; terminals narrower than this wrap the line.
   */
  private static final int RENDERED_WIDTH = 160;

  private final ProgressBar main;
  private final List<ProgressBar> perOperator = new ArrayList<>();
  private final boolean operatorBars;
  private final String plan;

  private ProgressLine(String plan, boolean operatorBars) {
    this.plan = plan;
    this.operatorBars = operatorBars;
    this.main = bar("Running");
  }

  static ExecutionObserver forOptions(ExecutionOptions options, String plan) {
    boolean show =
        switch (options.progress()) {
          case ON -> true;
          case OFF -> false;
          case AUTO -> System.console() != null;
        };
    return show ? new ProgressLine(plan, options.operatorProgress()) : ExecutionObserver.NONE;
  }

  private static ProgressBar bar(String name) {
    return new ProgressBarBuilder()
        .setTaskName(name)
        .setInitialMax(-1)
        .setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK)
        .setConsumer(new ConsoleProgressBarConsumer(System.err, RENDERED_WIDTH))
        .setUpdateIntervalMillis(200)
        .setUnit(" rows", 1)
        .showSpeed()
        .continuousUpdate()
        .build();
  }

  @Override
  public void update(Snapshot s) {
    if (s.rowsTotal() > 0) {
      main.maxHint(s.rowsTotal());
    }
    main.stepTo(s.rowsOut());
    main.setExtraMessage(
        String.format(
            Locale.ROOT,
            " %.1f/%.1f CPU, %.1f/%.1f GPU, %s/%s memory",
            s.cpusUsed(),
            s.cpusTotal(),
            s.gpusUsed(),
            s.gpusTotal(),
            DatasetStats.bytes(s.memoryUsed()),
            DatasetStats.bytes(s.memoryBudget())));
    if (operatorBars) {
      while (perOperator.size() < s.operators().size()) {
        perOperator.add(bar("- " + s.operators().get(perOperator.size()).name()));
      }
      for (int i = 0; i < s.operators().size(); i++) {
        OperatorLine o = s.operators().get(i);
        ProgressBar b = perOperator.get(i);
        b.stepTo(o.rowsOut());
        b.setExtraMessage(
            String.format(
                Locale.ROOT,
                " %d tasks%s, queued %s, holds %s",
                o.tasksInFlight(),
                o.actors() > 0 ? ", " + o.actors() + " actors" : "",
                DatasetStats.bytes(o.queuedBytes()),
                DatasetStats.bytes(o.memoryUsage())));
      }
    }
  }

  @Override
  public void close() {
    perOperator.forEach(ProgressBar::close);
    main.close();
  }

  @Override
  public String toString() {
    return "ProgressLine[" + plan + "]";
  }
}
