package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Watches over plain HTTP, as kubectl and client-go open them: a chunked stream of JSON events,
 * resumed from a resourceVersion, or refused with 410 Expired when it is too old; and field
 * selectors the CRUD mock cannot apply.
 */
class HttpWatchTest {

  private static final String NS = "watch";
  private static final String CONFIG_MAPS = "/api/v1/namespaces/" + NS + "/configmaps";

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private EmbeddedApiServer server;
  private KubernetesClient client;

  @BeforeEach
  void start() {
    server = EmbeddedApiServer.start(0);
    client = server.client();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void aWatchFromTheListsVersionStreamsOnlyLaterChanges() throws Exception {
    configMap("first", "1");
    String listed = list(CONFIG_MAPS).at("/metadata/resourceVersion").asText();

    try (BufferedReader events = watch(CONFIG_MAPS + "?watch=true&resourceVersion=" + listed)) {
      configMap("second", "2");
      client.configMaps().inNamespace(NS).withName("first").delete();

      JsonNode added = Serialization.jsonMapper().readTree(events.readLine());
      JsonNode deleted = Serialization.jsonMapper().readTree(events.readLine());
      assertThat(added.path("type").asText()).isEqualTo("ADDED");
      assertThat(added.at("/object/metadata/name").asText()).isEqualTo("second");
      assertThat(deleted.path("type").asText()).isEqualTo("DELETED");
      assertThat(deleted.at("/object/metadata/name").asText()).isEqualTo("first");
    }
  }

  @Test
  void aWatchWithoutAVersionStartsWithEveryObject() throws Exception {
    configMap("present", "1");

    try (BufferedReader events = watch(CONFIG_MAPS + "?watch=1")) {
      JsonNode first = Serialization.jsonMapper().readTree(events.readLine());
      assertThat(first.path("type").asText()).isEqualTo("ADDED");
      assertThat(first.at("/object/metadata/name").asText()).isEqualTo("present");
    }
  }

  @Test
  void aWatchFromBeforeADeletionIsExpired() throws Exception {
    configMap("doomed", "1");
    String before = list(CONFIG_MAPS).at("/metadata/resourceVersion").asText();
    client.configMaps().inNamespace(NS).withName("doomed").delete();

    try (BufferedReader events = watch(CONFIG_MAPS + "?watch=true&resourceVersion=" + before)) {
      JsonNode error = Serialization.jsonMapper().readTree(events.readLine());
      assertThat(error.path("type").asText()).isEqualTo("ERROR");
      assertThat(error.at("/object/code").asInt()).isEqualTo(410);
      assertThat(error.at("/object/reason").asText()).isEqualTo("Expired");
      assertThat(events.readLine()).isNull();
    }
  }

  @Test
  void eventsAreSelectedByTheirInvolvedObject() throws Exception {
    event("about-a", "task-a", "uid-a");
    event("about-b", "task-b", "uid-b");

    JsonNode events =
        list(
            "/api/v1/namespaces/"
                + NS
                + "/events?fieldSelector=involvedObject.name%3Dtask-a%2CinvolvedObject.uid%3Duid-a");

    assertThat(events.path("kind").asText()).isEqualTo("EventList");
    assertThat(events.path("items")).hasSize(1);
    assertThat(events.at("/items/0/metadata/name").asText()).isEqualTo("about-a");
  }

  private void configMap(String name, String value) {
    client
        .configMaps()
        .inNamespace(NS)
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .addToData("v", value)
                .build())
        .create();
  }

  private void event(String name, String object, String uid) {
    client
        .v1()
        .events()
        .inNamespace(NS)
        .resource(
            new EventBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withNewInvolvedObject()
                .withKind("VeraTask")
                .withName(object)
                .withNamespace(NS)
                .withUid(uid)
                .endInvolvedObject()
                .withReason("Queued")
                .build())
        .create();
  }

  private JsonNode list(String path) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create(server.url() + path)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return Serialization.jsonMapper().readTree(response.body());
  }

  /** Opens a watch; its events are lines of the response body, read until the server ends it. */
  private BufferedReader watch(String path) throws Exception {
    HttpResponse<InputStream> response =
        http.send(
            HttpRequest.newBuilder(URI.create(server.url() + path)).build(),
            HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    return new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
  }
}
