package io.vera.operator.facade.legacy;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.compute.Capacity;
import io.vera.operator.facade.JsonBody;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The exact text of the legacy infrastructure router's answers where the Proxmox simulator cannot
 * show it (ProxmoxInfrastructureApiTest holds the rest): hosts that are down, failed commands,
 * figures a host does not report, and a resource's optional metadata, null or absent as the
 * original sent them.
 */
class InfrastructureAnswersTest {

  private static String json(Object answer) throws Exception {
    return JsonBody.MAPPER.writeValueAsString(answer);
  }

  @Test
  void aHostThatIsDownIsSaidWithItsDetail() throws Exception {
    Map<String, InfrastructureAnswers.HostReadiness> readiness = new LinkedHashMap<>();
    readiness.put("docker", new InfrastructureAnswers.HostReadiness("vera-docker", false, null));
    assertThat(json(new InfrastructureAnswers.Initialized("initialized docker", readiness)))
        .isEqualTo(
            "{\"status\":\"success\",\"message\":\"initialized docker\",\"providers\":"
                + "{\"docker\":{\"provider\":\"vera-docker\",\"ready\":false,\"detail\":null}}}");
    Map<String, InfrastructureAnswers.HostHealth> hosts = new LinkedHashMap<>();
    hosts.put("docker", new InfrastructureAnswers.HostHealth("vera-docker", false, "refused"));
    assertThat(
            json(
                new InfrastructureAnswers.Health(
                    "unhealthy", "docker: refused", true, false, false, 2, hosts)))
        .isEqualTo(
            "{\"status\":\"unhealthy\",\"detail\":\"docker: refused\",\"initialized\":true,"
                + "\"docker_available\":false,\"proxmox_available\":false,\"total_resources\":2,"
                + "\"providers\":{\"docker\":{\"provider\":\"vera-docker\",\"healthy\":false,"
                + "\"detail\":\"refused\"}}}");
  }

  @Test
  void commandsAndRemovalKeepTheirLegacyText() throws Exception {
    assertThat(
            json(new InfrastructureAnswers.Executed("failed", 2, "oe", "o", "e", true, true, 30)))
        .isEqualTo(
            "{\"status\":\"failed\",\"exit_code\":2,\"output\":\"oe\",\"stdout\":\"o\","
                + "\"stderr\":\"e\",\"timed_out\":true,\"truncated\":true,\"duration_ms\":30}");
    assertThat(json(new InfrastructureAnswers.Removing("docker-abc")))
        .isEqualTo("{\"status\":\"success\",\"message\":\"resource docker-abc is being removed\"}");
    assertThat(json(new InfrastructureAnswers.CleanedUp(List.of("a", "b"))))
        .isEqualTo("{\"status\":\"success\",\"count\":2,\"resource_ids\":[\"a\",\"b\"]}");
  }

  @Test
  void figuresAHostDoesNotReportAreNull() throws Exception {
    assertThat(
            json(
                new InfrastructureAnswers.ResourceStats(
                    "docker-abc", 1.7e9, null, null, 512.0, null, null, 7L)))
        .isEqualTo(
            "{\"resource_id\":\"docker-abc\",\"timestamp\":1.7E9,\"cpu_percent\":null,"
                + "\"memory_used_mb\":null,\"memory_limit_mb\":512.0,\"memory_percent\":null,"
                + "\"network_rx_bytes\":null,\"network_tx_bytes\":7}");
  }

  @Test
  void aResourcesOptionalMetadataFollowsInOrderAndKeepsANullValue() throws Exception {
    Map<String, String> applicable = new LinkedHashMap<>();
    applicable.put("image", "python:3.11-slim");
    applicable.put("error", null);
    InfrastructureAnswers.Resource resource =
        new InfrastructureAnswers.Resource(
            "docker-abc",
            "docker_container",
            "error",
            InfrastructureAnswers.Size.of(new Capacity(0.5, 512, 10, 0)),
            "t-1",
            3,
            1.7e9,
            null,
            new InfrastructureAnswers.Metadata(
                "docker-abc", "default", null, null, null, "GENERAL", applicable));
    assertThat(json(resource))
        .isEqualTo(
            "{\"resource_id\":\"docker-abc\",\"resource_type\":\"docker_container\","
                + "\"status\":\"error\",\"spec\":{\"cpu_cores\":0.5,\"memory_mb\":512,"
                + "\"disk_gb\":10,\"gpu_count\":0},\"current_task_id\":\"t-1\",\"total_tasks\":3,"
                + "\"created_at\":1.7E9,\"last_used\":null,\"metadata\":{\"name\":\"docker-abc\","
                + "\"namespace\":\"default\",\"provider\":null,\"machine_id\":null,"
                + "\"address\":null,\"task_type\":\"GENERAL\",\"image\":\"python:3.11-slim\","
                + "\"error\":null}}");
    assertThat(
            json(
                new InfrastructureAnswers.Metadata(
                    "pod-x", "default", "vera-pods", "m", "10.0.0.1", "GPU", Map.of())))
        .isEqualTo(
            "{\"name\":\"pod-x\",\"namespace\":\"default\",\"provider\":\"vera-pods\","
                + "\"machine_id\":\"m\",\"address\":\"10.0.0.1\",\"task_type\":\"GPU\"}");
  }
}
