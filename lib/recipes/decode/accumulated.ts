/**
 * H2O decoding: every entry carries an accumulated attention score (its prefill score plus the
 * attention each decoded token paid it); when a layer exceeds its share of the tokens seen, the
 * lowest-scored evictable entry goes.
 *
 * - `global` (H2O as the paper's baseline code ran it, [EC-code] `H2OCache`): one score per
 *   position shared by all layers, each step's attention averaged over layers; every layer
 *   evicts the same position, the argmin over `[startSize, len − 1)` (sinks and the newest entry
 *   are kept).
 * - `layerwise` (original H2O): per-layer scores; the newest ⌊allowed/2⌋ entries (at least one)
 *   form the recent window and are kept, the argmin of the rest goes.
 *
 * @module
 */
import type { KvCache } from "../../runtime/kv_cache.ts";
import type { StepInfo } from "../../runtime/cache_policy.ts";
import { argMin } from "../ranking.ts";
import type { DecodePolicy } from "../recipe.ts";
import { allowedLength } from "./target.ts";

/** Half the allowed length, at least one: H2O's recent window (the other half is heavy hitters). */
export function recentHalf(allowed: number): number {
  return Math.max(1, Math.floor(allowed / 2));
}

function stepImportance(info: StepInfo, cache: KvCache): Float32Array[] {
  const imp = info.importance;
  if (!imp || imp.length !== cache.numLayers) {
    throw new Error(`decode h2o: step ${info.step} reported no per-layer attention`);
  }
  imp.forEach((v, l) => {
    if (v.length !== cache.length(l)) {
      throw new Error(
        `decode h2o: step ${info.step} layer ${l} attention has ${v.length} entries, cache ` +
          `holds ${cache.length(l)}`,
      );
    }
  });
  return imp;
}

function removeAt(scores: Float64Array, length: number, index: number): void {
  scores.copyWithin(index, index + 1, length);
}

function grow(scores: Float64Array<ArrayBuffer>, length: number): Float64Array<ArrayBuffer> {
  if (length <= scores.length) return scores;
  const next = new Float64Array(Math.max(length, scores.length * 2));
  next.set(scores);
  return next;
}

/** H2O with one layer-averaged score vector and the same positions in every layer. */
export function accumulatedGlobal(startSize = 1): DecodePolicy {
  return {
    name: `h2o-global(s=${startSize})`,
    needsStepAttention: true,
    needsEntryScores: true,
    needsSharedPositions: true,
    start({ cache, promptLength, kept, entryScores }) {
      if (!entryScores) throw new Error("decode h2o-global: no entry scores");
      const layers = cache.numLayers;
      for (let l = 1; l < layers; l++) {
        const a = cache.positions(0), b = cache.positions(l);
        if (a.length !== b.length || a.some((p, i) => p !== b[i])) {
          throw new Error(`decode h2o-global: layer ${l} holds other positions than layer 0`);
        }
      }
      let scores = Float64Array.from(entryScores[0]);
      return {
        afterStep(cache, info) {
          const imp = stepImportance(info, cache);
          const len = cache.length(0);
          scores = grow(scores, len);
          for (let i = 0; i < len; i++) {
            let s = 0;
            for (let l = 0; l < layers; l++) s += imp[l][i];
            scores[i] = (i < len - 1 ? scores[i] : 0) + s / layers;
          }
          let n = len;
          const allowed = allowedLength(kept[0], promptLength, info.tokensSeen);
          while (n > allowed) {
            const victim = argMin(scores, startSize, n - 1);
            if (victim < 0) break;
            for (let l = 0; l < layers; l++) cache.evict(l, victim);
            removeAt(scores, n, victim);
            n--;
          }
        },
      };
    },
  };
}

/** Original H2O: per-layer scores, heavy hitters plus a recent window of half the budget. */
export function accumulatedLayerwise(): DecodePolicy {
  return {
    name: "h2o-layerwise",
    needsStepAttention: true,
    needsEntryScores: true,
    needsSharedPositions: false,
    start({ promptLength, kept, entryScores }) {
      if (!entryScores) throw new Error("decode h2o-layerwise: no entry scores");
      const scores = entryScores.map((s) => Float64Array.from(s));
      return {
        afterStep(cache, info) {
          const imp = stepImportance(info, cache);
          for (let l = 0; l < cache.numLayers; l++) {
            let n = cache.length(l);
            const s = scores[l] = grow(scores[l], n);
            for (let i = 0; i < n; i++) s[i] = (i < n - 1 ? s[i] : 0) + imp[l][i];
            const allowed = allowedLength(kept[l], promptLength, info.tokensSeen);
            while (n > allowed) {
              const victim = argMin(s, 0, n - recentHalf(allowed));
              if (victim < 0) break;
              cache.evict(l, victim);
              removeAt(s, n, victim);
              n--;
            }
          }
        },
      };
    },
  };
}
