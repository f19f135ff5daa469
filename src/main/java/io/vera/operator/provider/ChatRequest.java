package io.vera.operator.provider;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;

/**
 * One chat completion as a caller of the OpenAI-compatible gateway sent it, for a Provider's client
 * to pass on (OpenAI and compatible upstreams) or translate (Anthropic, Gemini).
 *
 * @param body the caller's body in OpenAI's chat completions format; clients never modify it
 * @param model the model at the upstream: what followed {@code <provider>/} or a route's target
 * @param includeUsage whether a streaming caller asked for the final usage chunk ({@code
 *     stream_options.include_usage}); usage is read from the upstream either way
 * @param timeout the whole call's deadline, retries included
 * @param maxRetries attempts after the first for retryable failures before any output
 */
public record ChatRequest(
    ObjectNode body, String model, boolean includeUsage, Duration timeout, int maxRetries) {}
