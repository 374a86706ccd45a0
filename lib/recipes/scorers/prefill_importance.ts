/**
 * PrefixKV / Elastic Cache importance: per layer, the head-averaged prefill attention summed
 * over all prompt queries (paper.md §1.2). The runtime computes it; this scorer passes it on.
 *
 * @module
 */
import type { PrefillInfo } from "../../runtime/cache_policy.ts";
import type { LayerScores, Scorer } from "../recipe.ts";

/** Per-layer importance vectors, as reported by the runtime. */
export function prefillImportance(): Scorer {
  return {
    name: "prefill-importance",
    needs: "importance",
    layerShared: false,
    score: (info, numLayers) => requireImportance(info, numLayers, "prefill-importance"),
  };
}

/** The prefill importance vectors, checked for count and length (a runtime contract). */
export function requireImportance(
  info: PrefillInfo,
  numLayers: number,
  who: string,
): LayerScores {
  const imp = info.importance;
  if (!imp || imp.length !== numLayers) {
    throw new Error(
      `scorer ${who}: the runtime reported ${imp?.length ?? "no"} importance vectors for ` +
        `${numLayers} layers`,
    );
  }
  imp.forEach((v, l) => {
    if (v.length !== info.promptLength) {
      throw new Error(
        `scorer ${who}: layer ${l} importance has ${v.length} entries, prompt has ` +
          `${info.promptLength}`,
      );
    }
  });
  return imp;
}
