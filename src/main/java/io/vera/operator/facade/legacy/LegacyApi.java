package io.vera.operator.facade.legacy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.Javalin;
import io.vera.operator.compute.ComputeService;
import io.vera.operator.handler.HandlerRegistry;
import io.vera.operator.provider.ProviderGateway;
import io.vera.operator.provider.UsageLedger;
import io.vera.operator.task.TaskQueueView;
import io.vera.operator.task.TaskService;
import io.vera.operator.worker.OfferedHandlers;
import java.util.function.DoubleSupplier;

/**
 * The legacy REST API, one router per legacy base path: {@code /orchestrator} (tasks and pools),
 * {@code /orchestrator/external} (provider calls) and {@code /orchestrator/infrastructure}
 * (machines). Its contract is {@code docs/rest-api.md}; the routers reach the capabilities only
 * through the services handed in here, and the legacy resources through the adapters of this
 * package ({@link LegacyPools}, {@link LegacyProviders}, {@link LegacyInfrastructure}).
 */
public final class LegacyApi {
  /** The legacy base path; the WebSocket and health routes live under it too. */
  public static final String BASE = OrchestratorRoutes.BASE;

  private final OrchestratorRoutes orchestrator;
  private final ExternalRoutes external;
  private final InfrastructureRoutes infrastructure;

  /**
   * @param cpuPercent the operator host's CPU use, 0–100, for {@code system/metrics}
   * @param defaultDockerHost the engine {@code infrastructure/initialize} uses when the call names
   *     no {@code docker_url}
   */
  public LegacyApi(
      TaskService tasks,
      TaskQueueView queues,
      LegacyPools pools,
      HandlerRegistry handlers,
      OfferedHandlers offered,
      DoubleSupplier cpuPercent,
      LegacyProviders providers,
      ProviderGateway gateway,
      UsageLedger usage,
      ComputeService compute,
      LegacyInfrastructure machines,
      String defaultDockerHost) {
    this.orchestrator = new OrchestratorRoutes(tasks, queues, pools, handlers, offered, cpuPercent);
    this.external = new ExternalRoutes(providers, gateway, usage);
    this.infrastructure = new InfrastructureRoutes(compute, machines, defaultDockerHost);
  }

  /**
   * Registers the provider calls ({@code /orchestrator/external}); the server registers them ahead
   * of every other router, since they are the routes served under load.
   */
  public void registerProviderCalls(Javalin app) {
    external.register(app);
  }

  /** Registers the task, pool and infrastructure routes. */
  public void register(Javalin app) {
    orchestrator.register(app);
    infrastructure.register(app);
  }

  /** The legacy status, as a tree: the WebSocket sends it on connect and every two seconds. */
  public ObjectNode status() {
    return orchestrator.status();
  }
}
