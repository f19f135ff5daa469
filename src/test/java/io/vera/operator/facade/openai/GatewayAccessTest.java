package io.vera.operator.facade.openai;

import static io.vera.operator.facade.openai.FakeUpstream.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.vera.operator.api.Provider;
import io.vera.operator.api.ProviderSpec;
import io.vera.operator.app.ClusterSettings;
import io.vera.operator.app.OperatorHarness;
import io.vera.operator.facade.auth.FakeReviews;
import io.vera.operator.facade.auth.Identity;
import io.vera.operator.facade.auth.RestGuard;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * {@code call} granted per Provider in a cluster: the official OpenAI SDK, with a Kubernetes token
 * as its API key, may call the Providers (and the routes of the Providers) its RBAC names, and
 * lists only those, against the embedded API server with {@link FakeReviews} answering the
 * TokenReviews and SubjectAccessReviews as a real API server would.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GatewayAccessTest {
  private static final String NS = OperatorHarness.NAMESPACE;

  private final FakeReviews reviews = new FakeReviews();
  private FakeUpstream openai;
  private FakeUpstream anthropic;
  private OperatorHarness harness;
  private int callers;

  /** The ServiceAccount of this test's application (a new one per test: decisions are cached). */
  private String appUser;

  private NodeSdk app;

  @BeforeAll
  void start() throws Exception {
    NodeSdk.assumeAvailable();
    openai = new FakeUpstream("{\"object\":\"list\",\"data\":[]}");
    anthropic = new FakeUpstream("{\"data\":[],\"has_more\":false}");
    harness =
        new OperatorHarness(
            reviews,
            new ClusterSettings(
                RestGuard.Settings.on(), ClusterSettings.LeaderElection.disabled(), null));
    provider("openai", ProviderSpec.Type.OpenAI, openai.url("/v1"), route("openai-chat", "openai"));
    provider(
        "anthropic",
        ProviderSpec.Type.Anthropic,
        anthropic.url("/"),
        route("anthropic-chat", "anthropic"));
    reviews
        .token("root-token", new Identity("root", "uid-root", List.of(), null))
        .grant("root * *");
    for (String name : List.of("openai", "anthropic")) {
      Awaitility.await()
          .atMost(Duration.ofSeconds(90))
          .until(
              () ->
                  harness
                      .send(
                          "GET",
                          "/orchestrator/external/providers/" + name + "/status",
                          null,
                          Map.of("Authorization", "Bearer root-token"))
                      .json()
                      .path("ready")
                      .asBoolean());
    }
  }

  @AfterAll
  void stop() {
    if (harness != null) {
      harness.close();
    }
    for (FakeUpstream upstream : new FakeUpstream[] {openai, anthropic}) {
      if (upstream != null) {
        upstream.close();
      }
    }
  }

  /** A new application ServiceAccount that may {@code call} the Provider {@code openai} only. */
  @BeforeEach
  void newApplication() {
    callers++;
    appUser = "system:serviceaccount:team-a:chat-app-" + callers;
    reviews
        .token(
            "app-token-" + callers,
            new Identity(appUser, "uid-" + callers, List.of("system:serviceaccounts"), null))
        .grant(appUser + " call providers openai");
    app = new NodeSdk(harness.baseUrl(), "app-token-" + callers);
    reviews.clear();
  }

  private static ProviderSpec.Route route(String name, String provider) {
    ProviderSpec.RouteTarget target = new ProviderSpec.RouteTarget();
    target.provider = provider;
    target.model = provider.equals("openai") ? "gpt-4o-mini" : "claude-sonnet-4-20250514";
    ProviderSpec.Route route = new ProviderSpec.Route();
    route.name = name;
    route.targets = List.of(target);
    return route;
  }

  private void provider(
      String name, ProviderSpec.Type type, String endpoint, ProviderSpec.Route route) {
    harness
        .client()
        .secrets()
        .inNamespace(NS)
        .resource(
            new SecretBuilder()
                .withMetadata(new ObjectMetaBuilder().withName(name + "-key").build())
                .withStringData(Map.of("apiKey", "sk-test-" + name))
                .build())
        .create();
    ProviderSpec spec = new ProviderSpec();
    spec.type = type;
    spec.endpoint = endpoint;
    spec.credentialsSecretRef = new ProviderSpec.SecretRef();
    spec.credentialsSecretRef.name = name + "-key";
    spec.retries = 0;
    spec.timeoutSeconds = 20;
    spec.routes = List.of(route);
    Provider provider = new Provider();
    provider.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    provider.setSpec(spec);
    harness.client().resources(Provider.class).resource(provider).create();
  }

  private static final String ANSWER =
      "{\"id\":\"chatcmpl-a\",\"object\":\"chat.completion\",\"created\":1741569952,"
          + "\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":"
          + "{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
          + "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}";

  private static String chat(String model) {
    return "{\"model\":\""
        + model
        + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5}";
  }

  /** The SubjectAccessReviews asked for the app, as {@code "verb resource name"}. */
  private List<String> askedForApp() {
    return reviews.accessReviews().stream()
        .map(review -> review.path("spec"))
        .filter(spec -> spec.path("user").asText().equals(appUser))
        .map(spec -> spec.path("resourceAttributes"))
        .peek(a -> assertThat(a.path("namespace").asText()).isEqualTo(NS))
        .map(
            a ->
                a.path("verb").asText()
                    + " "
                    + a.path("resource").asText()
                    + " "
                    + a.path("name").asText())
        .toList();
  }

  @Test
  void aCallerGrantedOneProviderCallsItsModels() throws Exception {
    openai.answer(json(200, ANSWER));

    JsonNode completion = app.ok("chat", chat("openai/gpt-4o-mini"));

    assertThat(completion.at("/choices/0/message/content").asText()).isEqualTo("hi");
    assertThat(askedForApp()).containsExactly("call providers openai");
  }

  @Test
  void aCallerIsRefusedAProviderItHasNoCallOnAndNothingReachesItsUpstream() throws Exception {
    int before = anthropic.callCount();

    JsonNode error = app.error("chat", chat("anthropic/claude-sonnet-4-20250514"));

    assertThat(error.path("name").asText()).isEqualTo("PermissionDeniedError");
    assertThat(error.path("status").asInt()).isEqualTo(403);
    assertThat(error.path("type").asText()).isEqualTo("permission_error");
    assertThat(error.path("message").asText())
        .contains(appUser)
        .contains("call providers \"anthropic\" (group vera.io) in namespace \"" + NS + "\"");
    assertThat(anthropic.callCount()).isEqualTo(before);
    assertThat(askedForApp()).containsExactly("call providers anthropic");
  }

  @Test
  void aRouteIsGrantedWithTheProviderThatDeclaresIt() throws Exception {
    openai.answer(json(200, ANSWER));

    assertThat(app.ok("chat", chat("openai-chat")).at("/choices/0/message/content").asText())
        .isEqualTo("hi");
    JsonNode refused = app.error("chat", chat("anthropic-chat"));
    assertThat(refused.path("status").asInt()).isEqualTo(403);
    assertThat(refused.path("message").asText()).contains("call providers \"anthropic\"");
  }

  @Test
  void embeddingsAreGrantedPerProviderToo() throws Exception {
    JsonNode refused =
        app.error("embeddings", "{\"model\":\"anthropic/any\",\"input\":\"a sentence\"}");

    assertThat(refused.path("status").asInt()).isEqualTo(403);
    assertThat(askedForApp()).containsExactly("call providers anthropic");
  }

  @Test
  void theModelListHoldsOnlyTheProvidersAndRoutesTheCallerMayCall() throws Exception {
    JsonNode ids = app.ok("models", null).path("ids");

    assertThat(ids.toString())
        .contains("\"openai/gpt-4o-mini\"", "\"openai-chat\"")
        .doesNotContain("anthropic");
    assertThat(askedForApp()).contains("call providers openai", "call providers anthropic");
  }

  @Test
  void aCallerWithoutAnyCallGetsAnEmptyModelListAndA403() throws Exception {
    reviews.token("viewer-token", new Identity("viewer", "uid-viewer", List.of(), null));
    NodeSdk viewer = new NodeSdk(harness.baseUrl(), "viewer-token");

    assertThat(viewer.ok("models", null).path("ids")).isEmpty();
    assertThat(viewer.error("chat", chat("openai/gpt-4o-mini")).path("status").asInt())
        .isEqualTo(403);
  }
}
