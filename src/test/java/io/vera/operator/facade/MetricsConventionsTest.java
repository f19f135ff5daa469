package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.vera.operator.api.TaskPhase;
import io.vera.operator.api.TaskType;
import io.vera.operator.api.VeraTask;
import io.vera.operator.app.OperatorHarness;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The operator's own metrics follow Prometheus conventions, as a scrape of /metrics shows them
 * after a task ran: every vera_ family has help text, names carry their unit, pools and providers
 * are labelled with separate namespace and name, histograms have about 15 buckets, and the series
 * the chart's alerts and dashboard use exist.
 */
class MetricsConventionsTest {
  private static final Pattern HELP = Pattern.compile("(?m)^# HELP (\\S+) ?(.*)$");
  private static final Pattern TYPE = Pattern.compile("(?m)^# TYPE (\\S+) (\\S+)$");

  @Test
  void operatorMetricsHaveHelpUnitsSeparateNamesAndFewBuckets() {
    String scrape;
    try (OperatorHarness harness = new OperatorHarness()) {
      harness.createEmbeddedPool("metrics-pool", TaskType.GENERAL, 1, false);
      OperatorHarness.Response submitted =
          harness.post(
              "/orchestrator/tasks/submit",
              "{\"name\": \"compute.sum\", \"payload\": {\"a\": 1, \"b\": 2},"
                  + " \"pool\": \"metrics-pool\"}");
      assertThat(submitted.status()).as(submitted.text()).isEqualTo(200);
      String id = submitted.json().get("task_id").asText();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () -> {
                VeraTask task = harness.task(id);
                return task.getStatus() != null && task.getStatus().phase == TaskPhase.Succeeded;
              });
      scrape = harness.get("/metrics").text();
    }

    Map<String, String> types = new LinkedHashMap<>();
    Matcher type = TYPE.matcher(scrape);
    while (type.find()) {
      types.put(type.group(1), type.group(2));
    }
    List<String> veraFamilies =
        types.keySet().stream().filter(name -> name.startsWith("vera_")).toList();
    assertThat(veraFamilies)
        .as("the families the chart's alerts and dashboard read")
        .contains(
            "vera_tasks_total",
            "vera_queue_depth",
            "vera_queue_oldest_age_seconds",
            "vera_tasks_running",
            "vera_task_queue_wait_seconds",
            "vera_task_run_seconds",
            "vera_leader");

    Matcher help = HELP.matcher(scrape);
    List<String> withoutHelp = new ArrayList<>();
    while (help.find()) {
      // (java-operator-sdk's own operator_sdk_* meters come without help text; not ours to set)
      if (help.group(1).startsWith("vera_") && help.group(2).isBlank()) {
        withoutHelp.add(help.group(1));
      }
    }
    assertThat(withoutHelp).as("families with empty help text").isEmpty();

    assertThat(veraFamilies)
        .as("units in base units (seconds, bytes), never milliseconds")
        .noneMatch(name -> name.matches(".*_(ms|milliseconds)(_.*)?$"));
    for (String family : veraFamilies) {
      String kind = types.get(family);
      if (kind.equals("histogram")) {
        assertThat(family).as("a histogram names its unit").endsWith("_seconds");
        long buckets =
            scrape
                .lines()
                .filter(
                    l -> l.startsWith(family + "_bucket{") && l.contains("name=\"metrics-pool\""))
                .count();
        // One series of this pool: its buckets, +Inf included.
        assertThat(buckets).as(family + " buckets").isBetween(10L, 20L);
      }
      for (String series : scrape.lines().filter(l -> l.startsWith(family + "{")).toList()) {
        if (series.contains("pool=\"") || series.contains("provider=\"")) {
          assertThat(series)
              .as("namespace and name as labels of their own")
              .containsPattern("[{,]namespace=\"[^\"]+\"")
              .containsPattern("[{,]name=\"[^\"]+\"");
        }
      }
    }
    assertThat(scrape)
        .as("the pool's namespace and name apart")
        .containsPattern(
            "vera_queue_depth\\{[^}]*name=\"metrics-pool\"[^}]*namespace=\"[a-z0-9-]+\"");
    assertThat(scrape).containsPattern("(?m)^vera_leader(\\{[^}]*\\})? 1\\.0$");
  }
}
