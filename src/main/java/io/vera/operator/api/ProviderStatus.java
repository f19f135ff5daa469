package io.vera.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

/** What the operator observed of a {@link Provider}: its probe and its usage totals. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ProviderStatus {
  public String lastProbeTime;
  public UsageTotals usage;
  public Long observedGeneration;
  public List<Condition> conditions = new ArrayList<>();

  /** Running totals over every call made through the provider. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class UsageTotals {
    public Long requests;
    public Long succeeded;
    public Long failed;
    public Long tokensIn;
    public Long tokensOut;
    public Double costUsd;
    public Double averageLatencyMs;
    public String lastRequestTime;

    /** The calendar month (UTC, {@code YYYY-MM}) that {@link #monthCostUsd} covers. */
    public String month;

    /** Spend so far in {@link #month}, checked against the monthly budget. */
    public Double monthCostUsd;
  }
}
