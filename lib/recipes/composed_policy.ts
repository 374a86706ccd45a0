/**
 * The cache policy a recipe runs as: score → allocate → select (keep or merge) at prefill, then
 * the decode policy at every step. It is the only place where recipe parts touch the cache.
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { KvCache } from "../runtime/kv_cache.ts";
import {
  type AttentionNeeds,
  type CachePolicy,
  type PrefillInfo,
  type StepInfo,
  widestPrefillNeeds,
} from "../runtime/cache_policy.ts";
import { type Budget, budgetLabel, keptFraction } from "../prefix/budget.ts";
import type { DecisionSections, DecodeRun, RecipeParts } from "./recipe.ts";

/** What the last prefill decided, for reports and tests. */
export interface PrefillDecision {
  /** Prompt length N. */
  promptLength: number;
  /** Kept fraction the budget meant for this prompt. */
  fraction: number;
  /** Entries each layer kept. */
  kept: Int32Array;
  /** Name of the allocation part that decided the counts. */
  allocation: string;
  /**
   * What the allocation decided beyond the counts, keyed by section (PrefixKV: `prefixkv`
   * with p, iterations and convergence, or an offline config's source and ratios).
   */
  sections: DecisionSections;
}

/** A {@link CachePolicy} made of recipe parts and a budget. */
export class ComposedPolicy implements CachePolicy {
  readonly needs: AttentionNeeds;
  #run?: DecodeRun;
  #decision?: PrefillDecision;

  /** A policy that runs `parts` at `budget`. */
  constructor(readonly parts: RecipeParts, readonly budget: Budget) {
    this.needs = {
      prefill: widestPrefillNeeds([parts.scorer.needs, parts.allocation.needs ?? "none"]),
      step: parts.decode.needsStepAttention,
    };
  }

  /** The last prefill's allocation (undefined before the first prefill). */
  get decision(): PrefillDecision | undefined {
    return this.#decision;
  }

  afterPrefill(cache: KvCache, info: PrefillInfo): void {
    const { scorer, allocation, selection, decode } = this.parts;
    const n = info.promptLength;
    const layers = cache.numLayers;
    cache.lengths().forEach((len, l) => {
      if (len !== n) {
        throw new Error(`recipe: layer ${l} holds ${len} entries after a prefill of ${n}`);
      }
    });
    const scores = scorer.score(info, layers);
    const fraction = keptFraction(this.budget, n);
    const minKeep = Math.min(n, selection.minKeep(n));
    if (fraction * n < minKeep) {
      throw new InputError(
        `budget ${budgetLabel(this.budget)} keeps ${(fraction * n).toFixed(1)} entries per ` +
          `layer of a ${n}-entry prompt, fewer than the ${minKeep} that selection ` +
          `"${selection.name}" always keeps; raise the budget to at least ${
            Math.ceil((minKeep / n) * 1000) / 1000
          }`,
      );
    }
    const result = allocation.allocate({
      promptLength: n,
      numLayers: layers,
      fraction,
      scores,
      minKeep,
      protectedPositions: selection.protectedPositions(n, minKeep),
      prefill: info,
    });
    const kept = result.kept;
    if (kept.length !== layers) {
      throw new InputError(
        `allocation "${allocation.name}" returned ${kept.length} counts for a ${layers}-layer ` +
          `model; an allocation must return one count per layer (AllocationInput.numLayers)`,
      );
    }
    const entryScores: Float32Array[] | undefined = scores && !selection.merges ? [] : undefined;
    for (let l = 0; l < layers; l++) {
      const count = kept[l];
      if (!Number.isInteger(count) || count < minKeep || count > n) {
        throw new InputError(
          `allocation "${allocation.name}" keeps ${count} entries in layer ${l} of a ${n}-entry ` +
            `prompt, outside [${minKeep}, ${n}]: selection "${selection.name}" always keeps ` +
            `minKeep = ${minKeep}; an allocation must return whole counts in ` +
            `[AllocationInput.minKeep, promptLength] (floor each layer at minKeep)`,
        );
      }
      const plan = selection.select({ layer: l, promptLength: n, count, scores: scores?.[l] });
      if (plan.kind === "keep") {
        if (plan.indices.length !== count) {
          throw new Error(
            `selection ${selection.name}: layer ${l} kept ${plan.indices.length}, not ${count}`,
          );
        }
        if (count < n) cache.keep(l, plan.indices);
        if (entryScores && scores) entryScores.push(gather(scores[l], plan.indices));
      } else {
        if (plan.anchors.length !== count) {
          throw new Error(
            `selection ${selection.name}: layer ${l} has ${plan.anchors.length} anchors, ` +
              `not ${count}`,
          );
        }
        if (count < n) cache.merge(l, plan.anchors, plan.assignment);
      }
    }
    this.#decision = {
      promptLength: n,
      fraction,
      kept,
      allocation: allocation.name,
      sections: result.sections ?? {},
    };
    const evictRatios = result.evictRatios
      ? [...result.evictRatios]
      : Array.from(kept, (k) => (n - k) / n);
    this.#run = decode.start({ cache, promptLength: n, kept, evictRatios, entryScores });
  }

  afterStep(cache: KvCache, info: StepInfo): void {
    if (!this.#run) throw new Error("recipe: afterStep called before afterPrefill");
    this.#run.afterStep(cache, info);
  }
}

function gather(values: Float32Array, indices: Int32Array): Float32Array {
  const out = new Float32Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = values[indices[i]];
  return out;
}
