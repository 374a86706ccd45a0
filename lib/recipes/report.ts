/**
 * What a retention policy did to one prompt, as plain JSON for `generate --json` and
 * experiment logs: the method, its budget, the per-layer kept counts and the allocation's own
 * decision sections (PrefixKV: `prefixkv` with the threshold p or the offline config), copied
 * from the policy as the allocation reported them.
 *
 * @module
 */
import { budgetLabel } from "../prefix/budget.ts";
import type { CachePolicy } from "../runtime/cache_policy.ts";
import type { PrefillSnapshot } from "../runtime/observed_policy.ts";
import type { PrefixKvDecision } from "./allocation/prefix_search.ts";
import { ComposedPolicy } from "./composed_policy.ts";

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
  /** The allocation part that decided the counts (null for a policy that is not a recipe). */
  allocation: string | null;
  /** The section PrefixKV's allocations write (online search or offline config). */
  prefixkv?: PrefixKvDecision;
  /** Other allocations' decision sections, under the names they chose. */
  [section: string]: unknown;
}

/**
 * Report of `policy` after its prefill. `method` names the recipe (the registry name); a
 * policy that is not a {@link ComposedPolicy} is reported as kept-all at 100 %.
 */
export function retentionReport(
  method: string,
  policy: CachePolicy,
  snapshot: PrefillSnapshot | undefined,
): RetentionReport {
  if (!(policy instanceof ComposedPolicy)) {
    return {
      method,
      budget: "100%",
      fraction: 1,
      kept: snapshot?.lengths ?? null,
      allocation: null,
    };
  }
  const decision = policy.decision;
  return {
    method,
    budget: budgetLabel(policy.budget),
    fraction: decision?.fraction ?? ("fraction" in policy.budget ? policy.budget.fraction : 1),
    kept: decision ? Array.from(decision.kept) : null,
    allocation: decision?.allocation ?? policy.parts.allocation.name,
    ...structuredClone(decision?.sections ?? {}),
  };
}

/** `p=0.9321 iterations=12 converged=true`: the scalar facts of the decision sections. */
export function decisionSummary(report: RetentionReport): string {
  const base = new Set(["method", "budget", "fraction", "kept", "allocation"]);
  const facts: string[] = [];
  for (const [key, section] of Object.entries(report)) {
    if (base.has(key) || typeof section !== "object" || section === null) continue;
    for (const [k, v] of Object.entries(section)) {
      if (typeof v === "number") facts.push(`${k}=${+v.toFixed(4)}`);
      else if (typeof v === "boolean" || (typeof v === "string" && v.length < 40)) {
        facts.push(`${k}=${v}`);
      }
    }
  }
  return facts.join(" ");
}
