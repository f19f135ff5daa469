package io.vera.operator.facade;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.Javalin;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ApiDocsTest {
  /** Every documented operation: path to HTTP method. */
  private static final Map<String, String> LEGACY_OPERATIONS =
      Map.ofEntries(
          Map.entry("/orchestrator/initialize", "post"),
          Map.entry("/orchestrator/start", "post"),
          Map.entry("/orchestrator/stop", "post"),
          Map.entry("/orchestrator/status", "get"),
          Map.entry("/orchestrator/workers/scale", "post"),
          Map.entry("/orchestrator/workers/pools", "get"),
          Map.entry("/orchestrator/tasks/submit", "post"),
          Map.entry("/orchestrator/tasks/result/{task_id}", "get"),
          Map.entry("/orchestrator/tasks/{task_id}/status", "get"),
          Map.entry("/orchestrator/tasks/{task_id}/cancel", "post"),
          Map.entry("/orchestrator/tasks/{task_id}/retry", "post"),
          Map.entry("/orchestrator/tasks/registry", "get"),
          Map.entry("/orchestrator/tasks/history", "get"),
          Map.entry("/orchestrator/tasks/history/query", "post"),
          Map.entry("/orchestrator/tasks/active", "get"),
          Map.entry("/orchestrator/tasks/queue/detailed", "get"),
          Map.entry("/orchestrator/system/metrics", "get"),
          Map.entry("/orchestrator/system/processes", "get"),
          Map.entry("/orchestrator/health", "get"),
          Map.entry("/orchestrator/ws/updates", "get"),
          Map.entry("/orchestrator/infrastructure/initialize", "post"),
          Map.entry("/orchestrator/infrastructure/resources/docker/provision", "post"),
          Map.entry("/orchestrator/infrastructure/resources/proxmox/provision", "post"),
          Map.entry("/orchestrator/infrastructure/resources", "get"),
          Map.entry("/orchestrator/infrastructure/resources/{resource_id}", "get delete"),
          Map.entry("/orchestrator/infrastructure/resources/{resource_id}/execute", "post"),
          Map.entry("/orchestrator/infrastructure/resources/scale", "post"),
          Map.entry("/orchestrator/infrastructure/resources/cleanup", "post"),
          Map.entry("/orchestrator/infrastructure/stats", "get"),
          Map.entry("/orchestrator/infrastructure/stats/resources/{resource_id}", "get"),
          Map.entry("/orchestrator/infrastructure/health", "get"),
          Map.entry("/orchestrator/external/initialize", "post"),
          Map.entry("/orchestrator/external/execute", "post"),
          Map.entry("/orchestrator/external/execute/stream", "post"),
          Map.entry("/orchestrator/external/llm/complete", "post"),
          Map.entry("/orchestrator/external/providers", "get"),
          Map.entry("/orchestrator/external/providers/{provider}/status", "get"),
          Map.entry("/orchestrator/external/stats", "get"),
          Map.entry("/orchestrator/external/stats/{provider}", "get"),
          Map.entry("/orchestrator/external/stats/cost/summary", "get"),
          Map.entry("/orchestrator/external/stats/tokens/summary", "get"),
          Map.entry("/orchestrator/external/health", "get"),
          Map.entry("/internal/v1/namespaces/{namespace}/pools/{pool}/lease", "post"),
          Map.entry("/internal/v1/leases/{lease}/renew", "post"),
          Map.entry("/internal/v1/leases/{lease}/complete", "post"),
          Map.entry("/internal/v1/leases/{lease}/fail", "post"),
          Map.entry("/healthz", "get"),
          Map.entry("/metrics", "get"),
          Map.entry("/docs", "get"));

  private static final Pattern LOCAL_REFERENCE = Pattern.compile("(?:src|href)=\"([^\"]+)\"");

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static Javalin app;

  @BeforeAll
  static void startServer() {
    app = Javalin.create();
    ApiDocs.register(app);
    app.start("127.0.0.1", 0);
  }

  @AfterAll
  static void stopServer() {
    app.stop();
  }

  @Test
  void documentIsOpenApi3AndDescribesEveryLegacyOperation() throws Exception {
    HttpResponse<String> response = get(ApiDocs.DOCUMENT_PATH);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
    JsonNode document = JSON.readTree(response.body());
    assertThat(document.path("openapi").asText()).startsWith("3.0.");
    LEGACY_OPERATIONS.forEach(
        (path, methods) -> {
          for (String method : methods.split(" ")) {
            assertThat(document.path("paths").path(path).has(method))
                .as("%s %s is documented", method.toUpperCase(), path)
                .isTrue();
          }
        });
  }

  @Test
  void docsPageLoadsEveryAssetFromThisServer() throws Exception {
    HttpResponse<String> page = get(ApiDocs.UI_PATH);

    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("text/html"));
    assertThat(page.body()).contains("url: \"/openapi.json\"").doesNotContain("://");
    List<String> assets = new ArrayList<>();
    Matcher matcher = LOCAL_REFERENCE.matcher(page.body());
    while (matcher.find()) {
      assets.add(matcher.group(1));
    }
    assertThat(assets)
        .contains("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css")
        .allSatisfy(asset -> assertThat(asset).startsWith(ApiDocs.ASSETS_PATH));
    for (String asset : assets) {
      HttpResponse<String> response = get(asset);
      assertThat(response.statusCode()).as(asset).isEqualTo(200);
      assertThat(response.headers().firstValue("Content-Type"))
          .as(asset)
          .hasValueSatisfying(type -> assertThat(type).startsWith(expectedType(asset)));
    }
  }

  @Test
  void unknownAssetIsNotFoundWithDetail() throws Exception {
    HttpResponse<String> response = get(ApiDocs.ASSETS_PATH + "no-such-file.js");

    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(response.body()).path("detail").asText()).contains("no-such-file.js");
  }

  @Test
  void assetNamesCannotLeaveTheWebjar() throws Exception {
    assertThat(
            get(ApiDocs.ASSETS_PATH + "..%2F..%2Fmaven%2Forg.webjars%2Fswagger-ui%2Fpom.xml")
                .statusCode())
        .isEqualTo(404);
    assertThat(get(ApiDocs.ASSETS_PATH + ".hidden").statusCode()).isEqualTo(404);
  }

  private static String expectedType(String asset) {
    if (asset.endsWith(".js")) {
      return "text/javascript";
    }
    if (asset.endsWith(".css")) {
      return "text/css";
    }
    if (asset.endsWith(".png")) {
      return "image/png";
    }
    throw new AssertionError("The docs page references an unexpected asset type: " + asset);
  }

  private static HttpResponse<String> get(String path) throws IOException, InterruptedException {
    URI uri = URI.create("http://127.0.0.1:" + app.port() + path);
    return HTTP.send(
        HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
  }
}
