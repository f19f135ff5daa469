package io.vera.operator.provider;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;

/**
 * One call as a task or a legacy client asks for it.
 *
 * @param taskName the legacy {@code task_name} (e.g. {@code llm.summarize}), or for an HTTP
 *     provider the name of the configured endpoint to call
 * @param model null for the provider's default
 * @param params provider options such as temperature and max_tokens; an empty object when none
 * @param args positional arguments (Lambda, RunPod, HTTP); an empty array when none
 * @param kwargs keyword arguments (Lambda, RunPod, HTTP); an empty object when none
 * @param timeout the whole call's deadline, retries included
 * @param maxRetries attempts after the first for retryable failures
 */
public record ProviderRequest(
    String taskName,
    String prompt,
    String model,
    JsonNode params,
    JsonNode args,
    JsonNode kwargs,
    Duration timeout,
    int maxRetries) {}
