package io.vera.operator.embedded;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.zjsonpatch.JsonDiff;
import io.fabric8.zjsonpatch.JsonPatch;
import io.fabric8.zjsonpatch.JsonPatchException;
import io.vera.operator.embedded.CustomResourceAdmission.FieldValidation;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * fabric8's CRUD mock plus what kubectl needs of a real API server: {@code /version}, discovery,
 * scale subresources and server-side Tables for custom resources.
 *
 * <p>Storage, watches, {@code /status} and generation handling stay the CRUD mock's, with indexed
 * lookups ({@link IndexedCrudDispatcher}); see {@link EmbeddedApiServer} for what they do and do
 * not do.
 */
final class EmbeddedDispatcher extends IndexedCrudDispatcher {

  private static final String VERSION_MAJOR = "1";
  private static final String VERSION_MINOR = "32";

  private static final String SELF_SUBJECT_RULES_REVIEWS =
      "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews";
  private static final String CRDS = "customresourcedefinitions";
  private static final String LIST_KIND = "\"kind\":\"List\"";

  /**
   * Core kinds whose fields are maps and scalars, so that a strategic merge patch of them is a JSON
   * merge patch (lists in their metadata excepted, which it replaces rather than merges).
   */
  private static final java.util.Set<String> MAPS_ONLY =
      java.util.Set.of("configmaps", "secrets", "namespaces");

  private static final String CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  private static final String CONTENT_TYPE = "Content-Type";
  private static final String JSON_CONTENT_TYPE = "application/json";
  private static final String MERGE_PATCH = "application/merge-patch+json";
  private static final String STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";
  private static final String JSON_PATCH = "application/json-patch+json";
  private static final String APPLY_PATCH = "application/apply-patch+yaml";
  private static final ObjectMapper YAML =
      new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory());
  private static final String PROTOBUF = "application/vnd.kubernetes.protobuf";
  private static final Logger LOG = LoggerFactory.getLogger(EmbeddedDispatcher.class);
  private static final ObjectMapper MAPPER = Serialization.jsonMapper();

  private final Runnable forgetRecordedRequests;
  private final CustomResourceAdmission admission = new CustomResourceAdmission();
  private volatile ApiCatalog catalog;

  /** The resourceVersion current when an object was last deleted; 0 if none was. */
  private final AtomicLong lastDeletion = new AtomicLong();

  private final AtomicLong latestResourceVersion = new AtomicLong();

  /** Built from {@link #openApiCatalog}; rebuilt when the catalog is. */
  private volatile OpenApiDocuments openApi;

  private volatile ApiCatalog openApiCatalog;
  private final Function<RecordedRequest, Optional<MockResponse>> override;

  /**
   * @param forgetRecordedRequests run before each request is answered: the mock web server keeps
   *     every request it receives, body and all, for tests to take; a server that runs for days
   *     must drop them
   */
  EmbeddedDispatcher(Runnable forgetRecordedRequests) {
    this(forgetRecordedRequests, request -> Optional.empty());
  }

  /**
   * @param override answers some requests before anything else does (tests answer TokenReviews and
   *     SubjectAccessReviews with it)
   */
  EmbeddedDispatcher(
      Runnable forgetRecordedRequests, Function<RecordedRequest, Optional<MockResponse>> override) {
    this.forgetRecordedRequests = forgetRecordedRequests;
    this.override = override;
  }

  @Override
  public MockResponse dispatch(RecordedRequest request) {
    forgetRecordedRequests.run();
    MockResponse response;
    try {
      response = dispatchOrFail(request);
      // Durable mode: answered only once what it changed or saw is committed.
      awaitDurable();
    } catch (RuntimeException e) {
      // Without a response the mock web server leaves the client hanging. The message may quote
      // the request body, so only the request line is logged.
      LOG.warn(
          "{} {} failed with {}", request.getMethod(), request.getPath(), e.getClass().getName());
      response = status(500, "InternalError", "The embedded API server failed: " + e.getMessage());
    }
    if (response.getBody() != null
        && response.getBody().size() > 0
        && response.header(CONTENT_TYPE) == null) {
      response.setHeader(CONTENT_TYPE, JSON_CONTENT_TYPE);
    }
    return response;
  }

  private MockResponse dispatchOrFail(RecordedRequest request) {
    if (mediaType(request.getHeader(CONTENT_TYPE)).equals(PROTOBUF)) {
      // Protobuf cannot be decoded here; the mock would fail on it without answering.
      return status(415, "UnsupportedMediaType", "Only JSON request bodies are supported");
    }
    Optional<MockResponse> overridden = override.apply(request);
    if (overridden.isPresent()) {
      return overridden.get();
    }
    if (request.method() == HttpMethod.POST
        && request.getPath().startsWith(SELF_SUBJECT_RULES_REVIEWS)) {
      return selfSubjectRulesReview(request);
    }
    Path path = Path.parse(request.getPath());
    if (request.method() == HttpMethod.GET) {
      return readLocked(() -> route(request, path));
    }
    // Exclusive, so that the read-modify-writes done here (merge patches, scale) see no other
    // write in between.
    return writeLocked(() -> route(request, path));
  }

  private MockResponse route(RecordedRequest request, Path path) {
    if (path.segments().length > 0 && path.segments()[0].equals("openapi")) {
      return openApi(request, path);
    }
    if (request.method() == HttpMethod.GET) {
      Optional<Object> document = discovery(path);
      if (document.isPresent()) {
        return json(200, document.get());
      }
    }
    if (path.isDiscovery()) {
      return status(404, "NotFound", "the server could not find the requested resource");
    }
    if ("scale".equals(path.subresource())) {
      Optional<ApiCatalog.ScalePaths> scale =
          catalog().scalePaths(path.groupVersion(), path.plural());
      return scale.isPresent()
          ? scale(request, path, scale.get())
          : status(404, "NotFound", path.plural() + " has no scale subresource");
    }
    if (request.method() == HttpMethod.PATCH
        && mediaType(request.getHeader(CONTENT_TYPE)).equals(APPLY_PATCH)) {
      return serverSideApply(request, path);
    }
    if (isWrite(request) && path.plural() != null && path.groupVersion() != null) {
      Optional<ApiCatalog.CustomResource> resource =
          catalog().customResource(path.groupVersion(), path.plural());
      if (resource.isPresent()
          && (path.subresource() == null || path.subresource().equals("status"))) {
        return writeCustomResource(request, path, resource.get());
      }
    }
    if (request.method() == HttpMethod.PATCH
        && mediaType(request.getHeader(CONTENT_TYPE)).equals(MERGE_PATCH)) {
      return path.name() == null
          ? status(405, "MethodNotAllowed", "PATCH needs an object name")
          : mergePatch(request.getPath(), readJson(request.getUtf8Body()));
    }
    if (request.method() == HttpMethod.PATCH
        && mediaType(request.getHeader(CONTENT_TYPE)).equals(STRATEGIC_MERGE_PATCH)
        && path.name() != null
        && "v1".equals(path.groupVersion())
        && MAPS_ONLY.contains(path.plural())) {
      // What kubectl apply sends for these kinds once they exist.
      return mergePatch(request.getPath(), withoutDirectives(readJson(request.getUtf8Body())));
    }
    if ("1".equals(queryParameter(request.getPath(), "watch"))) {
      // The API server reads watch=1 as watch=true; the mock only knows the latter.
      request = withPath(request, request.getPath().replace("watch=1", "watch=true"));
    }
    String selector = queryParameter(request.getPath(), "fieldSelector");
    FieldSelector fields = null;
    if (request.method() == HttpMethod.GET && selector != null && path.plural() != null) {
      try {
        fields = FieldSelector.parse(selector);
      } catch (IllegalArgumentException e) {
        return status(400, "BadRequest", e.getMessage());
      }
      if (fields.isForMock()) {
        fields = null;
      } else {
        request = withPath(request, withoutParameter(request.getPath(), "fieldSelector"));
      }
    }
    MockResponse response = super.dispatch(request);
    if (isWrite(request) && CRDS.equals(path.plural())) {
      catalog = null;
    }
    if (response != null && response.getWebSocketListener() != null) {
      return response.withWebSocketUpgrade(
          new ResumableWatch(
              response.getWebSocketListener(),
              ResumableWatch.from(queryParameter(request.getPath(), "resourceVersion")),
              fields,
              // A restart forgets what happened before it, as a deletion would: 410 from there.
              () -> Math.max(lastDeletion.get(), oldestWatchableVersion()),
              latestResourceVersion::get,
              tablePresentation(request, path)));
    }
    if (fields != null && response != null && response.code() == 200) {
      response = filtered(response, fields);
    }
    if (response == null) {
      return status(405, "MethodNotAllowed", request.getMethod() + " is not supported");
    }
    if (request.method() == HttpMethod.GET
        && response.code() == 200
        && response.getWebSocketListener() == null
        && path.plural() != null
        && path.subresource() == null
        && ResourceTables.isRequested(request.getHeader("Accept"))) {
      return table(path, response);
    }
    if (request.method() == HttpMethod.GET
        && response.code() == 200
        && path.plural() != null
        && path.name() == null) {
      return typedList(path, response);
    }
    return response;
  }

  /**
   * A list named {@code <Kind>List}, as the API server names it, rather than the mock's {@code
   * List}: typed clients refuse a {@code List} where they expect an {@code EventList} ({@code
   * kubectl describe} then shows no Events).
   */
  private MockResponse typedList(Path path, MockResponse list) {
    Optional<String> kind =
        catalog().resources(path.groupVersion()).stream()
            .flatMap(resources -> resources.getResources().stream())
            .filter(resource -> resource.getName().equals(path.plural()))
            .map(resource -> resource.getKind())
            .findFirst();
    String body = new String(list.getBody().getBytes(), StandardCharsets.UTF_8);
    int at = body.indexOf(LIST_KIND);
    if (kind.isEmpty() || at < 0 || at > 64) {
      return list;
    }
    return list.setBody(
        body.substring(0, at)
            + "\"kind\":\""
            + kind.get()
            + "List\""
            + body.substring(at + LIST_KIND.length()));
  }

  /** The discovery document at a path, if it is one. */
  private Optional<Object> discovery(Path path) {
    String[] s = path.segments();
    if (s.length == 1 && s[0].equals("version")) {
      return Optional.of(version());
    }
    if (!path.isDiscovery()) {
      return Optional.empty();
    }
    ApiCatalog catalog = catalog();
    if (s.length == 1 && s[0].equals("api")) {
      return Optional.of(catalog.coreVersions());
    }
    if (s.length == 1) {
      return Optional.of(catalog.groups());
    }
    if (s.length == 2 && s[0].equals("apis")) {
      return catalog.group(s[1]).map(Object.class::cast);
    }
    return catalog.resources(path.groupVersion()).map(Object.class::cast);
  }

  /**
   * The Kubernetes version whose API kubectl should expect; the discovery above is modelled on it.
   */
  private static Map<String, String> version() {
    return Map.of(
        "major", VERSION_MAJOR,
        "minor", VERSION_MINOR,
        "gitVersion", "v" + VERSION_MAJOR + "." + VERSION_MINOR + ".0+vera-embedded");
  }

  /**
   * The catalog of what is served now, read from the CRDs in the store; kept until a CRD is written
   * through this dispatcher, since every write of a custom resource needs it.
   */
  private ApiCatalog catalog() {
    ApiCatalog cached = catalog;
    if (cached != null) {
      return cached;
    }
    JsonNode list = body(super.handleGet(CRDS_PATH));
    List<CustomResourceDefinition> crds = new ArrayList<>();
    list.path("items")
        .forEach(item -> crds.add(MAPPER.convertValue(item, CustomResourceDefinition.class)));
    cached = new ApiCatalog(crds);
    catalog = cached;
    return cached;
  }

  @Override
  public void reset() {
    super.reset();
    catalog = null;
  }

  /**
   * {@code /openapi/v3} and its group-version documents, and {@code /openapi/v2} as protobuf when
   * the client asks for it (old kubectl asks for nothing else), JSON otherwise.
   */
  private MockResponse openApi(RecordedRequest request, Path path) {
    String[] s = path.segments();
    boolean v2 = s.length == 2 && s[1].equals("v2");
    if (s.length < 2 || !s[1].equals("v3") && !v2) {
      return status(404, "NotFound", "Served: /openapi/v2 and /openapi/v3");
    }
    ApiCatalog current = catalog();
    OpenApiDocuments documents = openApi;
    if (documents == null || openApiCatalog != current) {
      documents = new OpenApiDocuments(current);
      openApi = documents;
      openApiCatalog = current;
    }
    if (v2) {
      String accept = request.getHeader("Accept");
      return accept != null && accept.contains("protobuf")
          ? new MockResponse()
              .setResponseCode(200)
              .setHeader(CONTENT_TYPE, OpenApiV2.PROTOBUF_CONTENT_TYPE)
              .setBody(documents.v2().protobuf())
          : new MockResponse()
              .setResponseCode(200)
              .setHeader(CONTENT_TYPE, JSON_CONTENT_TYPE)
              .setBody(documents.v2().json());
    }
    if (s.length == 2) {
      return new MockResponse()
          .setResponseCode(200)
          .setHeader(CONTENT_TYPE, JSON_CONTENT_TYPE)
          .setBody(documents.root());
    }
    String key = String.join("/", Arrays.copyOfRange(s, 2, s.length));
    return documents
        .groupVersion(key)
        .map(
            json ->
                new MockResponse()
                    .setResponseCode(200)
                    .setHeader(CONTENT_TYPE, JSON_CONTENT_TYPE)
                    .setBody(json))
        .orElseGet(() -> status(404, "NotFound", "No OpenAPI document for " + key));
  }

  /**
   * A strategic merge patch without its {@code $}-directives ({@code $patch}, {@code
   * $setElementOrder/...}, {@code $retainKeys}), as a JSON merge patch.
   */
  private static JsonNode withoutDirectives(JsonNode patch) {
    if (patch == null || !patch.isObject()) {
      return patch;
    }
    ObjectNode result = JsonNodeFactory.instance.objectNode();
    patch
        .fields()
        .forEachRemaining(
            field -> {
              if (!field.getKey().startsWith("$")) {
                result.set(field.getKey(), withoutDirectives(field.getValue()));
              }
            });
    return result;
  }

  /**
   * Server-side apply, simplified: the applied configuration creates the object, or is merged into
   * it as a JSON merge patch (validated as any write). Unlike the API server, no field ownership is
   * tracked ({@code managedFields} stays empty), so a field dropped from the applied configuration
   * is kept rather than removed, and there are no conflicts between managers.
   */
  private MockResponse serverSideApply(RecordedRequest request, Path path) {
    if (path.name() == null) {
      return status(405, "MethodNotAllowed", "PATCH needs an object name");
    }
    String fieldManager = queryParameter(request.getPath(), "fieldManager");
    if (fieldManager == null || fieldManager.isEmpty()) {
      return status(
          422,
          "Invalid",
          "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value:"
              + " is required for apply patch");
    }
    JsonNode applied;
    try {
      applied = YAML.readTree(request.getUtf8Body());
    } catch (JsonProcessingException e) {
      return status(400, "BadRequest", "The applied configuration is not YAML or JSON");
    }
    if (applied == null || !applied.isObject()) {
      return status(400, "BadRequest", "The applied configuration must be an object");
    }
    ObjectNode configuration = (ObjectNode) applied;
    ObjectNode metadata = configuration.with("metadata");
    metadata.remove(List.of("managedFields", "resourceVersion", "uid", "creationTimestamp"));
    if (!path.name().equals(metadata.path("name").asText(path.name()))) {
      return status(400, "BadRequest", "The name in the body does not match the name in the URL");
    }
    metadata.put("name", path.name());
    if (path.namespace() != null) {
      metadata.put("namespace", path.namespace());
    }
    String query =
        request.getPath().contains("?") ? "?" + request.getPath().split("\\?", 2)[1] : "";
    String objectPath = path.withoutSubresource();
    if (path.subresource() == null && super.handleGet(objectPath).code() == 404) {
      String collection = objectPath.substring(0, objectPath.lastIndexOf('/'));
      return route(
          new RecordedRequest(
              "HTTP/1.1",
              HttpMethod.POST,
              collection + query,
              Headers.builder().add(CONTENT_TYPE, JSON_CONTENT_TYPE).build(),
              new Buffer(configuration.toString().getBytes(StandardCharsets.UTF_8))),
          Path.parse(collection));
    }
    return route(
        new RecordedRequest(
            "HTTP/1.1",
            HttpMethod.PATCH,
            request.getPath(),
            Headers.builder().add(CONTENT_TYPE, MERGE_PATCH).build(),
            new Buffer(configuration.toString().getBytes(StandardCharsets.UTF_8))),
        path);
  }

  /** Notes deletions, so that a watch from before the latest one can be refused (410). */
  @Override
  public void processEvent(
      String path,
      AttributeSet pathAttributes,
      AttributeSet oldAttributes,
      GenericKubernetesResource resource,
      String newState) {
    super.processEvent(path, pathAttributes, oldAttributes, resource, newState);
    if (newState == null && oldAttributes != null) {
      // The mock gives a deletion no resourceVersion of its own; the API server does, and a
      // watch from the version a list reported before the deletion must not miss it.
      lastDeletion.set(requestResourceVersion());
    }
  }

  @Override
  public long requestResourceVersion() {
    long version = super.requestResourceVersion();
    latestResourceVersion.accumulateAndGet(version, Math::max);
    return version;
  }

  /** Watch events as Table rows, for a client that asked for Tables of a custom resource. */
  private UnaryOperator<JsonNode> tablePresentation(RecordedRequest request, Path path) {
    if (!ResourceTables.isRequested(request.getHeader("Accept"))) {
      return null;
    }
    return catalog()
        .customResource(path.groupVersion(), path.plural())
        .map(
            resource ->
                (UnaryOperator<JsonNode>)
                    object -> ResourceTables.render(object, resource.version(), Instant.now()))
        .orElse(null);
  }

  /** A list answer with only the items a field selector the mock cannot apply selects. */
  private static MockResponse filtered(MockResponse list, FieldSelector fields) {
    JsonNode body = body(list);
    if (body == null || !body.path("items").isArray()) {
      return list;
    }
    ArrayNode kept = JsonNodeFactory.instance.arrayNode();
    body.path("items")
        .forEach(
            item -> {
              if (fields.matches(item)) {
                kept.add(item);
              }
            });
    ((ObjectNode) body).set("items", kept);
    return json(200, body);
  }

  private static RecordedRequest withPath(RecordedRequest request, String path) {
    return new RecordedRequest(
        "HTTP/1.1", request.method(), path, request.getHeaders(), request.getBody());
  }

  private static String withoutParameter(String uri, String name) {
    String[] parts = uri.split("\\?", 2);
    if (parts.length < 2) {
      return uri;
    }
    String rest =
        Arrays.stream(parts[1].split("&"))
            .filter(p -> !p.equals(name) && !p.startsWith(name + "="))
            .collect(Collectors.joining("&"));
    return rest.isEmpty() ? parts[0] : parts[0] + "?" + rest;
  }

  private static boolean isWrite(RecordedRequest request) {
    return request.method() == HttpMethod.POST
        || request.method() == HttpMethod.PUT
        || request.method() == HttpMethod.PATCH
        || request.method() == HttpMethod.DELETE;
  }

  /**
   * A create, replace or patch of a custom resource, admitted as kube-apiserver admits it: the
   * object as it would be stored (status from {@code /status} writes only, when the CRD has that
   * subresource) is pruned, defaulted and validated against the CRD's schema before the mock stores
   * it; a refused write stores nothing.
   */
  private MockResponse writeCustomResource(
      RecordedRequest request, Path path, ApiCatalog.CustomResource resource) {
    FieldValidation fieldValidation =
        FieldValidation.of(queryParameter(request.getPath(), "fieldValidation"));
    boolean statusSubresource =
        resource.version().getSubresources() != null
            && resource.version().getSubresources().getStatus() != null;
    if (request.method() == HttpMethod.DELETE) {
      return super.dispatch(request);
    }
    if (request.method() == HttpMethod.POST) {
      if (path.name() != null) {
        return status(405, "MethodNotAllowed", "POST creates in a collection, not at a name");
      }
      JsonNode body = readJson(request.getUtf8Body());
      if (body == null || !body.isObject()) {
        return status(400, "BadRequest", "The request body is not a JSON object");
      }
      ObjectNode object = (ObjectNode) body;
      if (statusSubresource) {
        object.remove("status");
      }
      return admitThen(
          resource,
          object,
          fieldValidation,
          admitted -> super.dispatch(withBody(request, admitted)));
    }
    if (path.name() == null) {
      return status(405, "MethodNotAllowed", request.getMethod() + " needs an object name");
    }
    String objectPath = path.withoutSubresource();
    MockResponse current = super.handleGet(objectPath);
    if (current.code() != 200) {
      return current;
    }
    JsonNode before = body(current);
    JsonNode after;
    if (request.method() == HttpMethod.PUT) {
      after = readJson(request.getUtf8Body());
    } else {
      String contentType = mediaType(request.getHeader(CONTENT_TYPE));
      JsonNode patch = readJson(request.getUtf8Body());
      if (patch == null) {
        return status(400, "BadRequest", "The patch is not JSON");
      }
      if (contentType.equals(MERGE_PATCH)) {
        if (!patch.isObject()) {
          return status(400, "BadRequest", "A JSON merge patch must be a JSON object");
        }
        after = merged(before, patch);
      } else if (contentType.equals(JSON_PATCH)) {
        try {
          after = JsonPatch.apply(patch, before);
        } catch (JsonPatchException | IllegalArgumentException e) {
          return status(422, "Invalid", "Cannot apply the JSON patch: " + e.getMessage());
        }
      } else {
        return status(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
                + JSON_PATCH
                + ", "
                + MERGE_PATCH);
      }
    }
    if (after == null || !after.isObject()) {
      return status(400, "BadRequest", "The request body is not a JSON object");
    }
    ObjectNode stored = asStored((ObjectNode) after, before, path, statusSubresource);
    return admitThen(
        resource,
        stored,
        fieldValidation,
        admitted -> {
          if (request.method() == HttpMethod.PUT) {
            return super.dispatch(withBody(request, admitted));
          }
          return jsonPatch(request.getPath(), JsonDiff.asJson(before, admitted));
        });
  }

  /**
   * The object a write would store: a write to {@code /status} changes only the status, a write to
   * the object everything but the status (when the CRD has a status subresource).
   */
  private static ObjectNode asStored(
      ObjectNode written, JsonNode current, Path path, boolean statusSubresource) {
    ObjectNode stored;
    JsonNode status;
    if ("status".equals(path.subresource())) {
      stored = (ObjectNode) current.deepCopy();
      status = written.get("status");
    } else if (statusSubresource) {
      stored = written;
      status = current.get("status");
    } else {
      return written;
    }
    if (status == null) {
      stored.remove("status");
    } else {
      stored.set("status", status);
    }
    return stored;
  }

  private MockResponse admitThen(
      ApiCatalog.CustomResource resource,
      ObjectNode object,
      FieldValidation fieldValidation,
      Function<ObjectNode, MockResponse> write) {
    CustomResourceAdmission.Decision decision = admission.admit(resource, object, fieldValidation);
    if (decision instanceof CustomResourceAdmission.Refused refused) {
      return json(refused.status().getCode(), refused.status());
    }
    CustomResourceAdmission.Admitted admitted = (CustomResourceAdmission.Admitted) decision;
    MockResponse response = write.apply(admitted.object());
    for (String warning : admitted.warnings()) {
      response.addHeader("Warning", "299 - \"" + warning.replace("\"", "\\\"") + "\"");
    }
    return response;
  }

  private static RecordedRequest withBody(RecordedRequest request, JsonNode body) {
    return new RecordedRequest(
        "HTTP/1.1",
        request.method(),
        request.getPath(),
        Headers.builder().add(CONTENT_TYPE, JSON_CONTENT_TYPE).build(),
        new Buffer(body.toString().getBytes(StandardCharsets.UTF_8)));
  }

  /** The value of a query parameter, URL-decoded; null when absent. */
  private static String queryParameter(String uri, String name) {
    String[] parts = uri.split("\\?", 2);
    if (parts.length < 2) {
      return null;
    }
    for (String parameter : parts[1].split("&")) {
      String[] pair = parameter.split("=", 2);
      if (pair[0].equals(name)) {
        return pair.length < 2 ? "" : URLDecoder.decode(pair[1], StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  private MockResponse table(Path path, MockResponse response) {
    Optional<ApiCatalog.CustomResource> resource =
        catalog().customResource(path.groupVersion(), path.plural());
    if (resource.isEmpty()) {
      return response;
    }
    ObjectNode table =
        ResourceTables.render(body(response), resource.get().version(), Instant.now());
    return json(200, table).setHeader(CONTENT_TYPE, ResourceTables.CONTENT_TYPE);
  }

  /**
   * The scale subresource: an {@code autoscaling/v1} Scale read from, and written through to, the
   * object's replica fields, as the API server does for CRDs with {@code subresources.scale}.
   */
  private MockResponse scale(RecordedRequest request, Path path, ApiCatalog.ScalePaths paths) {
    String objectPath = path.withoutSubresource();
    if (request.method() == HttpMethod.PUT) {
      return writeReplicas(objectPath, readJson(request.getUtf8Body()), paths);
    }
    if (request.method() != HttpMethod.GET && request.method() != HttpMethod.PATCH) {
      return status(405, "MethodNotAllowed", request.getMethod() + " is not supported on scale");
    }
    MockResponse current = super.handleGet(objectPath);
    if (current.code() != 200) {
      return current;
    }
    ObjectNode scale = toScale(body(current), paths);
    if (request.method() == HttpMethod.GET) {
      return json(200, scale);
    }
    String contentType = mediaType(request.getHeader(CONTENT_TYPE));
    JsonNode patch = readJson(request.getUtf8Body());
    if (patch == null) {
      return status(400, "BadRequest", "The request body is not JSON");
    }
    JsonNode patched;
    if (contentType.equals(MERGE_PATCH) || contentType.equals(STRATEGIC_MERGE_PATCH)) {
      // A Scale has no lists, so a strategic merge patch of it is a plain merge patch.
      patched = merged(scale, patch);
    } else if (contentType.equals(JSON_PATCH)) {
      try {
        patched = JsonPatch.apply(patch, scale);
      } catch (JsonPatchException e) {
        return status(
            422, "Invalid", "Cannot apply the JSON patch to the Scale: " + e.getMessage());
      }
    } else {
      return status(415, "UnsupportedMediaType", "Unsupported patch type " + contentType);
    }
    return writeReplicas(objectPath, patched, paths);
  }

  private MockResponse writeReplicas(
      String objectPath, JsonNode scale, ApiCatalog.ScalePaths paths) {
    if (scale == null) {
      return status(400, "BadRequest", "The request body is not a JSON Scale");
    }
    JsonNode replicas = scale.path("spec").path("replicas");
    if (!replicas.canConvertToInt() || !replicas.isIntegralNumber() || replicas.intValue() < 0) {
      return status(422, "Invalid", "Scale.spec.replicas must be a non-negative integer");
    }
    ObjectNode patch = JsonNodeFactory.instance.objectNode();
    String resourceVersion = scale.path("metadata").path("resourceVersion").asText("");
    if (!resourceVersion.isEmpty()) {
      patch.putObject("metadata").put("resourceVersion", resourceVersion);
    }
    SimpleJsonPath.set(patch, paths.specReplicasPath(), IntNode.valueOf(replicas.intValue()));
    MockResponse updated = mergePatch(objectPath, patch);
    if (updated.code() / 100 != 2) {
      return updated;
    }
    return json(200, toScale(body(updated), paths));
  }

  /**
   * Applies a JSON merge patch as RFC 7386 says, which the mock does not: it keeps null members
   * instead of removing them and appends to arrays instead of replacing them. The merged object is
   * handed to the mock as the equivalent JSON patch, so its /status, generation and resourceVersion
   * handling still apply.
   */
  private MockResponse mergePatch(String path, JsonNode patch) {
    if (patch == null || !patch.isObject()) {
      return status(400, "BadRequest", "A JSON merge patch must be a JSON object");
    }
    MockResponse current = super.handleGet(path);
    if (current.code() != 200) {
      return current;
    }
    JsonNode before = body(current);
    JsonNode after = merged(before, patch);
    Path parsed = Path.parse(path);
    Optional<ApiCatalog.CustomResource> resource =
        catalog().customResource(parsed.groupVersion(), parsed.plural());
    if (resource.isPresent()) {
      boolean statusSubresource =
          resource.get().version().getSubresources() != null
              && resource.get().version().getSubresources().getStatus() != null;
      return admitThen(
          resource.get(),
          asStored((ObjectNode) after, before, parsed, statusSubresource),
          FieldValidation.WARN,
          admitted -> jsonPatch(path, JsonDiff.asJson(before, admitted)));
    }
    return jsonPatch(path, JsonDiff.asJson(before, after));
  }

  /** Hands the mock a JSON patch, so its /status, generation and resourceVersion handling apply. */
  private MockResponse jsonPatch(String path, JsonNode jsonPatch) {
    return super.handlePatch(
        new RecordedRequest(
            "HTTP/1.1",
            HttpMethod.PATCH,
            path,
            Headers.builder().add(CONTENT_TYPE, JSON_PATCH).build(),
            new Buffer(jsonPatch.toString().getBytes(StandardCharsets.UTF_8))));
  }

  private static ObjectNode toScale(JsonNode object, ApiCatalog.ScalePaths paths) {
    ObjectNode scale = JsonNodeFactory.instance.objectNode();
    scale.put("apiVersion", "autoscaling/v1");
    scale.put("kind", "Scale");
    ObjectNode metadata = scale.putObject("metadata");
    for (String field :
        List.of("name", "namespace", "uid", "resourceVersion", "creationTimestamp")) {
      JsonNode value = object.path("metadata").path(field);
      if (value.isTextual()) {
        metadata.set(field, value);
      }
    }
    scale.putObject("spec").put("replicas", replicas(object, paths.specReplicasPath()));
    ObjectNode status = scale.putObject("status");
    status.put("replicas", replicas(object, paths.statusReplicasPath()));
    if (paths.labelSelectorPath() != null) {
      SimpleJsonPath.first(object, paths.labelSelectorPath())
          .filter(JsonNode::isTextual)
          .ifPresent(selector -> status.set("selector", selector));
    }
    return scale;
  }

  /** The replica count at a path; 0 when absent, as the API server reports it. */
  private static int replicas(JsonNode object, String path) {
    if (path == null) {
      return 0;
    }
    return SimpleJsonPath.first(object, path)
        .filter(JsonNode::canConvertToInt)
        .map(JsonNode::intValue)
        .orElse(0);
  }

  /** A document with an RFC 7386 JSON merge patch applied. */
  private static JsonNode merged(JsonNode target, JsonNode patch) {
    if (!patch.isObject()) {
      return patch;
    }
    ObjectNode result =
        target.isObject() ? (ObjectNode) target.deepCopy() : JsonNodeFactory.instance.objectNode();
    patch
        .fields()
        .forEachRemaining(
            field -> {
              if (field.getValue().isNull()) {
                result.remove(field.getKey());
              } else {
                result.set(field.getKey(), merged(result.path(field.getKey()), field.getValue()));
              }
            });
    return result;
  }

  private static String mediaType(String contentType) {
    return contentType == null ? "" : contentType.split(";", 2)[0].trim();
  }

  private static JsonNode readJson(String text) {
    try {
      return text == null || text.isBlank() ? null : MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      return null;
    }
  }

  private static JsonNode body(MockResponse response) {
    return readJson(new String(response.getBody().getBytes(), StandardCharsets.UTF_8));
  }

  /**
   * Nobody is checked here, so everyone may do everything: the answer JOSDK's leader election asks
   * for before it starts (and {@code kubectl auth can-i --list}) says so.
   */
  private static MockResponse selfSubjectRulesReview(RecordedRequest request) {
    ObjectNode review = (ObjectNode) readJson(request.getUtf8Body());
    ObjectNode status = review.putObject("status");
    ObjectNode rule = status.putArray("resourceRules").addObject();
    rule.putArray("verbs").add("*");
    rule.putArray("apiGroups").add("*");
    rule.putArray("resources").add("*");
    ObjectNode nonResource = status.putArray("nonResourceRules").addObject();
    nonResource.putArray("verbs").add("*");
    nonResource.putArray("nonResourceURLs").add("*");
    status.put("incomplete", false);
    return json(201, review);
  }

  private static MockResponse json(int code, Object body) {
    return new MockResponse()
        .setResponseCode(code)
        .setHeader(CONTENT_TYPE, JSON_CONTENT_TYPE)
        .setBody(Serialization.asJson(body));
  }

  private static MockResponse status(int code, String reason, String message) {
    return json(
        code,
        new StatusBuilder()
            .withStatus("Failure")
            .withCode(code)
            .withReason(reason)
            .withMessage(message)
            .build());
  }

  /**
   * A request path split into the parts that matter here; group version, plural, name and
   * subresource are null where the path has none.
   */
  private record Path(
      String[] segments,
      String groupVersion,
      String namespace,
      String plural,
      String name,
      String subresource) {

    static Path parse(String uri) {
      String path = uri.split("\\?", 2)[0];
      String[] segments =
          Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toArray(String[]::new);
      int rest;
      String groupVersion = null;
      if (segments.length >= 2 && segments[0].equals("api")) {
        groupVersion = segments[1];
        rest = 2;
      } else if (segments.length >= 3 && segments[0].equals("apis")) {
        groupVersion = segments[1] + "/" + segments[2];
        rest = 3;
      } else {
        return new Path(segments, null, null, null, null, null);
      }
      String namespace = null;
      if (segments.length >= rest + 3 && segments[rest].equals("namespaces")) {
        namespace = segments[rest + 1];
        rest += 2;
      }
      return new Path(
          segments,
          groupVersion,
          namespace,
          at(segments, rest),
          at(segments, rest + 1),
          at(segments, rest + 2));
    }

    private static String at(String[] segments, int index) {
      return index < segments.length ? segments[index] : null;
    }

    /** Whether this is /api, /apis or a group or group version document under them. */
    boolean isDiscovery() {
      return segments.length >= 1
          && (segments[0].equals("api") || segments[0].equals("apis"))
          && plural == null;
    }

    String withoutSubresource() {
      StringBuilder path = new StringBuilder(segments[0].equals("api") ? "/api/" : "/apis/");
      path.append(groupVersion);
      if (namespace != null) {
        path.append("/namespaces/").append(namespace);
      }
      return path.append('/').append(plural).append('/').append(name).toString();
    }
  }
}
