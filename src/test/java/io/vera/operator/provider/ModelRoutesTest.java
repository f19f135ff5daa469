package io.vera.operator.provider;

import static org.assertj.core.api.Assertions.assertThat;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.provider.ProviderGatewayTest.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Route declaration, the order a call tries targets in, and per-target health. */
class ModelRoutesTest {
  private static final ProviderKey DECLARING = new ProviderKey("vera-system", "routes");
  private final MutableClock clock = new MutableClock(Instant.parse("2026-11-27T10:00:00Z"));
  private final ModelRoutes routes = new ModelRoutes(clock);

  private static ProviderSpec.RouteTarget target(String provider, String model, Integer weight) {
    ProviderSpec.RouteTarget target = new ProviderSpec.RouteTarget();
    target.provider = provider;
    target.model = model;
    target.weight = weight;
    return target;
  }

  private ModelRoutes.Route declare(String name, ProviderSpec.RouteTarget... targets) {
    ProviderSpec.Route route = new ProviderSpec.Route();
    route.name = name;
    route.targets = List.of(targets);
    routes.declare(DECLARING, List.of(route));
    return routes.route(name).orElseThrow();
  }

  private static List<String> names(List<ModelRoutes.Target> plan) {
    return plan.stream().map(ModelRoutes.Target::toString).toList();
  }

  @Test
  void aZeroWeightTargetIsOnlyAFallbackAndTargetsLiveInTheDeclaringNamespace() {
    ModelRoutes.Route route =
        declare("chat", target("anthropic", "claude-haiku", 0), target("openai", "gpt-4o", null));
    for (int i = 0; i < 20; i++) {
      assertThat(names(routes.plan(route)))
          .containsExactly("openai/gpt-4o", "anthropic/claude-haiku");
    }
    assertThat(route.targets().get(0).provider())
        .isEqualTo(new ProviderKey("vera-system", "anthropic"));
  }

  @Test
  void weightsSplitTheFirstTargetAndTheOthersFollowInDeclaredOrder() {
    ModelRoutes.Route route =
        declare("split", target("a", "m", 1), target("b", "m", 1), target("c", "m", 0));
    java.util.Set<String> firsts = new java.util.HashSet<>();
    for (int i = 0; i < 200; i++) {
      List<String> plan = names(routes.plan(route));
      firsts.add(plan.get(0));
      assertThat(plan).hasSize(3).endsWith("c/m");
    }
    assertThat(firsts).containsExactlyInAnyOrder("a/m", "b/m");
  }

  @Test
  void aTargetFailingThreeTimesInARowLeavesRotationAndIsProbedBackAfterItsCooldown() {
    ModelRoutes.Route route = declare("chat", target("primary", "m", 1), target("backup", "m", 0));
    ModelRoutes.Target primary = route.targets().get(0);
    routes.failed(primary);
    routes.failed(primary);
    assertThat(names(routes.plan(route)).get(0))
        .as("two failures: still first")
        .isEqualTo("primary/m");
    routes.failed(primary);
    assertThat(routes.ejected(primary)).isTrue();
    assertThat(names(routes.plan(route))).containsExactly("backup/m", "primary/m");

    clock.advance(ModelRoutes.BASE_COOLDOWN);
    assertThat(names(routes.plan(route)).get(0)).as("the probe").isEqualTo("primary/m");
    assertThat(names(routes.plan(route)).get(0))
        .as("other calls wait for the probe's answer")
        .isEqualTo("backup/m");
    routes.failed(primary);
    clock.advance(ModelRoutes.BASE_COOLDOWN);
    assertThat(routes.ejected(primary)).as("a failed probe doubles the cooldown").isTrue();
    clock.advance(ModelRoutes.BASE_COOLDOWN);
    assertThat(names(routes.plan(route)).get(0)).isEqualTo("primary/m");
    routes.succeeded(primary);
    assertThat(routes.ejected(primary)).isFalse();
    assertThat(names(routes.plan(route)).get(0)).isEqualTo("primary/m");
  }

  @Test
  void theCooldownIsBounded() {
    ModelRoutes.Route route = declare("chat", target("primary", "m", 1));
    ModelRoutes.Target primary = route.targets().get(0);
    for (int i = 0; i < 30; i++) {
      routes.failed(primary);
    }
    clock.advance(ModelRoutes.MAX_COOLDOWN.minus(Duration.ofSeconds(1)));
    assertThat(routes.ejected(primary)).isTrue();
    clock.advance(Duration.ofSeconds(1));
    assertThat(routes.ejected(primary)).isFalse();
  }

  @Test
  void fallbackIsForRateLimitsUpstreamFailuresTimeoutsAndConnectionErrorsOnly() {
    for (int status : new int[] {429, 500, 502, 503, 504, 529}) {
      assertThat(ModelRoutes.fallsBack(new ProviderException(status, "x", false)))
          .as("%d", status)
          .isTrue();
    }
    for (int status : new int[] {400, 401, 403, 413, 422}) {
      assertThat(ModelRoutes.fallsBack(new ProviderException(status, "x", false)))
          .as("%d", status)
          .isFalse();
    }
    RefusedCallException budget =
        new RefusedCallException(429, RefusedCallException.Reason.BUDGET_EXCEEDED, "spent");
    assertThat(ModelRoutes.fallsBack(budget)).isTrue();
    assertThat(ModelRoutes.countsAgainstHealth(budget))
        .as("Vera's own refusal says nothing of the upstream")
        .isFalse();
  }

  @Test
  void aNameTwoProvidersDeclareGoesToTheFirstByNamespaceAndNameAndRoutesLeaveWithTheirProvider() {
    ProviderSpec.Route mine = new ProviderSpec.Route();
    mine.name = "chat";
    mine.targets = List.of(target("b-target", "m", 1));
    routes.declare(new ProviderKey("ns", "b"), List.of(mine));
    ProviderSpec.Route theirs = new ProviderSpec.Route();
    theirs.name = "chat";
    theirs.targets = List.of(target("a-target", "m", 1));
    routes.declare(new ProviderKey("ns", "a"), List.of(theirs));
    assertThat(routes.route("chat").orElseThrow().declaredBy().name()).isEqualTo("a");
    routes.declare(new ProviderKey("ns", "a"), null);
    assertThat(routes.route("chat").orElseThrow().declaredBy().name()).isEqualTo("b");
  }
}
