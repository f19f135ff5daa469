package io.vera.operator.provider;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Who a gateway call is attributed to. */
class CallerTest {
  @Test
  void aServiceAccountsNamespaceIsReadFromItsUserName() {
    Caller caller = Caller.kubernetes("system:serviceaccount:team-a:indexer", "alice");
    assertThat(caller.name()).isEqualTo("system:serviceaccount:team-a:indexer");
    assertThat(caller.namespace()).isEqualTo("team-a");
    assertThat(caller.endUser()).isEqualTo("alice");
  }

  @Test
  void aUserBelongsToNoNamespace() {
    Caller caller = Caller.kubernetes("jane@example.com", null);
    assertThat(caller.namespace()).isEmpty();
    assertThat(caller.endUser()).isNull();
  }

  @Test
  void withoutTokensTheHeaderNamesTheCallerElseAnonymous() {
    assertThat(Caller.unauthenticated(null, "")).isEqualTo(new Caller("anonymous", "", null));
    Caller named = Caller.unauthenticated("team-b/notebook", null);
    assertThat(named.name()).isEqualTo("team-b/notebook");
    assertThat(named.namespace()).isEqualTo("team-b");
    assertThat(Caller.unauthenticated("batch-job", null).namespace()).isEmpty();
  }

  @Test
  void anEndUserIdIsCutToOpenAisLimit() {
    assertThat(Caller.kubernetes("u", "x".repeat(1000)).endUser()).hasSize(Caller.MAX_END_USER);
  }
}
