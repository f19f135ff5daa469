package io.vera.operator.compute;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.mockwebserver.http.MockResponse;
import io.vera.operator.embedded.EmbeddedApiServer;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * How an installation's id is chosen: from the operator's Namespace (created in an embedded API
 * server that has none), the same for every replica and restart, different per cluster, or given.
 */
class InstanceIdTest {

  @Test
  void isTheNamespaceUidStableForEveryReplicaAndDifferentPerCluster() {
    try (EmbeddedApiServer one = EmbeddedApiServer.start(0);
        EmbeddedApiServer two = EmbeddedApiServer.start(0)) {
      assertThat(one.client().namespaces().withName("default").get()).isNull();

      InstanceId first = InstanceId.resolve(one.client(), "default", null);
      String uid = one.client().namespaces().withName("default").get().getMetadata().getUid();
      assertThat(first.value()).isEqualTo(uid);
      // A restart, or a second replica, reads the same object.
      assertThat(InstanceId.resolve(one.client(), "default", null)).isEqualTo(first);
      // Another cluster (here: another embedded API server) with the same namespace name differs.
      assertThat(InstanceId.resolve(two.client(), "default", null)).isNotEqualTo(first);
    }
  }

  @Test
  void anExistingNamespaceIsReadNotReplaced() {
    try (EmbeddedApiServer server = EmbeddedApiServer.start(0)) {
      String uid =
          server
              .client()
              .namespaces()
              .resource(
                  new NamespaceBuilder().withNewMetadata().withName("vera").endMetadata().build())
              .create()
              .getMetadata()
              .getUid();
      assertThat(InstanceId.resolve(server.client(), "vera", null).value()).isEqualTo(uid);
    }
  }

  @Test
  void anOverrideWinsWithoutAskingTheApiServer() {
    try (EmbeddedApiServer server =
        EmbeddedApiServer.start(
            0, request -> Optional.of(new MockResponse().setResponseCode(500)))) {
      InstanceId given = new InstanceId("prod-eu-1");
      assertThat(InstanceId.resolve(server.client(), "default", given)).isSameAs(given);
    }
  }

  @Test
  void aNamespaceItMayNotReadFailsStartUpNamingTheWayOut() {
    try (EmbeddedApiServer server =
        EmbeddedApiServer.start(
            0,
            request ->
                request.getPath().startsWith("/api/v1/namespaces")
                    ? Optional.of(
                        new MockResponse()
                            .setResponseCode(403)
                            .setBody(
                                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                                    + "\"reason\":\"Forbidden\",\"code\":403,\"message\":"
                                    + "\"namespaces \\\"default\\\" is forbidden\"}"))
                    : Optional.empty())) {
      assertThatThrownBy(() -> InstanceId.resolve(server.client(), "default", null))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("Namespace default")
          .hasMessageContaining("--instance-id");
    }
  }

  @Test
  void acceptsOnlyWhatFitsALabelValueAndAProxmoxTag() {
    assertThat(new InstanceId("0b7c6a52-1d0e-4c57-9a3e-5f0f6f0d2b11").value()).hasSize(36);
    assertThat(new InstanceId("a").value()).isEqualTo("a");
    assertThat(new InstanceId("x".repeat(63)).value()).hasSize(63);
    for (String bad :
        new String[] {"", "Prod", "-lead", "trail-", "under_score", "dot.ted", "x".repeat(64)}) {
      assertThatThrownBy(() -> new InstanceId(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("instance id");
    }
    assertThatThrownBy(() -> new InstanceId(null)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void adoptsItsOwnAndUnmarkedMachinesButMakesOnlyItsOwn() {
    InstanceId id = new InstanceId("here");
    assertThat(id.made("here")).isTrue();
    assertThat(id.made(null)).isFalse();
    assertThat(id.made("there")).isFalse();
    assertThat(id.mayAdopt("here")).isTrue();
    assertThat(id.mayAdopt(null)).isTrue();
    assertThat(id.mayAdopt("there")).isFalse();
  }
}
