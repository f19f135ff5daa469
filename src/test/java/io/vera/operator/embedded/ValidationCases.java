package io.vera.operator.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * Good and bad manifests of Vera's kinds with the answer kube-apiserver gives them on create, so
 * the embedded server's admission can be checked against a real API server's with one table ({@code
 * SchemaValidationTest} embedded, {@code SchemaValidationE2eTest} on a cluster).
 */
final class ValidationCases {

  /** How a create is answered. */
  enum Outcome {
    CREATED,
    /** 422 Invalid. */
    INVALID,
    /** 400 BadRequest for unknown fields under fieldValidation=Strict (kube-apiserver 1.25+). */
    UNKNOWN_FIELD
  }

  /**
   * One manifest (JSON, without namespace) and its expected outcome.
   *
   * @param fragment text the refusal message contains, or for CREATED a JSON pointer that the
   *     stored object must hold (defaults) or must not hold (pruned), see {@code stored}
   * @param stored for CREATED: the expected value at {@code fragment}, or null if it must be absent
   */
  record Case(String name, String manifest, Outcome outcome, String fragment, String stored) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static String task(String name, String spec) {
    return "{\"apiVersion\":\"vera.io/v1alpha1\",\"kind\":\"VeraTask\",\"metadata\":{\"name\":\""
        + name
        + "\"},\"spec\":"
        + spec
        + "}";
  }

  private static String object(String kind, String name, String spec) {
    return "{\"apiVersion\":\"vera.io/v1alpha1\",\"kind\":\""
        + kind
        + "\",\"metadata\":{\"name\":\""
        + name
        + "\"},\"spec\":"
        + spec
        + "}";
  }

  static final List<Case> CASES =
      List.of(
          new Case(
              "priority defaults to normal",
              task("plain", "{\"handler\":\"compute.sum\"}"),
              Outcome.CREATED,
              "/spec/priority",
              "\"normal\""),
          new Case(
              "nested defaults fill objects that are present",
              task("retried", "{\"handler\":\"compute.sum\",\"retries\":{\"limit\":2}}"),
              Outcome.CREATED,
              "/spec/retries/backoffSeconds",
              "1"),
          new Case(
              "free-form payload keeps its fields",
              task("payload", "{\"handler\":\"compute.sum\",\"payload\":{\"x\":{\"y\":[1,2]}}}"),
              Outcome.CREATED,
              "/spec/payload/x/y/1",
              "2"),
          new Case(
              "status is dropped on create",
              "{\"apiVersion\":\"vera.io/v1alpha1\",\"kind\":\"VeraTask\","
                  + "\"metadata\":{\"name\":\"with-status\"},"
                  + "\"spec\":{\"handler\":\"compute.sum\"},\"status\":{\"phase\":\"Running\"}}",
              Outcome.CREATED,
              "/status",
              null),
          new Case(
              "unsupported priority",
              task("urgent", "{\"handler\":\"compute.sum\",\"priority\":\"urgent\"}"),
              Outcome.INVALID,
              "spec.priority: Unsupported value: \"urgent\"",
              null),
          new Case(
              "timeout below its minimum",
              task("zero-timeout", "{\"handler\":\"compute.sum\",\"timeoutSeconds\":0}"),
              Outcome.INVALID,
              "spec.timeoutSeconds",
              null),
          new Case(
              "retry limit above its maximum",
              task("many-retries", "{\"handler\":\"compute.sum\",\"retries\":{\"limit\":101}}"),
              Outcome.INVALID,
              "spec.retries.limit",
              null),
          new Case(
              "string where an integer belongs",
              task("string-timeout", "{\"handler\":\"compute.sum\",\"timeoutSeconds\":\"10\"}"),
              Outcome.INVALID,
              "spec.timeoutSeconds",
              null),
          new Case(
              "provider reference without its required name",
              task("no-provider-name", "{\"providerRef\":{\"prompt\":\"hi\"}}"),
              Outcome.INVALID,
              "spec.providerRef.name: Required value",
              null),
          new Case(
              "handler outside its pattern",
              task("bad-handler", "{\"handler\":\"compute sum\"}"),
              Outcome.INVALID,
              "spec.handler",
              null),
          new Case(
              "name that is no DNS subdomain",
              task("Bad_Name", "{\"handler\":\"compute.sum\"}"),
              Outcome.INVALID,
              "metadata.name",
              null),
          new Case(
              "misspelled field",
              task("misspelled", "{\"handlr\":\"compute.sum\"}"),
              Outcome.UNKNOWN_FIELD,
              "unknown field \"spec.handlr\"",
              null),
          new Case(
              "worker pool",
              object("WorkerPool", "pool", "{\"taskType\":\"LLM\",\"runtime\":\"Embedded\"}"),
              Outcome.CREATED,
              "/spec/replicas",
              "1"),
          new Case(
              "worker pool of an unknown task type",
              object("WorkerPool", "gpu-pool", "{\"taskType\":\"GPU\"}"),
              Outcome.INVALID,
              "spec.taskType: Unsupported value: \"GPU\"",
              null),
          new Case(
              "worker pool with negative replicas",
              object("WorkerPool", "negative", "{\"taskType\":\"LLM\",\"replicas\":-1}"),
              Outcome.INVALID,
              "spec.replicas",
              null),
          new Case(
              "compute resource of an unknown type",
              object("ComputeResource", "vm", "{\"type\":\"VirtualBox\"}"),
              Outcome.INVALID,
              "spec.type: Unsupported value: \"VirtualBox\"",
              null),
          new Case(
              "provider of an unknown type",
              object("Provider", "mystery", "{\"type\":\"Mystery\"}"),
              Outcome.INVALID,
              "spec.type: Unsupported value: \"Mystery\"",
              null));

  /** A create's answer: status code, body and Warning headers. */
  record Answer(int code, JsonNode body, List<String> warnings) {}

  /**
   * Creates a case's object in {@code namespace} over HTTP, as kubectl does (with {@code
   * fieldValidation=Strict} when {@code strict}).
   */
  static Answer create(KubernetesClient client, String namespace, Case c, boolean strict)
      throws Exception {
    JsonNode manifest = Serialization.jsonMapper().readTree(c.manifest());
    String plural = manifest.path("kind").asText().toLowerCase(Locale.ROOT) + "s";
    String url =
        client.getMasterUrl().toString().replaceAll("/$", "")
            + "/apis/vera.io/v1alpha1/namespaces/"
            + namespace
            + "/"
            + plural
            + (strict ? "?fieldValidation=Strict" : "");
    HttpClient http = client.getHttpClient();
    HttpRequest request =
        http.newHttpRequestBuilder().uri(url).post("application/json", c.manifest()).build();
    HttpResponse<String> response = http.sendAsync(request, String.class).get(30, TimeUnit.SECONDS);
    return new Answer(
        response.code(),
        Serialization.jsonMapper().readTree(response.body()),
        response.headers("Warning"));
  }

  private ValidationCases() {}
}
