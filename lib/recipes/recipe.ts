/**
 * The recipe interface. A retention recipe is four independent parts:
 *
 * - a {@link Scorer}: one score per prompt entry and layer, from the prefill attention;
 * - an {@link Allocation}: how many entries each layer keeps (from the scores and the budget);
 * - a {@link Selection}: which entries a layer keeps, or how its entries merge;
 * - a {@link DecodePolicy}: what happens to the cache after each decode step.
 *
 * Parts are plain objects, so "PrefixKV allocation + Elastic merging" is one line:
 * `recompose(createRecipe("prefixkv"), { selection: mergeIntoNearestAnchor() })`.
 * {@link composeRecipe} rejects parts that cannot work together, and {@link Recipe.policy}
 * turns a recipe and a budget into the {@link CachePolicy} that the runtime runs. Registered
 * methods (one file each under `methods/`) build their parts from options checked by their
 * own schema; see {@link recipeFromConfig}.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { KvCache } from "../runtime/kv_cache.ts";
import type {
  AttentionNeeds,
  CachePolicy,
  PrefillInfo,
  StepInfo,
} from "../runtime/cache_policy.ts";
import { type Budget, checkRecipeBudget } from "../prefix/budget.ts";
import { ComposedPolicy } from "./composed_policy.ts";
import type { RecipeConfig } from "./method.ts";

/** Per-layer prefill scores, one value per prompt entry (higher = more worth keeping). */
export type LayerScores = Float32Array[];

/** Turns what the prefill reports into one score per entry and layer. */
export interface Scorer {
  /** Short name, e.g. `"prefill-importance"`. */
  readonly name: string;
  /** What the runtime must report at prefill. `"none"`: the scorer gives no scores. */
  readonly needs: AttentionNeeds["prefill"];
  /** True when every layer gets the same score vector (one global ranking). */
  readonly layerShared: boolean;
  /** Scores per layer (length `promptLength` each), or undefined when `needs` is `"none"`. */
  score(info: PrefillInfo, numLayers: number): LayerScores | undefined;
}

/** What an allocation sees. */
export interface AllocationInput {
  /** Prompt length N (every layer holds N entries before selection). */
  promptLength: number;
  /** Number of layers L. */
  numLayers: number;
  /** Kept fraction in (0, 1]: the layers together keep about `fraction · N · L` entries. */
  fraction: number;
  /** The scorer's scores, when it gives any. */
  scores?: LayerScores;
  /** Fewest entries a layer may keep (the selection's protected entries). */
  minKeep: number;
  /** Positions the selection always keeps (so score-based allocations can leave them out). */
  protectedPositions: Int32Array;
  /**
   * What the runtime reported at prefill (attention matrices when {@link Allocation.needs}
   * asks for them, the image span), for allocations that read more than the scores.
   */
  prefill: PrefillInfo;
}

/**
 * What an allocation decided beyond the counts, as JSON-able sections keyed by the part that
 * wrote them (PrefixKV's allocations write `prefixkv`: threshold p, iterations, convergence or
 * the offline config's source and ratios). Policies keep it and reports copy it, so nothing
 * outside the part recomputes or interprets a decision.
 */
export type DecisionSections = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** An allocation's decision for one prompt. */
export interface AllocationResult {
  /** Kept entries per layer, each in `[minKeep, promptLength]`. */
  kept: Int32Array;
  /**
   * Per-layer eviction ratios that decoding maintains instead of 1 − K_l/N, when the
   * allocation fixes them (an offline PrefixKV config, applied as the reference does).
   */
  evictRatios?: readonly number[];
  /** What it decided beyond the counts (none for count-only allocations). */
  sections?: DecisionSections;
}

/** Decides how many entries each layer keeps. */
export interface Allocation {
  /** Short name, e.g. `"uniform"`. */
  readonly name: string;
  /** True when every layer keeps the same count. */
  readonly uniform: boolean;
  /** True when it needs the scorer's scores. */
  readonly needsScores: boolean;
  /** Prefill attention it reads itself (default `"none"`), e.g. VL-Cache's sparsity. */
  readonly needs?: AttentionNeeds["prefill"];
  /** True when every layer keeps all N entries whatever the budget (the full cache). */
  readonly keepsAll?: boolean;
  /** The kept fraction it was calibrated for (an offline config); budgets default to it. */
  readonly calibratedFraction?: number;
  /** The counts for one prompt, with what was decided. */
  allocate(input: AllocationInput): AllocationResult;
}

/** How one layer's cache changes at prefill: keep a subset, or merge into anchors. */
export type SelectionPlan =
  | { kind: "keep"; indices: Int32Array }
  | { kind: "merge"; anchors: Int32Array; assignment: Int32Array };

/** What a selection sees for one layer. */
export interface SelectionInput {
  /** Layer index, 0-based. */
  layer: number;
  /** Prompt length N. */
  promptLength: number;
  /** Entries this layer keeps (its allocation). */
  count: number;
  /** This layer's scores, when the scorer gives any. */
  scores?: Float32Array;
}

/** Decides which entries of a layer survive the prefill, or how they merge. */
export interface Selection {
  /** Short name, e.g. `"merge-nearest(s=1)"`. */
  readonly name: string;
  /** True when dropped entries merge into kept ones (kept entries then carry no own score). */
  readonly merges: boolean;
  /** True when it needs the scorer's scores. */
  readonly needsScores: boolean;
  /** True when it can only keep every entry (then the allocation must keep all too). */
  readonly keepsAll?: boolean;
  /** Fewest entries a layer can keep for a prompt of `promptLength`. */
  minKeep(promptLength: number): number;
  /** Positions always kept when a layer keeps `count` entries (sorted). */
  protectedPositions(promptLength: number, count: number): Int32Array;
  /** The plan for one layer; `count` entries survive. */
  select(input: SelectionInput): SelectionPlan;
}

/** What a decode policy learns once the prefill selection has been applied. */
export interface DecodeStart {
  /** The cache after the prefill selection. */
  cache: KvCache;
  /** Prompt length N. */
  promptLength: number;
  /** Entries each layer kept after prefill (K_l). */
  kept: Int32Array;
  /** Per-layer eviction ratio ρ_l to maintain: the allocation's, else 1 − K_l/N. */
  evictRatios: number[];
  /** Per layer, the prefill score of each kept entry in cache order (keep selections only). */
  entryScores?: Float32Array[];
}

/** The per-generation state of a decode policy. */
export interface DecodeRun {
  /** Called after a decode step appended one entry to every layer. */
  afterStep(cache: KvCache, info: StepInfo): void;
}

/** What happens to the cache at each decode step. */
export interface DecodePolicy {
  /** Short name, e.g. `"fixed-distance(-25)"`. */
  readonly name: string;
  /** True when it needs each new token's attention over the cache entries. */
  readonly needsStepAttention: boolean;
  /** True when it needs a prefill score per kept entry (so merging selections cannot feed it). */
  readonly needsEntryScores: boolean;
  /** True when it needs every layer to hold the same positions. */
  readonly needsSharedPositions: boolean;
  /** Starts a generation's state after prefill. */
  start(input: DecodeStart): DecodeRun;
}

/** The four parts of a recipe. */
export interface RecipeParts {
  /** Scores entries at prefill. */
  scorer: Scorer;
  /** Sets each layer's kept count. */
  allocation: Allocation;
  /** Picks or merges the entries of each layer. */
  selection: Selection;
  /** Evicts during decoding. */
  decode: DecodePolicy;
}

/** A checked composition of parts that can make cache policies for any budget. */
export interface Recipe extends Readonly<RecipeParts> {
  /** The registry name, or a composed name such as `"prefill-importance+uniform+merge+…"`. */
  readonly name: string;
  /**
   * The canonical config that rebuilds this recipe with {@link recipeFromConfig}: the method
   * and every option with its default filled in. Undefined for compositions that no
   * registered method describes ({@link composeRecipe}, {@link recompose}).
   */
  readonly config?: RecipeConfig;
  /** The budget it runs at when none is given: 100 % for `full`, an offline config's own. */
  readonly defaultBudget?: Budget;
  /** One line naming the parts. */
  describeParts(): string;
  /** A fresh cache policy for `budget` (each generation may reuse it; prefill resets state). */
  policy(budget: Budget): CachePolicy;
}

/** What a registered method adds to a composition: its canonical config and default budget. */
export interface RecipeIdentity {
  /** Registry name. */
  name: string;
  /** Canonical config (method + resolved options). */
  config?: RecipeConfig;
  /** Budget used when none is given. */
  defaultBudget?: Budget;
}

/**
 * Checks that the parts fit together and returns the recipe. Throws {@link InputError} naming
 * the conflict when they do not.
 */
export function composeRecipe(parts: RecipeParts, identity?: string | RecipeIdentity): Recipe {
  const { scorer, allocation, selection, decode } = parts;
  const id = typeof identity === "string" ? { name: identity } : identity;
  const label = id?.name ?? [scorer, allocation, selection, decode].map((p) => p.name).join("+");
  const fail = (why: string): never => {
    throw new InputError(`recipe ${label}: ${why}`);
  };
  const scored = scorer.needs !== "none";
  if (selection.keepsAll && !allocation.keepsAll) {
    fail(
      `selection "${selection.name}" keeps every entry, so allocation "${allocation.name}" ` +
        `cannot set smaller counts; use the keep-all allocation or a selection that picks`,
    );
  }
  if (allocation.needsScores && !scored) {
    fail(`allocation "${allocation.name}" ranks entries but scorer "${scorer.name}" gives none`);
  }
  if (selection.needsScores && !scored) {
    fail(`selection "${selection.name}" ranks entries but scorer "${scorer.name}" gives none`);
  }
  if (decode.needsEntryScores) {
    if (selection.merges) {
      fail(
        `decode policy "${decode.name}" needs a score per kept entry, but selection ` +
          `"${selection.name}" merges entries, so merged entries have none; use a keep ` +
          `selection or a decode policy that needs no scores (fixed-distance, recent-window)`,
      );
    }
    if (!scored) fail(`decode policy "${decode.name}" needs prefill scores; scorer gives none`);
  }
  if (decode.needsSharedPositions) {
    const sharedRanking = scorer.layerShared || !selection.needsScores;
    if (!allocation.uniform || !sharedRanking) {
      fail(
        `decode policy "${decode.name}" needs every layer to keep the same positions: use a ` +
          `uniform allocation with a layer-shared scorer`,
      );
    }
  }
  return {
    name: label,
    ...(id?.config && { config: id.config }),
    ...(id?.defaultBudget && { defaultBudget: id.defaultBudget }),
    scorer,
    allocation,
    selection,
    decode,
    describeParts: () =>
      `scorer ${scorer.name} · allocation ${allocation.name} · selection ${selection.name} · ` +
      `decode ${decode.name}`,
    policy(budget: Budget): CachePolicy {
      return new ComposedPolicy(parts, checkRecipeBudget(budget));
    },
  };
}

/**
 * The recipe's parts with some replaced, composed and checked again (a new composite name).
 *
 * @example PrefixKV's allocation with ElasticCache's merging selection
 * ```ts
 * import { createRecipe, mergeIntoNearestAnchor, recompose } from "@prefixkv/prefixkv";
 * const merged = recompose(createRecipe("prefixkv"), { selection: mergeIntoNearestAnchor() });
 * console.log(merged.name, merged.describeParts());
 * const policy = merged.policy({ fraction: 0.3 });
 * ```
 */
export function recompose(
  base: RecipeParts,
  overrides: Partial<RecipeParts>,
  name?: string,
): Recipe {
  const { scorer, allocation, selection, decode } = base;
  return composeRecipe({ scorer, allocation, selection, decode, ...overrides }, name);
}
