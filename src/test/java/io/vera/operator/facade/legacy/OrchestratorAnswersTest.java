package io.vera.operator.facade.legacy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The exact text of the legacy orchestrator's answers, as the original sent them and legacy clients
 * parse them: field names, order, null versus absent, and number formats.
 */
class OrchestratorAnswersTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private static String json(Object answer) throws Exception {
    return MAPPER.writeValueAsString(answer);
  }

  @Test
  void acknowledgementsKeepTheirLegacyText() throws Exception {
    Map<String, Integer> sizes = new LinkedHashMap<>();
    sizes.put("LLM", 3);
    sizes.put("GENERAL", 0);
    assertThat(json(new OrchestratorAnswers.Initialized(sizes, 75)))
        .isEqualTo(
            "{\"status\":\"success\",\"message\":\"Orchestrator initialized\","
                + "\"worker_pools\":{\"LLM\":3,\"GENERAL\":0},\"cpu_threshold\":75.0}");
    assertThat(json(new OrchestratorAnswers.RunningChanged(false)))
        .isEqualTo(
            "{\"status\":\"success\",\"message\":\"Orchestrator stopped\",\"running\":false}");
    assertThat(json(new OrchestratorAnswers.Scaled("TOOL", 4, "tool")))
        .isEqualTo(
            "{\"status\":\"success\",\"task_type\":\"TOOL\",\"num_workers\":4,\"pool\":\"tool\"}");
    assertThat(json(new OrchestratorAnswers.Cancelled("t-1")))
        .isEqualTo("{\"status\":\"success\",\"task_id\":\"t-1\",\"message\":\"Task cancelled\"}");
    assertThat(json(new OrchestratorAnswers.Resubmitted("t-2", "t-1")))
        .isEqualTo(
            "{\"status\":\"success\",\"task_id\":\"t-2\",\"retry_of\":\"t-1\","
                + "\"message\":\"Task resubmitted\"}");
  }

  @Test
  void aSubmittedTaskWithoutAPoolSaysWhyAndOneWithAPoolLeavesTheReasonOut() throws Exception {
    assertThat(
            json(
                new OrchestratorAnswers.Submitted(
                    "t-1", "pending", "compute.sum", "high", "GENERAL", null, "no WorkerPool")))
        .isEqualTo(
            "{\"task_id\":\"t-1\",\"status\":\"pending\",\"name\":\"compute.sum\","
                + "\"priority\":\"high\",\"task_type\":\"GENERAL\",\"pool\":null,"
                + "\"pending_reason\":\"no WorkerPool\"}");
    assertThat(
            json(
                new OrchestratorAnswers.Submitted(
                    "t-1", "queued", "compute.sum", "normal", "GENERAL", "general", null)))
        .isEqualTo(
            "{\"task_id\":\"t-1\",\"status\":\"queued\",\"name\":\"compute.sum\","
                + "\"priority\":\"normal\",\"task_type\":\"GENERAL\",\"pool\":\"general\"}");
  }

  @Test
  void poolsListEveryCountAndANullThresholdStaysNull() throws Exception {
    OrchestratorAnswers.Pool pool =
        new OrchestratorAnswers.Pool(
            "general",
            "GENERAL",
            "Embedded",
            3,
            2,
            1,
            4,
            false,
            null,
            5,
            2,
            10L,
            1L,
            List.of("compute.sum"));
    assertThat(json(new OrchestratorAnswers.Pools(List.of(pool))))
        .isEqualTo(
            "{\"pools\":[{\"name\":\"general\",\"task_type\":\"GENERAL\",\"runtime\":\"Embedded\","
                + "\"num_workers\":3,\"current_workers\":2,\"ready_workers\":1,"
                + "\"concurrency_per_worker\":4,\"suspended\":false,\"cpu_threshold\":null,"
                + "\"queue_size\":5,\"active_tasks\":2,\"completed_tasks\":10,\"failed_tasks\":1,"
                + "\"handlers\":[\"compute.sum\"]}],\"count\":1}");
  }

  @Test
  void queuedTasksCarryEpochSecondsAndTheirPlace() throws Exception {
    OrchestratorAnswers.Queued first =
        new OrchestratorAnswers.Queued("t-1", "compute.sum", "high", "general", 1, 1.7e9, 0.0);
    OrchestratorAnswers.Queued unknown =
        new OrchestratorAnswers.Queued("t-2", "compute.sum", "low", "general", 2, null, 0.0);
    assertThat(
            json(
                new OrchestratorAnswers.QueueDetail(Map.of("GENERAL", List.of(first, unknown)), 2)))
        .isEqualTo(
            "{\"queues\":{\"GENERAL\":[{\"task_id\":\"t-1\",\"name\":\"compute.sum\","
                + "\"priority\":\"high\",\"pool\":\"general\",\"position\":1,"
                + "\"queued_at\":1.7E9,\"wait_seconds\":0.0},{\"task_id\":\"t-2\","
                + "\"name\":\"compute.sum\",\"priority\":\"low\",\"pool\":\"general\","
                + "\"position\":2,\"queued_at\":null,\"wait_seconds\":0.0}]},\"total_queued\":2}");
  }

  @Test
  void taskListsWrapTheTaskShapeWithTheirCounts() throws Exception {
    List<JsonNode> tasks = List.of(MAPPER.createObjectNode().put("task_id", "t-1"));
    assertThat(json(new OrchestratorAnswers.HistoryPage(tasks, 7, 50, 0)))
        .isEqualTo("{\"tasks\":[{\"task_id\":\"t-1\"}],\"total\":7,\"limit\":50,\"offset\":0}");
    assertThat(json(new OrchestratorAnswers.HistoryMatches(tasks, 9)))
        .isEqualTo("{\"tasks\":[{\"task_id\":\"t-1\"}],\"count\":1,\"total_matching\":9}");
    assertThat(json(new OrchestratorAnswers.Active(tasks)))
        .isEqualTo("{\"tasks\":[{\"task_id\":\"t-1\"}],\"count\":1}");
  }

  @Test
  void theRegistryDescribesOperatorHandlersInFullAndWorkerOnesByName() throws Exception {
    Map<String, Object> handlers = new LinkedHashMap<>();
    handlers.put(
        "compute.sum",
        new OrchestratorAnswers.Handler(
            "compute.sum",
            "GENERAL",
            "normal",
            0.5,
            3,
            300,
            false,
            1.0,
            256,
            List.of("math"),
            null,
            "operator"));
    handlers.put("ocr.page", new OrchestratorAnswers.WorkerHandler("ocr.page"));
    assertThat(json(new OrchestratorAnswers.Registry(handlers)))
        .isEqualTo(
            "{\"tasks\":{\"compute.sum\":{\"name\":\"compute.sum\",\"task_type\":\"GENERAL\","
                + "\"priority\":\"normal\",\"estimated_duration\":0.5,\"max_retries\":3,"
                + "\"timeout\":300,\"requires_gpu\":false,\"cpu_cores\":1.0,\"memory_mb\":256,"
                + "\"labels\":[\"math\"],\"description\":null,\"source\":\"operator\"},"
                + "\"ocr.page\":{\"name\":\"ocr.page\",\"source\":\"worker\"}},\"count\":2}");
  }

  @Test
  void statusSumsPoolsByTaskTypeAndSaysSoBeforeAnyPoolExists() throws Exception {
    assertThat(json(new OrchestratorAnswers.NotInitialized()))
        .isEqualTo("{\"initialized\":false,\"running\":false}");
    OrchestratorAnswers.Pool a =
        new OrchestratorAnswers.Pool(
            "general", "GENERAL", "Embedded", 3, 3, 3, 1, false, 75.0, 4, 2, 0L, 0L, List.of());
    OrchestratorAnswers.Pool b =
        new OrchestratorAnswers.Pool(
            "general-b", "GENERAL", "Pods", 2, 1, 1, 1, false, null, 1, 2, 0L, 0L, List.of());
    Map<String, OrchestratorAnswers.TypeSummary> byType = new LinkedHashMap<>();
    byType.put("GENERAL", OrchestratorAnswers.TypeSummary.of("GENERAL", List.of(a, b)));
    assertThat(
            json(
                new OrchestratorAnswers.Status(
                    true, true, 5, 4, 4, 5, Map.of("GENERAL", 5), byType)))
        .isEqualTo(
            "{\"initialized\":true,\"running\":true,\"worker_count\":5,\"active_workers\":4,"
                + "\"active_tasks\":4,\"queue_size\":5,\"queue_sizes\":{\"GENERAL\":5},"
                + "\"worker_pools\":{\"GENERAL\":{\"task_type\":\"GENERAL\","
                + "\"pools\":[\"general\",\"general-b\"],\"num_workers\":5,"
                + "\"current_workers\":4,\"active_workers\":4,\"queue_size\":5,"
                + "\"idle_workers\":0}}}");
  }
}
