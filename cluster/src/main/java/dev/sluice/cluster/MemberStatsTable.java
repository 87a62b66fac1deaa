package dev.sluice.cluster;

import dev.sluice.loader.DatasetStats;
import java.util.List;
import java.util.Locale;

/**
 * Prints {@link MemberStats} as a table, one line per member:
 *
 * <pre>
 * member    role     host         cpu s  cpu%  memory now / peak / budget       sent #        sent  recv #    received  local / moved            stall
 * 0ef1cc4e  trainer  h2             3.2   48%  0 B / 1.0 MiB / 16.0 MiB              0         0 B      65    62.5 MiB  29.6 MiB / 32.9 MiB      4.2%
 * d698c2e3  worker   h2             6.3   43%  0 B / 10.0 MiB / 16.0 MiB            39    31.5 MiB       7     3.0 MiB  29.6 MiB / 4.8 MiB
 * 9dc6851f  worker   h3          no figures: no answer within 5000 ms
 * </pre>
 *
 * <p>The member is the first 8 digits of its id. Bytes are the blocks' Arrow body bytes; local /
 * moved splits what the member sent and received by whether the other end was on its host.
 *
 * <p>CPU% is the share of the member's CPUs over the interval since the previous collection; stall
 * is the share of the epoch the trainer waited for data, when given.
 */
public final class MemberStatsTable {
  private static final String ROW =
      "%-8s  %-7s  %-10s  %6s  %4s  %-31s  %6s  %10s  %6s  %10s  %-23s  %s";

  private MemberStatsTable() {}

  /** The table, without a stall column. */
  public static String format(List<MemberStats> members) {
    return format(members, Double.NaN);
  }

  /**
   * The table, with the trainers' stall share (0 to 1; NaN for none) on their lines.
   *
   * @param members the members, in the order to print them
   * @param trainerStallShare the share of the epoch the trainer waited in {@code next()}
   */
  public static String format(List<MemberStats> members, double trainerStallShare) {
    StringBuilder sb =
        new StringBuilder(
            String.format(
                    Locale.ROOT,
                    ROW,
                    "member",
                    "role",
                    "host",
                    "cpu s",
                    "cpu%",
                    "memory now / peak / budget",
                    "sent #",
                    "sent",
                    "recv #",
                    "received",
                    "local / moved",
                    Double.isNaN(trainerStallShare) ? "" : "stall")
                .stripTrailing());
    for (MemberStats m : members) {
      sb.append('\n').append(line(m, trainerStallShare));
    }
    return sb.toString();
  }

  private static String line(MemberStats m, double stall) {
    String id = m.id().toString().substring(0, 8);
    String role = m.role().attributeValue();
    if (!m.answered()) {
      return String.format(
          Locale.ROOT, "%-8s  %-7s  %-10s  no figures: %s", id, role, m.host(), m.unanswered());
    }
    String memory =
        bytes(m.memoryInUse())
            + " / "
            + bytes(m.memoryPeak())
            + " / "
            + (m.hasMemoryBudget() ? DatasetStats.bytes(m.memoryBudget()) : "none");
    return String.format(
            Locale.ROOT,
            ROW,
            id,
            role,
            m.host(),
            m.cpuNanos() < 0 ? "?" : String.format(Locale.ROOT, "%.1f", m.cpuNanos() / 1e9),
            Double.isNaN(m.cpuShare())
                ? "?"
                : String.format(Locale.ROOT, "%.0f%%", 100 * m.cpuShare()),
            memory,
            m.sent().blocks(),
            DatasetStats.bytes(m.sent().bytes()),
            m.received().blocks(),
            DatasetStats.bytes(m.received().bytes()),
            DatasetStats.bytes(m.localBytes()) + " / " + DatasetStats.bytes(m.movedBytes()),
            m.role() == Role.TRAINER && !Double.isNaN(stall)
                ? String.format(Locale.ROOT, "%.1f%%", 100 * stall)
                : "")
        .stripTrailing();
  }

  private static String bytes(long b) {
    return b < 0 ? "?" : DatasetStats.bytes(b);
  }
}
