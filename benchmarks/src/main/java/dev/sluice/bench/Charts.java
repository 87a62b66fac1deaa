package dev.sluice.bench;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * Draws a benchmark's figures as one PNG: a grid of bar charts, one per metric, with min, median
 * and max per case.
 */
final class Charts {
  private static final int PANEL_WIDTH = 560;
  private static final int PANEL_HEIGHT = 380;
  private static final int TITLE_HEIGHT = 44;

  private Charts() {}

  /**
   * One bar chart.
   *
   * @param title the chart's title
   * @param yAxis the value axis's label (with its unit)
   * @param byCase the summary of each case (a bar group per case, in map order)
   */
  record Panel(String title, String yAxis, Map<String, Summary> byCase) {}

  /**
   * Writes {@code panels} as a grid of {@code columns} columns under {@code title} into {@code
   * png}.
   */
  static void writeGrid(Path png, String title, List<Panel> panels, int columns)
      throws IOException {
    System.setProperty("java.awt.headless", "true");
    int rows = (panels.size() + columns - 1) / columns;
    BufferedImage image =
        new BufferedImage(
            columns * PANEL_WIDTH, TITLE_HEIGHT + rows * PANEL_HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    try {
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, image.getWidth(), image.getHeight());
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 18));
      g.drawString(title, 16, 28);
      for (int i = 0; i < panels.size(); i++) {
        BufferedImage panel = BitmapEncoder.getBufferedImage(chart(panels.get(i)));
        g.drawImage(
            panel, (i % columns) * PANEL_WIDTH, TITLE_HEIGHT + (i / columns) * PANEL_HEIGHT, null);
      }
    } finally {
      g.dispose();
    }
    Files.createDirectories(png.toAbsolutePath().getParent());
    if (!ImageIO.write(image, "png", png.toFile())) {
      throw new IOException("no PNG writer available for " + png);
    }
  }

  private static CategoryChart chart(Panel p) {
    CategoryChart chart =
        new CategoryChartBuilder()
            .width(PANEL_WIDTH)
            .height(PANEL_HEIGHT)
            .title(p.title())
            .yAxisTitle(p.yAxis())
            .build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
    chart.getStyler().setChartBackgroundColor(Color.WHITE);
    chart.getStyler().setPlotGridVerticalLinesVisible(false);
    chart.getStyler().setLabelsVisible(false);
    chart.getStyler().setYAxisDecimalPattern("#,##0.##");
    chart
        .getStyler()
        .setSeriesColors(
            new Color[] {new Color(0x9ecae1), new Color(0x3182bd), new Color(0x08519c)});
    List<String> cases = new ArrayList<>(p.byCase().keySet());
    if (cases.size() > 4
        || cases.stream().mapToInt(String::length).sum()
            > 48) { // (the names would run into each other)
      // Upright: XChart leaves out the last category's label when a slanted one would reach past
      // the plot.
      chart.getStyler().setXAxisLabelRotation(90);
    }
    List<Double> min = new ArrayList<>();
    List<Double> median = new ArrayList<>();
    List<Double> max = new ArrayList<>();
    for (String c : cases) {
      Summary s = p.byCase().get(c);
      min.add(s.min());
      median.add(s.median());
      max.add(s.max());
    }
    chart.addSeries("min", cases, min);
    chart.addSeries("median", cases, median);
    chart.addSeries("max", cases, max);
    return chart;
  }
}
