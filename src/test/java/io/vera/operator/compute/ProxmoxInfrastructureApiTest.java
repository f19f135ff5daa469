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

  @AfterEach
  void stop() throws Exception {
    harness.close();
    proxmox.close();
  }

  @Test
  void provisionsExecutesAndRemovesVmsAndContainers() {
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
    String vmId = vm.json().path("resource_id").asText();
    assertThat(vmId).matches("proxmox-pve1-1\\d{4}");
    assertThat(vm.json().path("resource_type").asText()).isEqualTo("proxmox_vm");
    int vmid = Integer.parseInt(vmId.substring(vmId.lastIndexOf('-') + 1));
    assertThat(proxmox.guest(vmid).config()).containsEntry("cores", "2");

    OperatorHarness.Response ran =
        harness.post(
            BASE + "/resources/" + vmId + "/execute", "{\"command\": \"echo hello from the vm\"}");
    assertThat(ran.status()).as(ran.text()).isEqualTo(200);
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

    for (String id : new String[] {vmId, lxcId}) {
      assertThat(harness.send("DELETE", BASE + "/resources/" + id, null).status()).isEqualTo(200);
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
