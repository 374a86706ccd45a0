/**
 * Elastic Cache's selection (paper.md §2, [EC §3.2]): the layer keeps `count` anchors — the
 * first `startSize` tokens, the last prompt token and the highest-importance entries between
 * them — and every other entry is merged into its nearest anchor by position: the anchor's key
 * and value become the mean over itself and the entries merged into it.
 *
 * As in the reference code, only the ranked anchors absorb entries; the protected first and
 * last tokens stay unmixed. A tie in distance goes to the earlier anchor (the code's argmin).
 * If a layer keeps no ranked anchor, the other entries are dropped.
 *
 * @module
 */
import { selectKept } from "../../prefix/select.ts";
import type { Selection } from "../recipe.ts";
import { sinkAndLast } from "./prefix.ts";

/** Nearest-anchor assignment for merging; `anchors` sorted, `absorbing` ⊆ anchors. */
export function nearestAnchorAssignment(
  length: number,
  anchors: Int32Array,
  absorbing: ArrayLike<number>,
): Int32Array {
  const slotOf = new Map<number, number>();
  anchors.forEach((a, s) => slotOf.set(a, s));
  const assignment = new Int32Array(length).fill(-1);
  for (const a of anchors) assignment[a] = slotOf.get(a)!;
  let j = 0; // first absorbing anchor at or after i
  for (let i = 0; i < length; i++) {
    if (slotOf.has(i)) continue;
    while (j < absorbing.length && absorbing[j] < i) j++;
    const after = j < absorbing.length ? absorbing[j] : -1;
    const before = j > 0 ? absorbing[j - 1] : -1;
    let pick = -1;
    if (before >= 0 && after >= 0) pick = i - before <= after - i ? before : after;
    else pick = before >= 0 ? before : after;
    if (pick >= 0) assignment[i] = slotOf.get(pick)!;
  }
  return assignment;
}

/** Merge every non-anchor entry into its nearest ranked anchor. */
export function mergeIntoNearestAnchor(startSize = 1): Selection {
  return {
    name: `merge-nearest(s=${startSize})`,
    merges: true,
    needsScores: true,
    minKeep: (n) => Math.min(n, startSize + 1),
    protectedPositions: (n) => sinkAndLast(n, startSize),
    select({ promptLength: n, count, scores }) {
      if (!scores) throw new Error("selection merge-nearest: no scores");
      // Anchors are exactly PrefixKV's kept set; only the ranked ones (between the protected
      // first `startSize` and last positions) absorb the rest.
      const anchors = selectKept(scores, n - count, startSize);
      const ranked = anchors.subarray(Math.min(startSize, count), anchors.length - 1);
      return { kind: "merge", anchors, assignment: nearestAnchorAssignment(n, anchors, ranked) };
    },
  };
}
