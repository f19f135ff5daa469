package io.vera.operator.compute;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class OutputMeterTest {
  @Test
  void countsEveryByteAndLineOfBothStreamsPastTheCap() {
    OutputMeter meter = new OutputMeter();
    CappedOutput stdout = new CappedOutput(4, meter);
    CappedOutput stderr = new CappedOutput(4, meter);
    byte[] lines = "one\ntwo\nthree\n".getBytes(StandardCharsets.UTF_8);
    stdout.write(lines, 0, lines.length);
    stderr.write("oops\n".getBytes(StandardCharsets.UTF_8), 0, 5);

    assertThat(stdout.text()).isEqualTo("one\n");
    assertThat(stdout.truncated()).isTrue();
    assertThat(meter.bytes()).isEqualTo(19);
    assertThat(meter.lines()).isEqualTo(4);
  }

  @Test
  void theProgressMessageSaysHowLongAndHowMuchOutput() {
    OutputMeter meter = new OutputMeter();
    assertThat(ResourceTaskWorkers.progressMessage(Duration.ofSeconds(3), meter))
        .isEqualTo("running 3 s, no output yet");
    byte[] big = new byte[123_456];
    java.util.Arrays.fill(big, (byte) '\n');
    new CappedOutput(10, meter).write(big, 0, big.length);
    assertThat(ResourceTaskWorkers.progressMessage(Duration.ofMillis(12_900), meter))
        .isEqualTo("running 12 s, 123,456 lines (123 KB) of output so far");
  }
}
