import { assert, assertEquals } from "@std/assert";
import {
  type ComposedPolicy,
  createRecipe,
  mergeIntoNearestAnchor,
  recompose,
} from "../../lib/recipes/mod.ts";
import { entryRows, simulate } from "./harness.ts";

const SHAPE = { numLayers: 4, promptLength: 48, seed: 9 };

Deno.test("prefixkv-merge: PrefixKV's kept set as anchors, the rest merged into them", () => {
  const merge = createRecipe("prefixkv-merge").policy({ fraction: 0.3 }) as ComposedPolicy;
  const keep = createRecipe("prefixkv").policy({ fraction: 0.3 }) as ComposedPolicy;
  const m = simulate(merge, SHAPE, 0);
  const k = simulate(keep, SHAPE, 0);
  assertEquals(m.afterPrefill.positions, k.afterPrefill.positions);
  // Independent check of each anchor's key: the mean over the positions whose nearest ranked
  // anchor (not the protected first/last; ties → earlier) it is.
  m.afterPrefill.positions.forEach((anchors, l) => {
    const ranked = anchors.slice(1, -1);
    const groups = new Map<number, number[]>(anchors.map((a) => [a, [a]]));
    for (let p = 0; p < SHAPE.promptLength; p++) {
      if (anchors.includes(p) || ranked.length === 0) continue;
      const best = ranked.reduce((b, a) => Math.abs(a - p) < Math.abs(b - p) ? a : b);
      groups.get(best)!.push(p);
    }
    anchors.forEach((a, i) => {
      const g = groups.get(a)!;
      const want = g.reduce((s, p) => s + entryRows(p, l).key[0], 0) / g.length;
      assert(Math.abs(m.afterPrefill.keys[l][2 * i] - want) < 1e-4, `layer ${l} anchor ${a}`);
    });
  });
});

Deno.test("prefixkv-merge is the one-line composition prefixkv + Elastic merging", () => {
  const composed = recompose(createRecipe("prefixkv"), { selection: mergeIntoNearestAnchor() });
  const a = simulate(composed.policy({ fraction: 0.4 }), SHAPE, 20);
  const b = simulate(createRecipe("prefixkv-merge").policy({ fraction: 0.4 }), SHAPE, 20);
  assertEquals(a.final, b.final);
});
