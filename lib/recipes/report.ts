/**
 * What a retention policy did to one prompt, as plain JSON for `generate --json` and
 * experiment logs: the method, its budget, the per-layer kept counts, and for PrefixKV the
 * allocation mode and (online) the threshold p.
 *
 * The online allocation returns only counts, so p is recovered by re-running the same
 * deterministic search on the importance the policy received; it is reported only when that
 * search reproduces the policy's counts exactly.
 *
 * @module
 */
import { prefixSearch } from "../prefix/search.ts";
import type { CachePolicy } from "../runtime/cache_policy.ts";
import type { PrefillSnapshot } from "../runtime/observed_policy.ts";
import { budgetLabel } from "./budget.ts";
import { ComposedPolicy } from "./composed_policy.ts";

/** PrefixKV-specific part of a {@link RetentionReport}. */
export interface PrefixKvReport {
  /** `online`: searched on this prompt; `offline`: counts from a calibrated config. */
  mode: "online" | "offline";
  /** Retained-information threshold of the online search (null offline or not reproduced). */
  p: number | null;
  /** Bisection steps and convergence of the online search (null offline). */
  iterations: number | null;
  /** Whether the online search converged (null offline). */
  converged: boolean | null;
  /** Entries each layer kept after prefill. */
  kept: number[];
  /** Offline: the config's per-layer eviction fractions that decoding maintains. */
  configEvictRatios: number[] | null;
}

/** What a policy did to one prompt. */
export interface RetentionReport {
  /** Recipe name, e.g. `"prefixkv"`, or `"custom"` for a policy that is not a recipe. */
  method: string;
  /** Label of the budget: `"20%"` or `"64 tokens"` (`"100%"` without compression). */
  budget: string;
  /** Kept fraction the budget meant for this prompt. */
  fraction: number;
  /** Entries each layer kept after prefill (null before a prefill). */
  kept: number[] | null;
  /** Only for recipes with PrefixKV's allocation (online search or offline config). */
  prefixkv?: PrefixKvReport;
}

/** Search options the online allocation ran with, to recover p. */
export interface SearchOptionsForReport {
  /** Leading positions always kept (default 1). */
  startSize?: number;
  /** Search tolerance in tokens over all layers (default 5). */
  tolerance?: number;
  /** Search iteration cap (default 100). */
  maxIterations?: number;
}

/**
 * Report of `policy` after its prefill. `method` names the recipe (the registry name); a
 * policy that is not a {@link ComposedPolicy} is reported as kept-all at 100 %.
 */
export function retentionReport(
  method: string,
  policy: CachePolicy,
  snapshot: PrefillSnapshot | undefined,
  search: SearchOptionsForReport = {},
): RetentionReport {
  if (!(policy instanceof ComposedPolicy)) {
    return { method, budget: "100%", fraction: 1, kept: snapshot?.lengths ?? null };
  }
  const decision = policy.decision;
  const kept = decision ? Array.from(decision.kept) : null;
  const report: RetentionReport = {
    method,
    budget: budgetLabel(policy.budget),
    fraction: decision?.fraction ?? ("fraction" in policy.budget ? policy.budget.fraction : 1),
    kept,
  };
  const allocation = policy.parts.allocation;
  if (kept && allocation.name === "offline-config") {
    report.prefixkv = {
      mode: "offline",
      p: null,
      iterations: null,
      converged: null,
      kept,
      configEvictRatios: [...(allocation.decodeEvictRatios ?? [])],
    };
  } else if (kept && decision && allocation.name === "prefix-search") {
    const prefix: PrefixKvReport = {
      mode: "online",
      p: null,
      iterations: null,
      converged: null,
      kept,
      configEvictRatios: null,
    };
    if (snapshot?.importance) {
      const found = prefixSearch(snapshot.importance, {
        budget: decision.fraction,
        startSize: search.startSize ?? 1,
        tolerance: search.tolerance,
        maxIterations: search.maxIterations,
      });
      if (found.keep.every((k, l) => k === kept[l])) {
        prefix.p = found.p;
        prefix.iterations = found.iterations;
        prefix.converged = found.converged;
      }
    }
    report.prefixkv = prefix;
  }
  return report;
}
