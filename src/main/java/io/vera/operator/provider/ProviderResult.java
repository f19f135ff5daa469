package io.vera.operator.provider;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What one call produced and cost.
 *
 * @param output the text for LLM calls; the function's or endpoint's JSON otherwise
 * @param model the model the provider says answered, which may be a dated variant of the one asked
 * @param usage tokens as reported on the wire
 * @param costUsd null when the call cannot be priced (unknown model, no billing data)
 * @param latencyMs from sending the request to the last byte
 * @param timeToFirstTokenMs for streams, to the first chunk; null otherwise
 * @param complete false when a stream ended early; what was received is still reported
 */
public record ProviderResult(
    JsonNode output,
    String model,
    TokenUsage usage,
    Double costUsd,
    double latencyMs,
    Double timeToFirstTokenMs,
    boolean complete) {}
