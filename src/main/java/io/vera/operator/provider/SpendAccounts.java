package io.vera.operator.provider;

import io.vera.operator.api.ProviderSpec;
import io.vera.operator.api.ProviderStatus;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One Provider's spend by period (UTC month and day) for the Provider as a whole, for each caller,
 * each caller namespace and each end user, with the cost reserved by calls in flight: what makes
 * budgets hold under concurrency. A call {@link #reserve reserves} an estimate of its cost against
 * every budget that applies, under one lock, and is refused when any would be exceeded; it then
 * {@link #settle settles} with its exact cost. Without reservations, N concurrent calls all see the
 * same spend and all pass a nearly spent budget.
 *
 * <p>Accounts are seeded from, and written back to, the Provider's {@code status.usage}, so they
 * survive restarts like the rest of the ledger. Each kind holds at most {@link #MAX_ACCOUNTS}
 * accounts (a status object has a size limit); later callers share the {@link #OTHER} account,
 * whose budgets they then share too, except callers and namespaces with a budget of their own
 * ({@code spec.limits.callers}, {@code namespaces}: as many as the spec names), which always keep
 * their own account.
 */
final class SpendAccounts {
  static final int MAX_ACCOUNTS = 500;
  static final String OTHER = "(other)";

  /**
   * Spend is summed in doubles (as the ledger's totals are); a millionth of a cent keeps three
   * $0.10 calls within a $0.30 budget instead of $0.30000000000000004 past it.
   */
  private static final double ROUNDING = 1e-8;

  /** A period's name: {@code YYYY-MM} or {@code YYYY-MM-DD}, UTC. */
  record Period(String month, String day) {
    static Period of(Instant now) {
      LocalDate date = LocalDate.ofInstant(now, ZoneOffset.UTC);
      return new Period(date.toString().substring(0, 7), date.toString());
    }
  }

  /** Spend of one Provider, caller, namespace or end user. */
  static final class Account {
    final String name;
    final String namespace;
    final String caller;
    String month;
    double monthCost;
    String day;
    double dayCost;
    long requests;
    double totalCost;
    double reserved;

    Account(String name, String namespace, String caller) {
      this.name = name;
      this.namespace = namespace;
      this.caller = caller;
    }

    double month(Period period) {
      return period.month().equals(month) ? monthCost : 0;
    }

    double day(Period period) {
      return period.day().equals(day) ? dayCost : 0;
    }

    void add(Period period, double cost) {
      monthCost = month(period) + cost;
      dayCost = day(period) + cost;
      month = period.month();
      day = period.day();
      totalCost += cost;
      requests++;
    }

    ProviderStatus.Spend toStatus() {
      ProviderStatus.Spend spend = new ProviderStatus.Spend();
      spend.name = name;
      spend.namespace = namespace == null || namespace.isEmpty() ? null : namespace;
      spend.caller = caller;
      spend.requests = requests;
      spend.costUsd = round(totalCost);
      spend.month = month;
      spend.monthCostUsd = round(monthCost);
      spend.day = day;
      spend.dayCostUsd = round(dayCost);
      return spend;
    }

    static Account of(ProviderStatus.Spend spend) {
      Account account =
          new Account(spend.name, spend.namespace == null ? "" : spend.namespace, spend.caller);
      account.requests = spend.requests == null ? 0 : spend.requests;
      account.totalCost = spend.costUsd == null ? 0 : spend.costUsd;
      account.month = spend.month;
      account.monthCost = spend.monthCostUsd == null ? 0 : spend.monthCostUsd;
      account.day = spend.day;
      account.dayCost = spend.dayCostUsd == null ? 0 : spend.dayCostUsd;
      return account;
    }
  }

  /** What a call reserved, to be settled once with its exact cost. */
  final class Reservation {
    private final List<Account> accounts;
    private final double estimate;
    private boolean settled;

    private Reservation(List<Account> accounts, double estimate) {
      this.accounts = accounts;
      this.estimate = estimate;
    }

    /** Replaces the estimate with the call's cost (0 when it failed or could not be priced). */
    void settle(double cost, Instant now) {
      SpendAccounts.this.settle(this, cost, now, true);
    }

    /** Gives the estimate back for a call that was refused before it was made. */
    void release() {
      SpendAccounts.this.settle(this, 0, null, false);
    }
  }

  private final Account provider;
  private final Map<String, Account> callers = new LinkedHashMap<>();
  private final Map<String, Account> namespaces = new LinkedHashMap<>();
  private final Map<String, Account> endUsers = new LinkedHashMap<>();

  SpendAccounts(String providerName, ProviderStatus.UsageTotals seed) {
    provider = new Account(providerName, "", null);
    if (seed == null) {
      return;
    }
    provider.month = seed.month;
    provider.monthCost = seed.monthCostUsd == null ? 0 : seed.monthCostUsd;
    provider.day = seed.day;
    provider.dayCost = seed.dayCostUsd == null ? 0 : seed.dayCostUsd;
    load(seed.callers, callers, false);
    load(seed.namespaces, namespaces, false);
    load(seed.endUsers, endUsers, true);
  }

  private static void load(
      List<ProviderStatus.Spend> entries, Map<String, Account> into, boolean endUser) {
    if (entries == null) {
      return;
    }
    for (ProviderStatus.Spend entry : entries) {
      // What writeTo wrote: at most MAX_ACCOUNTS, (other), and the accounts with a named budget.
      if (entry.name != null) {
        into.put(endUser ? endUserKey(entry.caller, entry.name) : entry.name, Account.of(entry));
      }
    }
  }

  /**
   * Reserves {@code estimate} USD against every budget of {@code limits} that applies to {@code
   * caller} (null for calls no caller is attributed to: only the Provider's budgets apply), or
   * refuses the call with 429 naming the first budget it would exceed.
   */
  synchronized Reservation reserve(
      String providerName, ProviderSpec.Limits limits, Caller caller, double estimate, Instant now)
      throws RefusedCallException {
    Period period = Period.of(now);
    List<Account> accounts = new ArrayList<>(3);
    accounts.add(provider);
    Account callerAccount = null;
    Account namespaceAccount = null;
    ProviderSpec.Budget callerBudget = null;
    ProviderSpec.Budget namespaceBudget = null;
    if (caller != null) {
      ProviderSpec.NamedBudget named = named(limits == null ? null : limits.callers, caller.name());
      callerBudget = named != null ? named : limits == null ? null : limits.perCaller;
      callerAccount =
          account(callers, caller.name(), caller.name(), caller.namespace(), null, named != null);
      accounts.add(callerAccount);
      if (!caller.namespace().isEmpty()) {
        ProviderSpec.NamedBudget namedNamespace =
            named(limits == null ? null : limits.namespaces, caller.namespace());
        namespaceBudget =
            namedNamespace != null ? namedNamespace : limits == null ? null : limits.perNamespace;
        namespaceAccount =
            account(
                namespaces,
                caller.namespace(),
                caller.namespace(),
                "",
                null,
                namedNamespace != null);
        accounts.add(namespaceAccount);
      }
    }
    if (limits != null) {
      check(provider, limits.monthlyBudgetUsd, true, "provider " + providerName, period, estimate);
      check(provider, limits.dailyBudgetUsd, false, "provider " + providerName, period, estimate);
    }
    if (callerBudget != null) {
      String who = "caller " + caller.name() + " on provider " + providerName;
      check(callerAccount, callerBudget.monthlyUsd, true, who, period, estimate);
      check(callerAccount, callerBudget.dailyUsd, false, who, period, estimate);
    }
    if (namespaceBudget != null) {
      String who = "namespace " + caller.namespace() + " on provider " + providerName;
      check(namespaceAccount, namespaceBudget.monthlyUsd, true, who, period, estimate);
      check(namespaceAccount, namespaceBudget.dailyUsd, false, who, period, estimate);
    }
    if (caller != null && caller.endUser() != null) {
      accounts.add(
          account(
              endUsers,
              endUserKey(caller.name(), caller.endUser()),
              caller.endUser(),
              caller.namespace(),
              caller.name(),
              false));
    }
    for (Account account : accounts) {
      account.reserved += estimate;
    }
    return new Reservation(accounts, estimate);
  }

  /**
   * Refuses when the spend of the period and the reservations of calls in flight reach {@code
   * budget}, or this call's estimate would take them past it.
   */
  private static void check(
      Account account, Double budget, boolean monthly, String who, Period period, double estimate)
      throws RefusedCallException {
    if (budget == null) {
      return;
    }
    double spent = monthly ? account.month(period) : account.day(period);
    double committed = spent + account.reserved;
    if (committed >= budget - ROUNDING || committed + estimate > budget + ROUNDING) {
      String kind = monthly ? "monthly" : "daily";
      throw new RefusedCallException(
          429,
          RefusedCallException.Reason.BUDGET_EXCEEDED,
          String.format(
              "%s has %s its %s budget of $%.2f ($%.4f spent %s, $%.4f reserved by calls in"
                  + " flight, this call estimated at $%.4f)",
              who,
              committed >= budget ? "spent" : "too little left of",
              kind,
              budget,
              spent,
              monthly ? "this month" : "today",
              account.reserved,
              estimate));
    }
  }

  private synchronized void settle(
      Reservation reservation, double cost, Instant now, boolean made) {
    if (reservation.settled) {
      return;
    }
    reservation.settled = true;
    for (Account account : reservation.accounts) {
      account.reserved = Math.max(0, account.reserved - reservation.estimate);
      if (made) {
        account.add(Period.of(now), cost);
      }
    }
  }

  /** Writes the accounts into a status' usage totals. */
  synchronized void writeTo(ProviderStatus.UsageTotals status) {
    status.day = provider.day;
    status.dayCostUsd = round(provider.dayCost);
    status.callers = list(callers);
    status.namespaces = list(namespaces);
    status.endUsers = list(endUsers);
  }

  /** A copy of the accounts for reading, in the status' shape. */
  synchronized ProviderStatus.UsageTotals snapshot() {
    ProviderStatus.UsageTotals totals = new ProviderStatus.UsageTotals();
    totals.month = provider.month;
    totals.monthCostUsd = round(provider.monthCost);
    totals.requests = provider.requests;
    writeTo(totals);
    return totals;
  }

  private static List<ProviderStatus.Spend> list(Map<String, Account> accounts) {
    if (accounts.isEmpty()) {
      return null;
    }
    List<ProviderStatus.Spend> list = new ArrayList<>(accounts.size());
    accounts.values().forEach(a -> list.add(a.toStatus()));
    return list;
  }

  /**
   * The budget {@code budgets} names for {@code name} (the first entry of that name), or null: it
   * then takes the place of the budget per caller or per namespace.
   */
  static ProviderSpec.NamedBudget named(List<ProviderSpec.NamedBudget> budgets, String name) {
    if (budgets == null) {
      return null;
    }
    for (ProviderSpec.NamedBudget budget : budgets) {
      if (budget != null && name.equals(budget.name)) {
        return budget;
      }
    }
    return null;
  }

  /**
   * The account of {@code key}; a new one while there are fewer than {@link #MAX_ACCOUNTS}, or
   * always when it is {@code named} with a budget of its own, else the shared {@link #OTHER} one.
   */
  private static Account account(
      Map<String, Account> accounts,
      String key,
      String name,
      String namespace,
      String caller,
      boolean named) {
    Account found = accounts.get(key);
    if (found != null) {
      return found;
    }
    if (accounts.size() >= MAX_ACCOUNTS && !named) {
      return accounts.computeIfAbsent(OTHER, k -> new Account(OTHER, "", null));
    }
    Account created = new Account(name, namespace, caller);
    accounts.put(key, created);
    return created;
  }

  private static String endUserKey(String caller, String endUser) {
    return caller + '\u0000' + endUser;
  }

  private static double round(double value) {
    return Math.round(value * 1e6) / 1e6;
  }
}
