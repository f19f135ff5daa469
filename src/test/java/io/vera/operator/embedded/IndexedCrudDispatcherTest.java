package io.vera.operator.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.crud.CrudDispatcher;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/**
 * {@link IndexedCrudDispatcher} answers as fabric8's {@link KubernetesCrudDispatcher} does, and
 * finds objects without going through all of them.
 */
class IndexedCrudDispatcherTest {

  private static final String CM = "/api/v1/namespaces/%s/configmaps";
  private static final String DEPLOY = "/apis/apps/v1/namespaces/%s/deployments";
  private static final String WIDGET = "/apis/example.com/v1/namespaces/%s/widgets";
  private static final String GIZMO = "/apis/example.com/v1/gizmos";
  private static final String[] NAMESPACES = {"ns-a", "ns-b", "ns-c"};
  private static final String[] APPS = {"x", "y", null};

  private final IndexedCrudDispatcher indexed = new IndexedCrudDispatcher();

  @Test
  void answersEveryRequestOfARandomWorkloadAsTheMockDoes() {
    KubernetesCrudDispatcher mock = new KubernetesCrudDispatcher();
    List<Request> setup =
        List.of(crd("widgets", "Widget", "Namespaced"), crd("gizmos", "Gizmo", "Cluster"));
    for (Request request : setup) {
      assertSame(request, mock.dispatch(request.recorded()), indexed.dispatch(request.recorded()));
    }
    Random random = new Random(42);
    for (int i = 0; i < 4000; i++) {
      Request request = randomRequest(random, mock);
      assertSame(request, mock.dispatch(request.recorded()), indexed.dispatch(request.recorded()));
    }
  }

  @Test
  void getReplacePatchAndDeleteByNameTestOneKeyAmongThousands() {
    for (int i = 0; i < 5000; i++) {
      dispatch(indexed, post(String.format(CM, NAMESPACES[i % 3]), configMap("cm-" + i, "x", i)));
    }
    IndexedStore store = indexed.store();
    long scans = store.fullScans();

    assertThat(examined(() -> code(get(String.format(CM, "ns-b") + "/cm-2500")))).isEqualTo(1);
    assertThat(examined(() -> code(get(String.format(CM, "ns-a") + "/cm-2500")))).isZero();
    assertThat(
            examined(
                () ->
                    code(
                        request(
                            HttpMethod.PUT,
                            String.format(CM, "ns-b") + "/cm-2500",
                            null,
                            configMap("cm-2500", "y", 1)))))
        .isEqualTo(1);
    assertThat(
            examined(
                () ->
                    code(
                        request(
                            HttpMethod.PATCH,
                            String.format(CM, "ns-b") + "/cm-2500",
                            "application/json-patch+json",
                            "[{\"op\":\"replace\",\"path\":\"/data/i\",\"value\":\"2\"}]"))))
        .isEqualTo(1);
    assertThat(examined(() -> code(post(String.format(CM, "ns-b"), configMap("cm-new", "x", 0)))))
        .isZero();
    assertThat(examined(() -> code(delete(String.format(CM, "ns-b") + "/cm-2500")))).isEqualTo(1);
    assertThat(store.fullScans()).isEqualTo(scans);
  }

  @Test
  void listsGoThroughTheirKindAndNamespaceOnly() {
    for (int i = 0; i < 3000; i++) {
      dispatch(
          indexed,
          post(String.format(CM, NAMESPACES[i % 3]), configMap("cm-" + i, APPS[i % 3], i)));
    }
    for (int i = 0; i < 30; i++) {
      dispatch(indexed, post(String.format(DEPLOY, "ns-a"), deployment("d-" + i, "x")));
    }

    assertThat(examined(() -> items(get(String.format(DEPLOY, "ns-a"))).size())).isEqualTo(30);
    assertThat(examined(() -> items(get("/apis/apps/v1/deployments")).size())).isEqualTo(30);
    assertThat(examined(() -> items(get(String.format(CM, "ns-b"))).size())).isEqualTo(1000);
    assertThat(items(get(String.format(CM, "ns-b")))).hasSize(1000);
    assertThat(items(get(String.format(CM, "ns-b") + "?labelSelector=app%3Dy")))
        .hasSize(1000)
        .allSatisfy(item -> assertThat(item.at("/metadata/labels/app").asText()).isEqualTo("y"));
    assertThat(items(get(String.format(CM, "ns-a") + "?labelSelector=app%3Dy"))).isEmpty();
    assertThat(items(get(String.format(CM, "ns-a") + "?labelSelector=app"))).hasSize(1000);
    assertThat(items(get("/api/v1/configmaps?labelSelector=app%21%3Dx"))).hasSize(2000);
    assertThat(items(get("/api/v1/configmaps"))).hasSize(3000);
    assertThat(items(get(String.format(CM, "ns-z")))).isEmpty();
  }

  @Test
  void deletedObjectsLeaveTheIndex() {
    for (int i = 0; i < 100; i++) {
      dispatch(indexed, post(String.format(CM, "ns-a"), configMap("cm-" + i, "x", i)));
    }

    assertThat(code(delete(String.format(CM, "ns-a") + "/cm-7"))).isEqualTo(200);
    assertThat(code(get(String.format(CM, "ns-a") + "/cm-7"))).isEqualTo(404);
    assertThat(code(delete(String.format(CM, "ns-a") + "/cm-7"))).isEqualTo(404);
    assertThat(items(get(String.format(CM, "ns-a"))))
        .hasSize(99)
        .noneMatch(item -> item.at("/metadata/name").asText().equals("cm-7"));
    assertThat(code(delete(String.format(CM, "ns-a")))).isEqualTo(200);
    assertThat(items(get("/api/v1/configmaps"))).isEmpty();
    assertThat(indexed.store()).isEmpty();
    assertThat(code(post(String.format(CM, "ns-a"), configMap("cm-7", "x", 0)))).isEqualTo(201);
    assertThat(items(get(String.format(CM, "ns-a")))).hasSize(1);
  }

  @Test
  void replacesTheMocksStore() {
    assertThat(((CrudDispatcher) indexed).getMap()).isSameAs(indexed.store());
  }

  private long examined(LongSupplier action) {
    long before = indexed.store().examinedKeys();
    action.getAsLong();
    return indexed.store().examinedKeys() - before;
  }

  private MockResponse get(String path) {
    return dispatch(indexed, request(HttpMethod.GET, path, null, null));
  }

  private MockResponse delete(String path) {
    return dispatch(indexed, request(HttpMethod.DELETE, path, null, null));
  }

  private long code(Request request) {
    return dispatch(indexed, request).code();
  }

  private static long code(MockResponse response) {
    return response.code();
  }

  private static List<JsonNode> items(MockResponse response) {
    assertThat(response.code()).isEqualTo(200);
    List<JsonNode> items = new ArrayList<>();
    body(response).path("items").forEach(items::add);
    return items;
  }

  private static MockResponse dispatch(CrudDispatcher dispatcher, Request request) {
    return dispatcher.dispatch(request.recorded());
  }

  private static void assertSame(Request request, MockResponse expected, MockResponse actual) {
    String what = request.toString();
    assertThat(actual.code()).as(what).isEqualTo(expected.code());
    assertThat(normalized(actual)).as(what).isEqualTo(normalized(expected));
  }

  /** The body without what differs from run to run: uids and timestamps. */
  private static String normalized(MockResponse response) {
    if (response.getBody() == null) {
      return "";
    }
    return new String(response.getBody().getBytes(), StandardCharsets.UTF_8)
        .replaceAll("\"uid\":\"[^\"]*\"", "\"uid\":\"-\"")
        .replaceAll("\"(creationTimestamp|deletionTimestamp)\":\"[^\"]*\"", "\"$1\":\"-\"");
  }

  private static JsonNode body(MockResponse response) {
    return Serialization.unmarshal(
        new String(response.getBody().getBytes(), StandardCharsets.UTF_8), JsonNode.class);
  }

  /** A request of a workload over three namespaces, five kinds and a few names and labels. */
  private static Request randomRequest(Random random, KubernetesCrudDispatcher mock) {
    String ns = NAMESPACES[random.nextInt(NAMESPACES.length)];
    String name = "o-" + random.nextInt(6);
    String app = APPS[random.nextInt(APPS.length)];
    String collection;
    String body;
    switch (random.nextInt(5)) {
      case 0 -> {
        collection = String.format(CM, ns);
        body = configMap(name, app, random.nextInt(3));
      }
      case 1 -> {
        collection = String.format(DEPLOY, ns);
        body = deployment(name, app);
      }
      case 2 -> {
        // The same plural in another group: the core path matches both in the mock.
        collection =
            random.nextBoolean()
                ? String.format(CM, ns).replace("configmaps", "deployments")
                : String.format(DEPLOY, ns);
        body = deployment(name, app);
      }
      case 3 -> {
        collection = String.format(WIDGET, ns);
        body = custom("Widget", name, ns, app, random.nextInt(3), random.nextInt(4) == 0);
      }
      default -> {
        collection = GIZMO;
        body = custom("Gizmo", name, null, app, random.nextInt(3), random.nextInt(4) == 0);
      }
    }
    String object = collection + "/" + name;
    String selector = app == null ? "app" : (random.nextBoolean() ? "app%3D" : "app%21%3D") + app;
    return switch (random.nextInt(14)) {
      case 0, 1, 2 -> post(collection, body);
      case 3, 4 -> request(HttpMethod.GET, object, null, null);
      case 5 -> request(HttpMethod.GET, collection, null, null);
      case 6 -> request(HttpMethod.GET, collection + "?labelSelector=" + selector, null, null);
      case 7 ->
          request(
              HttpMethod.GET, allNamespaces(collection) + "?labelSelector=" + selector, null, null);
      case 8 -> request(HttpMethod.PUT, object, null, withVersion(body, mock, object, random));
      case 9 ->
          request(
              HttpMethod.PATCH,
              object + (random.nextBoolean() ? "/status" : ""),
              "application/json-patch+json",
              random.nextBoolean()
                  ? "[{\"op\":\"add\",\"path\":\"/metadata/labels\",\"value\":{\"app\":\"y\"}}]"
                  : "[{\"op\":\"add\",\"path\":\"/status\",\"value\":{\"phase\":\"P"
                      + random.nextInt(3)
                      + "\"}}]");
      case 10 ->
          request(
              HttpMethod.PATCH,
              object,
              "application/merge-patch+json",
              random.nextBoolean()
                  ? "{\"metadata\":{\"finalizers\":null}}"
                  : "{\"metadata\":{\"labels\":{\"app\":\"x\"}},\"spec\":{\"n\":"
                      + random.nextInt(3)
                      + "}}");
      case 11 ->
          request(
              HttpMethod.PUT, object + "/status", null, withVersion(body, mock, object, random));
      case 12 -> request(HttpMethod.DELETE, object, null, null);
      default ->
          request(
              HttpMethod.DELETE,
              random.nextInt(4) == 0 ? collection + "?labelSelector=" + selector : object,
              null,
              null);
    };
  }

  private static String allNamespaces(String collection) {
    return collection.replaceAll("/namespaces/[^/]+", "");
  }

  /** The body with the object's current resourceVersion, a stale one or none. */
  private static String withVersion(
      String body, KubernetesCrudDispatcher mock, String object, Random random) {
    MockResponse current = mock.dispatch(request(HttpMethod.GET, object, null, null).recorded());
    if (current.code() != 200 || random.nextInt(4) == 0) {
      return body;
    }
    String version = body(current).at("/metadata/resourceVersion").asText();
    if (random.nextInt(3) == 0) {
      version = String.valueOf(Long.parseLong(version) - 1);
    }
    return body.replaceFirst(
        "\"metadata\":\\{", "\"metadata\":{\"resourceVersion\":\"" + version + "\",");
  }

  private static String configMap(String name, String app, int value) {
    return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\""
        + name
        + "\""
        + labels(app)
        + "},\"data\":{\"i\":\""
        + value
        + "\"}}";
  }

  private static String deployment(String name, String app) {
    return "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\""
        + name
        + "\""
        + labels(app)
        + "},\"spec\":{\"replicas\":1}}";
  }

  private static String custom(
      String kind, String name, String namespace, String app, int n, boolean finalizer) {
    return "{\"apiVersion\":\"example.com/v1\",\"kind\":\""
        + kind
        + "\",\"metadata\":{\"name\":\""
        + name
        + "\""
        + (namespace == null ? "" : ",\"namespace\":\"" + namespace + "\"")
        + labels(app)
        + (finalizer ? ",\"finalizers\":[\"example.com/f\"]" : "")
        + "},\"spec\":{\"n\":"
        + n
        + "},\"status\":{\"phase\":\"S"
        + n
        + "\"}}";
  }

  private static String labels(String app) {
    return app == null ? "" : ",\"labels\":{\"app\":\"" + app + "\"}";
  }

  private static Request crd(String plural, String kind, String scope) {
    return post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
            + "\"metadata\":{\"name\":\""
            + plural
            + ".example.com\"},\"spec\":{\"group\":\"example.com\",\"scope\":\""
            + scope
            + "\",\"names\":{\"plural\":\""
            + plural
            + "\",\"singular\":\""
            + kind.toLowerCase()
            + "\",\"kind\":\""
            + kind
            + "\"},\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
            + "\"subresources\":{\"status\":{}},"
            + "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\","
            + "\"x-kubernetes-preserve-unknown-fields\":true}}}]}}");
  }

  private static Request post(String path, String body) {
    return request(HttpMethod.POST, path, null, body);
  }

  private static Request request(HttpMethod method, String path, String contentType, String body) {
    return new Request(method, path, contentType, body);
  }

  /** A request that can be sent to several dispatchers: a sent one has its body read. */
  private record Request(HttpMethod method, String path, String contentType, String body) {

    RecordedRequest recorded() {
      Headers.Builder headers = Headers.builder();
      if (contentType != null) {
        headers.add("Content-Type", contentType);
      }
      return new RecordedRequest(
          "HTTP/1.1",
          method,
          path,
          headers.build(),
          new Buffer(body == null ? null : body.getBytes(StandardCharsets.UTF_8)));
    }
  }
}
