package io.vera.operator.compute.proxmox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import okhttp3.FormBody;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The API client's wire behaviour: errors, tasks, auth, number parsing. */
class ProxmoxClientTest {
  private static final ProxmoxClient.Policy FAST =
      new ProxmoxClient.Policy(
          Duration.ofSeconds(10),
          2,
          Duration.ofSeconds(5),
          Duration.ofMillis(20),
          Duration.ofMillis(100),
          Duration.ofMinutes(110));

  private ProxmoxSimulator sim;
  private ProxmoxClient client;

  private void start(ProxmoxSimulator.Options options) throws Exception {
    sim = ProxmoxSimulator.start(options);
    client =
        ProxmoxClient.create(
            sim.baseUrl(),
            ProxmoxSimulator.TOKEN_ID,
            sim.tokenSecret().get("tokenSecret"),
            null,
            null,
            true,
            sim.caPem(),
            FAST);
  }

  private void start() throws Exception {
    start(new ProxmoxSimulator.Options());
  }

  @AfterEach
  void stop() throws Exception {
    if (client != null) {
      client.close();
    }
    if (sim != null) {
      sim.close();
    }
  }

  @Test
  void errorsCarryTheReasonPhraseAndTheFieldErrorsOfA400() throws Exception {
    start();
    assertThatThrownBy(() -> client.put("nodes/pve1/qemu/9000/config", Params.of().put("cores", 0)))
        .isInstanceOf(ProxmoxException.class)
        .hasMessageContaining("HTTP 400 Parameter verification failed.")
        .hasMessageContaining("cores: value must have a minimum value of 1")
        .satisfies(e -> assertThat(((ProxmoxException) e).fieldErrors()).containsKey("cores"));
    assertThat(sim.schemaViolations()).hasSize(1);

    assertThatThrownBy(() -> client.get("nodes/pve1/qemu/4242/config", Params.of()))
        .isInstanceOf(ProxmoxException.class)
        .hasMessageContaining(
            "HTTP 500 Configuration file 'nodes/pve1/qemu-server/4242.conf' does not exist")
        .satisfies(e -> assertThat(((ProxmoxException) e).notFound()).isTrue());
  }

  @Test
  void aFailedTaskReportsItsExitStatusAndLog() throws Exception {
    start();
    sim.failNextTasks("qmstart", "start failed: QEMU exited with code 1", 1);
    assertThatThrownBy(
            () ->
                client.runTask(
                    "POST",
                    "nodes/pve1/qemu/9000/status/start",
                    Params.of(),
                    Duration.ofSeconds(5)))
        .isInstanceOf(ProxmoxException.class)
        .hasMessageContaining(
            "task qmstart 9000 on pve1 failed: start failed: QEMU exited with code 1")
        .satisfies(
            e -> assertThat(((ProxmoxException) e).kind()).isEqualTo(ProxmoxException.Kind.TASK));
  }

  @Test
  void warningsAreSuccess() throws Exception {
    start();
    sim.failNextTasks("qmstop", "WARNINGS: 2", 1);
    ProxmoxClient.TaskOutcome outcome =
        client.runTask(
            "POST", "nodes/pve1/qemu/9000/status/stop", Params.of(), Duration.ofSeconds(5));
    assertThat(outcome.exitStatus()).isEqualTo("WARNINGS: 2");
  }

  @Test
  void aTaskPastItsDeadlineIsATimeoutAndKeepsRunning() throws Exception {
    ProxmoxSimulator.Options slow = new ProxmoxSimulator.Options();
    slow.cloneTime = Duration.ofSeconds(30);
    start(slow);
    JsonNode upid =
        client.post("nodes/pve1/qemu/9000/clone", Params.of().put("newid", 1000).put("full", true));
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> client.awaitTask(upid.asText(), Duration.ofMillis(300)))
        .isInstanceOf(ProxmoxException.class)
        .satisfies(
            e ->
                assertThat(((ProxmoxException) e).kind()).isEqualTo(ProxmoxException.Kind.TIMEOUT));
    assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(20_000);
    assertThat(sim.guest(1000).config()).containsEntry("lock", "clone");
  }

  @Test
  void nextIdReservesNothing() throws Exception {
    start();
    JsonNode a = client.get("cluster/nextid", Params.of());
    JsonNode b = client.get("cluster/nextid", Params.of());
    assertThat(a.isTextual()).as("the real API answers a string").isTrue();
    assertThat(Json.asLong(a, 0)).isEqualTo(Json.asLong(b, 0)).isEqualTo(100);
  }

  @Test
  void theSimulatorRefusesWritesWithATicketButNoCsrfToken() throws Exception {
    ProxmoxSimulator.Options plain = new ProxmoxSimulator.Options();
    plain.tls = false;
    start(plain);
    OkHttpClient http = new OkHttpClient.Builder().callTimeout(5, TimeUnit.SECONDS).build();
    String ticket;
    try (Response login =
        http.newCall(
                new Request.Builder()
                    .url(sim.baseUrl() + "/api2/json/access/ticket")
                    .post(
                        new FormBody.Builder()
                            .add("username", ProxmoxSimulator.USERNAME)
                            .add("password", ProxmoxSimulator.PASSWORD)
                            .build())
                    .build())
            .execute()) {
      ticket =
          ProxmoxClient.JSON.readTree(login.body().string()).path("data").path("ticket").asText();
    }
    Request read =
        new Request.Builder()
            .url(sim.baseUrl() + "/api2/json/version")
            .header("Cookie", "PVEAuthCookie=" + ticket)
            .build();
    try (Response r = http.newCall(read).execute()) {
      assertThat(r.code()).isEqualTo(200);
    }
    Request write =
        new Request.Builder()
            .url(sim.baseUrl() + "/api2/json/nodes/pve1/qemu/9000/config")
            .header("Cookie", "PVEAuthCookie=" + ticket)
            .put(new FormBody.Builder().add("cores", "2").build())
            .build();
    try (Response r = http.newCall(write).execute()) {
      assertThat(r.code()).isEqualTo(401);
      assertThat(r.message()).isEqualTo("Permission denied - invalid csrf token");
    }
  }

  @Test
  void badTokenIdIsRefusedBeforeAnythingIsSent() {
    assertThatThrownBy(
            () ->
                ProxmoxClient.create(
                    "https://pve:8006", "operator", "s3cret", null, null, true, null, FAST))
        .isInstanceOf(ProxmoxException.class)
        .hasMessageContaining("USER@REALM!TOKENID")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("s3cret"));
  }

  @Test
  void endpointsAreNormalisedToTheApiBase() throws Exception {
    assertThat(ProxmoxClient.apiBase("pve.example").toString())
        .isEqualTo("https://pve.example:8006/api2/json/");
    assertThat(ProxmoxClient.apiBase("https://pve.example:8006").toString())
        .isEqualTo("https://pve.example:8006/api2/json/");
    assertThat(ProxmoxClient.apiBase("https://pve.example:8006/api2/json/").toString())
        .isEqualTo("https://pve.example:8006/api2/json/");
    assertThatThrownBy(() -> ProxmoxClient.apiBase(" ")).isInstanceOf(ProxmoxException.class);
  }

  @Test
  void numbersArriveAsNumbersOrStrings() throws Exception {
    JsonNode n =
        ProxmoxClient.JSON.readTree(
            "{\"a\":\"4294967296\",\"b\":4294967296,\"c\":\"0.25\",\"d\":\"1\",\"e\":1,\"f\":\"\",\"g\":\"x\"}");
    assertThat(Json.asLong(n, "a", -1)).isEqualTo(4294967296L);
    assertThat(Json.asLong(n, "b", -1)).isEqualTo(4294967296L);
    assertThat(Json.asDouble(n, "c", -1)).isEqualTo(0.25);
    assertThat(Json.asBool(n, "d")).isTrue();
    assertThat(Json.asBool(n, "e")).isTrue();
    assertThat(Json.asLong(n, "f", -1)).isEqualTo(-1);
    assertThat(Json.asLong(n, "g", -1)).isEqualTo(-1);
    assertThat(Json.asLong(n, "missing", 7)).isEqualTo(7);
  }

  @Test
  void vmConfigValuesAreRead() throws Exception {
    JsonNode config =
        ProxmoxClient.JSON.readTree(
            "{\"memory\":\"current=2048,min=1024\",\"boot\":\"order=ide2;virtio0;net0\","
                + "\"ide2\":\"local:iso/d.iso,media=cdrom\",\"virtio0\":\"local-lvm:vm-1-disk-0,size=512M\","
                + "\"scsi0\":\"local-lvm:vm-1-disk-1,size=32G\",\"agent\":\"enabled=1,fstrim_cloned_disks=1\"}");
    assertThat(GuestConfig.memoryMb(config)).isEqualTo(2048);
    assertThat(GuestConfig.bootDisk(config)).isEqualTo("virtio0");
    assertThat(GuestConfig.sizeBytes(config.get("virtio0").asText())).isEqualTo(512L << 20);
    assertThat(GuestConfig.sizeBytes(config.get("scsi0").asText())).isEqualTo(32L << 30);
    assertThat(GuestConfig.agentEnabled(config.get("agent").asText())).isTrue();
    assertThat(GuestConfig.agentEnabled("0")).isFalse();
    assertThat(GuestConfig.memoryMb(ProxmoxClient.JSON.readTree("{\"memory\":4096}")))
        .isEqualTo(4096);
  }
}
