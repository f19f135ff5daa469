/**
 * Endpoint providers (AWS Lambda functions, RunPod serverless endpoints, configured HTTP
 * endpoints): a payload goes to an endpoint someone else runs and its output comes back. They sit
 * behind {@link io.vera.operator.provider.ProviderClient}, so tasks and the legacy external API can
 * run work outside the cluster with the same deadline, retry and credential rules as the LLM
 * clients.
 *
 * <p>Shared rules: the request's timeout bounds the whole call, retries and polls included; 429
 * waits for Retry-After (else backoff) and fails with status 429 and {@code retryAfter} once the
 * retries or the deadline run out; no answer in time is 504; an upstream error is 502 (retryable
 * when it was a 5xx); refused input is 422 and a missing credential 400, both before any request;
 * responses over {@link io.vera.operator.provider.endpoint.Transport#maxResponseBytes()} fail with
 * 502. Redirects are never followed. Error messages carry at most 1 KiB of the upstream body with
 * the credentials used replaced by {@code ***}. None of these calls report tokens.
 */
package io.vera.operator.provider.endpoint;
