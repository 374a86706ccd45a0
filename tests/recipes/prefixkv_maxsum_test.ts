import { assert, assertEquals } from "@std/assert";
import { type ComposedPolicy, createRecipe } from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith, prng } from "./harness.ts";

Deno.test("prefixkv-maxsum: one global threshold on normalised importances", () => {
  const policy = createRecipe("prefixkv-maxsum").policy({ fraction: 2 / 3 }) as ComposedPolicy;
  // Normalised: layer 0 [.4, .3, .1, .1, .1, 0], layer 1 all 1/6. Target 8 = 2·2 protected +
  // 4 more: .3 (layer 0 pos 1), then three 1/6 of layer 1 → counts [3, 5].
  const cache = prefillWith(policy, [[4, 3, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1]]);
  assertEquals(Array.from(policy.decision!.kept), [3, 5]);
  assertEquals(positionsOf(cache), [[0, 1, 5], [0, 1, 2, 3, 5]]);
});

/** Σ_l retained normalised importance of the unprotected entries for counts `k`. */
function retained(imp: number[][], k: number[]): number {
  return imp.reduce((s, row, l) => {
    const total = row.reduce((a, b) => a + b, 0);
    const mid = row.slice(1, -1).map((x) => x / total).sort((a, b) => b - a);
    return s + mid.slice(0, k[l] - 2).reduce((a, b) => a + b, 0);
  }, 0);
}

Deno.test("prefixkv-maxsum: its counts maximise Σ_l retained importance (brute force)", () => {
  const rand = prng(42);
  for (let trial = 0; trial < 20; trial++) {
    const L = 3, N = 7;
    const imp = Array.from(
      { length: L },
      (_, l) => Array.from({ length: N }, () => rand() ** (1 + 3 * l)),
    );
    const fraction = 0.3 + 0.5 * rand();
    const policy = createRecipe("prefixkv-maxsum").policy({ fraction }) as ComposedPolicy;
    prefillWith(policy, imp);
    const got = Array.from(policy.decision!.kept);
    const total = got.reduce((a, b) => a + b, 0);
    assertEquals(total, Math.round(fraction * N * L));
    let best = -Infinity;
    for (let a = 2; a <= N; a++) {
      for (let b = 2; b <= N; b++) {
        const c = total - a - b;
        if (c >= 2 && c <= N) best = Math.max(best, retained(imp, [a, b, c]));
      }
    }
    assert(Math.abs(retained(imp, got) - best) < 1e-9, `trial ${trial}: ${got}`);
  }
});
