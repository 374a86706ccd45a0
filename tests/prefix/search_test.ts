import { assert, assertEquals, assertThrows } from "@std/assert";
import { prefixSearch, rescaleCounts } from "../../lib/prefix/search.ts";
import { selectKept } from "../../lib/prefix/select.ts";
import { InputError } from "../../lib/errors.ts";
import { Prng } from "../../lib/random.ts";
import { randomImportance } from "../_random_importance.ts";

// Hand case: 2 layers × 8 positions, dyadic scores so every cumulative sum is exact.
// Layer 0 priorities 1/2, 1/4, …: cum = [.5, .75, .875, .9375, .96875, .984375, .9921875, 1].
// Layer 1 uniform: cum = [.125, .25, …, 1].
// With startSize 1, protect = 2 and a layer evicts max(0, 8 − (idx + 1) − 2) = max(0, 5 − idx)
// where idx = first index with cum ≥ p.
const L0 = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125];
const L1 = [1, 1, 1, 1, 1, 1, 1, 1];

Deno.test("prefixSearch: hand case, default tolerance stops at the first midpoint", () => {
  // budget 0.75 → ρ = 0.25, target = 16·0.25 = 4. p = 0.5: idx = (0, 3) → evict (5, 2) = 7,
  // |7 − 4| = 3 < 5 → stop. Rescale: 5·4/7 = 2.857 → 2, 2·4/7 = 1.143 → 1.
  const r = prefixSearch([L0, L1], { budget: 0.75 });
  assertEquals(r.p, 0.5);
  assertEquals(r.iterations, 1);
  assertEquals(r.converged, true);
  assertEquals(r.target, 4);
  assertEquals(r.evictBeforeRescale, [5, 2]);
  assertEquals(r.evict, [2, 1]);
  assertEquals(r.keep, [6, 7]);
  assertEquals(r.evictRatios, [2 / 8, 1 / 8]);
  // Largest remainder hands the one unit lost to flooring to layer 0 (.857 > .143).
  assertEquals(prefixSearch([L0, L1], { budget: 0.75, rescale: "largest-remainder" }).evict, [
    3,
    1,
  ]);
});

Deno.test("prefixSearch: minKeep floors every layer; the total still meets the target", () => {
  // budget 0.5 → target 8, tolerance 0.5. Without a floor: p = .5 → (5, 2) = 7 < 8 → p = .25
  // → idx (0, 1) → (5, 4) = 9 > 8 → p = .375 → idx (0, 2) → (5, 3) = 8: keep [3, 5].
  const free = prefixSearch([L0, L1], { budget: 0.5, tolerance: 0.5 });
  assertEquals([free.p, free.keep], [0.375, [3, 5]]);
  // minKeep 4 caps each layer's evictions at 8 − 4: p = .5 → (4, 2) = 6 → p = .25 → (4, 4) = 8.
  const floored = prefixSearch([L0, L1], { budget: 0.5, tolerance: 0.5, minKeep: 4 });
  assertEquals([floored.p, floored.iterations, floored.converged], [0.25, 2, true]);
  assertEquals([floored.evictBeforeRescale, floored.keep], [[4, 4], [4, 4]]);
  // At or below startSize + 1 the floor changes nothing.
  for (const minKeep of [0, 1, 2]) {
    assertEquals(prefixSearch([L0, L1], { budget: 0.5, tolerance: 0.5, minKeep }), free);
  }
  // A budget the floor cannot meet, and a bad floor, are InputErrors naming the fix.
  assertThrows(
    () => prefixSearch([L0, L1], { budget: 0.4, minKeep: 4 }),
    InputError,
    "raise the budget to at least 0.5000 or lower minKeep",
  );
  assertThrows(() => prefixSearch([L0, L1], { budget: 0.5, minKeep: 9 }), InputError, "minKeep");
});

Deno.test("prefixSearch: hand case, tight tolerance bisects to p = 0.75", () => {
  // tolerance 0.5 needs exactly 4. p = .5 → 7 > 4 → lo = .5; p = .75 → idx (1, 5) → (4, 0) = 4.
  const r = prefixSearch([L0, L1], { budget: 0.75, tolerance: 0.5 });
  assertEquals([r.p, r.iterations, r.converged], [0.75, 2, true]);
  assertEquals(r.evict, [4, 0]);
  assertEquals(r.keep, [4, 8]);
});

Deno.test("prefixSearch: a jump over the tolerance window ends without converging", () => {
  // budget 0.625 → target 6. E(p) = 7 at p = .5 and 5 for p in (.5, .625]: 6 is never hit, so
  // the reference would loop forever. Bisection closes in on .5 from above until the float
  // interval cannot be split; the best p (latest among equal errors) gives E = (4, 1).
  const r = prefixSearch([L0, L1], { budget: 0.625, tolerance: 0.5 });
  assertEquals(r.converged, false);
  assert(r.p > 0.5 && r.p - 0.5 < 1e-12, `p = ${r.p}`);
  assert(r.iterations > 40 && r.iterations < 100, `iterations ${r.iterations}`);
  assertEquals(r.evictBeforeRescale, [4, 1]);
  assertEquals(r.evict, [4, 1]); // 4·6/5 = 4.8 → 4, 1·6/5 = 1.2 → 1
  const capped = prefixSearch([L0, L1], { budget: 0.625, tolerance: 0.5, maxIterations: 3 });
  assertEquals([capped.iterations, capped.converged], [3, false]);
  assertEquals(capped.p, 0.625); // evaluated .5 (E 7), .75 (E 4), .625 (E 5): latest of err 1
});

Deno.test("prefixSearch: budget 1 evicts nothing", () => {
  const r = prefixSearch([L0, L1], { budget: 1 });
  assertEquals(r.evict, [0, 0]);
  assertEquals(r.keep, [8, 8]);
  assertEquals(r.converged, true);
});

Deno.test("prefixSearch: constant scores and heavy ties terminate", () => {
  // 32 identical layers: E moves in steps of 32, so |E − target| < 5 is usually unreachable.
  const flat = Array.from({ length: 32 }, () => new Array(50).fill(1));
  const r = prefixSearch(flat, { budget: 0.3 });
  assert(r.iterations <= 100);
  assert(r.p >= 0 && r.p <= 1);
  const total = r.evict.reduce((a, b) => a + b, 0);
  assert(total <= r.target && total > r.target - 32, `total ${total}, target ${r.target}`);
  assert(r.evict.every((e) => e === r.evict[0]), "identical layers get identical counts");
});

Deno.test("prefixSearch: bad input is an InputError", () => {
  const bad: [unknown[][], number][] = [
    [[[1, NaN, 1]], 0.5],
    [[[1, -1, 1]], 0.5],
    [[[1, 1, 1], [1, 1]], 0.5],
    [[[]], 0.5],
    [[], 0.5],
    [[[0, 0, 0]], 0.5],
    [[[1, 1, 1]], 0],
    [[[1, 1, 1]], 1.5],
    [[[1]], 1], // N = 1 < startSize + 1
    [[[1, 1, 1, 1]], 0.1], // 2 protected of 4 cannot reach 10%
  ];
  for (const [scores, budget] of bad) {
    assertThrows(() => prefixSearch(scores as number[][], { budget }), InputError);
  }
  assertThrows(() => prefixSearch([L0], { budget: 0.5, tolerance: 0 }), InputError);
  assertThrows(() => prefixSearch([L0], { budget: 0.5, maxIterations: 0 }), InputError);
});

Deno.test("rescaleCounts: floor after scaling, largest remainder hits round(target)", () => {
  assertEquals(rescaleCounts([3, 3, 3], 10, 100), [3, 3, 3]); // 3.33 each → 3
  assertEquals(rescaleCounts([3, 3, 3], 10, 100, "largest-remainder"), [4, 3, 3]);
  assertEquals(rescaleCounts([0, 0], 3, 10), [0, 0]);
  assertEquals(rescaleCounts([10, 1], 22, 15), [15, 2]); // capped at 15
});

Deno.test("prefixSearch properties over seeded random inputs", () => {
  const r = new Prng(20241204);
  for (let trial = 0; trial < 150; trial++) {
    const layers = r.range(1, 8);
    const n = r.range(6, 120);
    const startSize = r.range(0, 3);
    const ties = trial % 3 === 0;
    const imp = randomImportance(r, layers, n, ties);
    const minBudget = (startSize + 2) / n;
    const budget = minBudget + r.next() * (1 - minBudget);
    const tolerance = [5, 1, 0.5, 20][trial % 4];
    const res = prefixSearch(imp, { budget, startSize, tolerance });
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const before = sum(res.evictBeforeRescale);
    assert(res.p >= 0 && res.p <= 1, `p ${res.p}`);
    assert(res.iterations >= 1 && res.iterations <= 100);
    if (res.converged) assert(Math.abs(before - res.target) < tolerance);
    const after = sum(res.evict);
    if (before > 0) {
      assert(after <= res.target + 1e-9, `after ${after} > target ${res.target}`);
      if (res.converged) assert(after > res.target - layers, `after ${after}, ${res.target}`);
    }
    const exact = prefixSearch(imp, { budget, startSize, tolerance, rescale: "largest-remainder" });
    if (before > 0) assertEquals(sum(exact.evict), Math.round(res.target));
    for (let l = 0; l < layers; l++) {
      assertEquals(res.keep[l] + res.evict[l], n);
      const kept = selectKept(imp[l], res.evict[l], startSize);
      assertEquals(kept.length, res.keep[l]);
      for (let i = 0; i < startSize; i++) assertEquals(kept[i], i);
      assertEquals(kept[kept.length - 1], n - 1);
    }
  }
});

Deno.test("prefixSearch: per-layer kept counts are monotone in the budget", () => {
  const r = new Prng(7);
  const budgets = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
  for (let trial = 0; trial < 20; trial++) {
    const ties = trial % 2 === 0;
    const layers = r.range(4, 8);
    const n = r.range(200, 400);
    const imp = randomImportance(r, layers, n, ties);
    const results = budgets.map((budget) => prefixSearch(imp, { budget }));
    for (let i = 1; i < results.length; i++) {
      for (let l = 0; l < layers; l++) {
        // Before rescaling this holds by construction (p grows with the budget); after it,
        // the ≤ 5-token rescale is far smaller than one budget step at these sizes.
        assert(results[i].evictBeforeRescale[l] <= results[i - 1].evictBeforeRescale[l]);
        assert(
          results[i].keep[l] >= results[i - 1].keep[l],
          `layer ${l}: keep ${results[i - 1].keep[l]} at ${budgets[i - 1]} > ` +
            `${results[i].keep[l]} at ${budgets[i]}`,
        );
      }
      assert(results[i].p >= results[i - 1].p);
    }
  }
});
