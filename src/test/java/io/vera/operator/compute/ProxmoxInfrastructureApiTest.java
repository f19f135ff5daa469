package io.vera.operator.compute;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.vera.operator.api.Provider;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.compute.proxmox.ProxmoxSimulator;
import io.vera.operator.facade.legacy.LegacyInfrastructure;
import java.time.Duration;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The legacy infrastructure API against the Proxmox simulator: initialize with an API token,
 * provision a VM and an LXC container through REST, run a command in the VM through the guest
 * agent, refuse exec in the container, and remove both, with every request the operator sends
 * checked against the Proxmox API schema.
 */
class ProxmoxInfrastructureApiTest {
  private static final String BASE = "/orchestrator/infrastructure";

  private ProxmoxSimulator proxmox;
  private OperatorHarness harness;

  @BeforeEach
  void start() throws Exception {
    proxmox = ProxmoxSimulator.start();
    harness = new OperatorHarness();
  }

  private static void assertText(OperatorHarness.Response response, String template) {
    assertThat(response.hasText(template)).as(response.text()).isTrue();
  }

  @AfterEach
  void stop() throws Exception {
    harness.close();
    proxmox.close();
  }

  @Test
  void provisionsExecutesAndRemovesVmsAndContainers() {
    String empty = "{\"cpu_cores\":0.0,\"memory_mb\":0,\"disk_gb\":0,\"gpu_count\":0}";
    assertText(
        harness.get(BASE + "/stats"),
        "{\"initialized\":false,\"total_resources\":0,\"available_resources\":0,"
            + "\"allocated_resources\":0,\"in_use_resources\":0,\"total_capacity\":"
            + empty
            + ",\"available_capacity\":"
            + empty
            + ",\"tasks_executed\":0,\"containers_created\":0,\"vms_created\":0}");
    assertText(
        harness.get(BASE + "/health"),
        "{\"status\":\"healthy\",\"initialized\":false,\"docker_available\":false,"
            + "\"proxmox_available\":false,\"total_resources\":0,\"providers\":{}}");
    String token = proxmox.tokenSecret().get("tokenSecret");
    OperatorHarness.Response init =
        harness.post(
            BASE + "/initialize",
            "{\"enable_docker\": false, \"enable_proxmox\": true, \"proxmox_host\": \""
                + proxmox.baseUrl()
                + "\", \"proxmox_user\": \"vera@pve\", \"proxmox_token_name\": \"operator\","
                + " \"proxmox_token_value\": \""
                + token
                + "\", \"proxmox_verify_ssl\": false}");
    assertThat(init.status()).as(init.text()).isEqualTo(200);
    // Whether the probe answered within its 5 s depends on the machine's load: only the form is
    // held.
    assertText(
        init,
        "{\"status\":\"success\",\"message\":\"initialized proxmox\",\"providers\":{\"proxmox\":"
            + "{\"provider\":\"vera-proxmox\",\"ready\":<bool>,\"detail\":\"<text>\"}}}");
    assertThat(init.text()).doesNotContain(token);
    Provider provider =
        harness
            .client()
            .resources(Provider.class)
            .inNamespace(OperatorHarness.NAMESPACE)
            .withName(LegacyInfrastructure.PROXMOX)
            .get();
    assertThat(provider.getSpec().credentialsSecretRef.name).isEqualTo("vera-proxmox-credentials");
    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              JsonNode health = harness.get(BASE + "/health").json();
              assertThat(health.path("proxmox_available").asBoolean()).isTrue();
              Provider probed =
                  harness
                      .client()
                      .resources(Provider.class)
                      .inNamespace(OperatorHarness.NAMESPACE)
                      .withName(LegacyInfrastructure.PROXMOX)
                      .get();
              assertThat(probed.getStatus()).isNotNull();
              assertThat(probed.getStatus().host).isNotNull();
              assertThat(probed.getStatus().host.version).isEqualTo(ProxmoxSimulator.VERSION);
              assertThat(probed.getStatus().host.nodes).isNotEmpty();
            });

    OperatorHarness.Response vm =
        harness.post(
            BASE + "/resources/proxmox/provision",
            "{\"spec\": {\"cpu_cores\": 2, \"memory_mb\": 2048, \"disk_gb\": 20}, \"node\": \"pve1\","
                + " \"template\": \""
                + ProxmoxSimulator.TEMPLATE_NAME
                + "\"}");
    assertThat(vm.status()).as(vm.text()).isEqualTo(200);
    assertText(
        vm,
        "{\"status\":\"success\",\"resource_id\":\"proxmox-pve1-<int>\","
            + "\"resource_type\":\"proxmox_vm\",\"message\":\"Proxmox VM provisioned\"}");
    String vmId = vm.json().path("resource_id").asText();
    assertThat(vmId).matches("proxmox-pve1-1\\d{4}");
    assertThat(vm.json().path("resource_type").asText()).isEqualTo("proxmox_vm");
    int vmid = Integer.parseInt(vmId.substring(vmId.lastIndexOf('-') + 1));
    assertThat(proxmox.guest(vmid).config()).containsEntry("cores", "2");

    OperatorHarness.Response ran =
        harness.post(
            BASE + "/resources/" + vmId + "/execute", "{\"command\": \"echo hello from the vm\"}");
    assertThat(ran.status()).as(ran.text()).isEqualTo(200);
    assertText(
        ran,
        "{\"status\":\"success\",\"exit_code\":0,\"output\":\"hello from the vm\\n\","
            + "\"stdout\":\"hello from the vm\\n\",\"stderr\":\"\",\"timed_out\":false,"
            + "\"truncated\":false,\"duration_ms\":<int>}");
    assertText(
        harness.get(BASE + "/stats/resources/" + vmId),
        "{\"resource_id\":\""
            + vmId
            + "\",\"timestamp\":<float>,\"cpu_percent\":2.13,\"memory_used_mb\":300.0,"
            + "\"memory_limit_mb\":2048.0,\"memory_percent\":14.6484375,"
            + "\"network_rx_bytes\":123456,\"network_tx_bytes\":65432}");
    assertText(
        harness.get(BASE + "/health"),
        "{\"status\":\"healthy\",\"initialized\":true,\"docker_available\":false,"
            + "\"proxmox_available\":true,\"total_resources\":1,\"providers\":{\"proxmox\":"
            + "{\"provider\":\"vera-proxmox\",\"healthy\":true}}}");
    assertText(
        harness.post(BASE + "/resources/cleanup", "{}"),
        "{\"status\":\"success\",\"count\":0,\"resource_ids\":[]}");
    assertThat(ran.json().path("exit_code").asInt()).isZero();
    assertThat(ran.json().path("stdout").asText()).isEqualTo("hello from the vm\n");

    OperatorHarness.Response lxc =
        harness.post(
            BASE + "/resources/proxmox/provision",
            "{\"spec\": {\"cpu_cores\": 1, \"memory_mb\": 512, \"disk_gb\": 8}, \"node\": \"pve1\","
                + " \"resource_type\": \"proxmox_lxc\", \"template\": \""
                + ProxmoxSimulator.OSTEMPLATE
                + "\"}");
    assertThat(lxc.status()).as(lxc.text()).isEqualTo(200);
    String lxcId = lxc.json().path("resource_id").asText();
    OperatorHarness.Response refused =
        harness.post(BASE + "/resources/" + lxcId + "/execute", "{\"command\": \"id\"}");
    assertThat(refused.status()).isEqualTo(409);
    assertThat(refused.json().path("detail").asText())
        .contains("no call to run a command in a container");

    JsonNode stats = harness.get(BASE + "/stats").json();
    assertThat(stats.path("vms_created").asInt()).isEqualTo(2);
    assertThat(stats.path("total_capacity").path("cpu_cores").asDouble()).isEqualTo(3.0);
    String both = "{\"cpu_cores\":3.0,\"memory_mb\":2560,\"disk_gb\":28,\"gpu_count\":0}";
    assertText(
        harness.get(BASE + "/stats"),
        "{\"initialized\":true,\"total_resources\":2,\"available_resources\":2,"
            + "\"allocated_resources\":0,\"in_use_resources\":0,\"total_capacity\":"
            + both
            + ",\"available_capacity\":"
            + both
            + ",\"tasks_executed\":<int>,\"containers_created\":0,\"vms_created\":2}");

    OperatorHarness.Response scaled =
        harness.post(
            BASE + "/resources/scale",
            "{\"resource_type\": \"proxmox_vm\", \"count\": 1, \"node\": \"pve1\", \"template\": \""
                + ProxmoxSimulator.TEMPLATE_NAME
                + "\"}");
    assertText(
        scaled,
        "{\"status\":\"success\",\"count\":1,\"resource_ids\":[\"proxmox-pve1-<int>\"],"
            + "\"message\":\"provisioned 1 proxmox_vm\"}");
    String scaledId = scaled.json().path("resource_ids").path(0).asText();
    // Never used: no task, last_used null, no error in metadata.
    assertText(
        harness.get(BASE + "/resources/" + scaledId),
        "{\"resource_id\":\""
            + scaledId
            + "\",\"resource_type\":\"proxmox_vm\",\"status\":\"available\","
            + "\"spec\":{\"cpu_cores\":1.0,\"memory_mb\":512,\"disk_gb\":10,\"gpu_count\":0},"
            + "\"current_task_id\":null,\"total_tasks\":0,\"created_at\":<float>,\"last_used\":null,"
            + "\"metadata\":{\"name\":\"proxmox-vm-<text>\",\"namespace\":\"default\","
            + "\"provider\":\"vera-proxmox\",\"machine_id\":\"pve1/<int>\",\"address\":\"<text>\","
            + "\"task_type\":\"GENERAL\",\"node\":\"pve1\"}}");

    for (String id : new String[] {vmId, lxcId, scaledId}) {
      OperatorHarness.Response deleted = harness.send("DELETE", BASE + "/resources/" + id, null);
      assertThat(deleted.status()).isEqualTo(200);
      assertThat(deleted.json().path("status").asText()).isEqualTo("success");
      assertThat(deleted.json().path("message").asText())
          .isEqualTo("resource " + id + " is being removed");
    }
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                harness.get(BASE + "/resources").json().isEmpty()
                    && proxmox.guests().stream().noneMatch(g -> g.vmid() >= 10000));
    assertThat(proxmox.schemaViolations()).isEmpty();
  }
}
