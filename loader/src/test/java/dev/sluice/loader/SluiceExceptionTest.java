package dev.sluice.loader;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** An error names its operator, file and entry once. */
class SluiceExceptionTest {
  @Test
  void theLocationIsAddedToAMessageThatLacksIt() {
    SluiceException e =
        new SluiceException("bad image", "Decode", "/data/a.tar", "sample-0007", null);
    assertThat(e.getMessage())
        .isEqualTo("[Decode] bad image (file /data/a.tar, entry sample-0007)");
    assertThat(new SluiceException("bad image", null, null, "sample-0007", null).getMessage())
        .isEqualTo("bad image (entry sample-0007)");
  }

  @Test
  void aMessageThatNamesTheFileOrTheEntryIsNotToldThemAgain() {
    String message = "bad CSV row at line 2 of /data/x.csv: 1 fields, the header has 4";
    assertThat(new SluiceException(message, "ReadCsv", "/data/x.csv", "line 2", null).getMessage())
        .isEqualTo("[ReadCsv] " + message);
    assertThat(new SluiceException("/data/x.csv is empty", null, "/data/x.csv", "row 3", null))
        .hasMessage("/data/x.csv is empty (entry row 3)");
    assertThat(
            new SluiceException(
                "/data/x.csv: line 20 is short", null, "/data/x.csv", "line 2", null))
        .as("line 2 is not named by line 20")
        .hasMessage("/data/x.csv: line 20 is short (entry line 2)");
  }

  @Test
  void aMessageThatDoesNotNameTheFileKeepsTheWholeLocation() {
    // The key "1" appears in the message by chance: it does not name the entry.
    assertThat(new SluiceException("1 fields, the header has 4", null, "/data/x.tar", "1", null))
        .hasMessage("1 fields, the header has 4 (file /data/x.tar, entry 1)");
  }
}
