/**
 * Every allocation honours the selection's minKeep when the selection protects more than
 * PrefixKV's `startSize + 1` (hand cases; the parts matrix runs every allocation against a
 * floored top-k too), and an allocation that breaks the contract gets an InputError that names
 * it, the layer, the count and the floor.
 */
import { assertEquals, assertThrows } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import {
  type Allocation,
  type ComposedPolicy,
  composeRecipe,
  createRecipe,
  fixedDistance,
  maxSumAllocation,
  offlineConfigAllocation,
  prefillImportance,
  prefixSelection,
  recompose,
  topKSelection,
} from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith, simulate } from "./harness.ts";

/** Sink 1 and the last 3 entries: at least 4 per layer. */
const sinkAndThreeRecent = topKSelection({
  name: "top-k(sink=1,recent=3)",
  sink: 1,
  recent: () => 3,
  minKeep: () => 4,
});

/** Sink 1 and the last entry protected, yet at least 4 per layer. */
const floorAboveProtected = topKSelection({
  name: "top-k(sink=1,last,min=4)",
  sink: 1,
  recent: () => 1,
  minKeep: () => 4,
});

function withAllocation(allocation: Allocation, selection = sinkAndThreeRecent) {
  return composeRecipe({
    scorer: prefillImportance(),
    allocation,
    selection,
    decode: fixedDistance(),
  });
}

const FALLING = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
const FLAT = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1];

Deno.test("offline config under a larger floor: lifted layers paid for by the others, total kept", () => {
  // N = 10, ρ = [0.8, 0.3, 0.4] (budget 0.5): the reference evicts 8 / 3 / 4 (layer 0 at its
  // own cap N − 2), so it keeps [2, 7, 6] = 15. The selection keeps 4: layer 0 is lifted by
  // 2, taken from the slack above 4 ([0, 3, 2]) in proportion: quotas 4, 4 + 3·0.6, 4 + 2·0.6
  // = [4, 5.8, 5.2] → [4, 6, 5], still 15. It used to fail with "layer 0 keeps 2 of 10".
  const policy = withAllocation(offlineConfigAllocation([0.8, 0.3, 0.4])).policy({
    fraction: 0.5,
  }) as ComposedPolicy;
  const cache = prefillWith(policy, [FALLING, FLAT, FALLING]);
  assertEquals(Array.from(policy.decision!.kept), [4, 6, 5]);
  assertEquals(positionsOf(cache)[0], [0, 7, 8, 9]);
  assertEquals(positionsOf(cache)[2], [0, 1, 7, 8, 9]);
  const section = policy.decision!.sections.prefixkv;
  assertEquals(section.kept, [4, 6, 5]);
  assertEquals(section.floorMoved, 2);
  assertEquals(section.configEvictRatios, [0.8, 0.3, 0.4]);
});

Deno.test("offline config under a larger floor: changed layers decode at their prefill share", () => {
  // ρ = [0.8, 0.2, 0.5]: the reference keeps [2, 8, 5] = 15. Lift layer 0 by 2; slack
  // [0, 4, 1] → quotas [4, 6.4, 4.6] → [4, 6, 5]. Layers 0 and 1 changed, so decoding keeps
  // their prefill share (ρ' = 0.6, 0.4); layer 2 kept the config's count and its ρ = 0.5.
  const recipe = withAllocation(offlineConfigAllocation([0.8, 0.2, 0.5]));
  const sim = simulate(recipe.policy({ fraction: 0.5 }), { numLayers: 3, promptLength: 10 }, 10);
  assertEquals(sim.lengthsAfterPrefill, [4, 6, 5]);
  // After 10 steps (T = 20): 20·(1 − ρ_l) = 8, 12, 10; fixed-distance may lag one entry at an
  // exact multiple (see the parts matrix). With the config's 0.8, layer 0 would hold 4.
  const held = sim.final.positions.map((p) => p.length);
  [8, 12, 10].forEach((want, l) => {
    if (held[l] !== want && held[l] !== want + 1) {
      throw new Error(`layer ${l} holds ${held[l]}, want ${want}`);
    }
  });
});

Deno.test("offline config below minKeep·L: every layer keeps the floor", () => {
  // N = 50, ρ = [0.94, 0.92] (its budget 0.07, run at 0.08): the reference keeps 3 + 4 = 7,
  // under 4·2, so both layers keep 4 (the least the selection allows).
  const policy = withAllocation(offlineConfigAllocation([0.94, 0.92])).policy({
    fraction: 0.08,
  }) as ComposedPolicy;
  const falling = Array.from({ length: 50 }, (_, i) => 50 - i);
  prefillWith(policy, [falling, falling.map(() => 1)]);
  assertEquals(Array.from(policy.decision!.kept), [4, 4]);
  assertEquals(policy.decision!.sections.prefixkv.floorMoved, 1);
});

Deno.test("prefixkv with an offline config keeps the reference's counts (its floor is startSize + 1)", () => {
  // Layer 0 is at the reference's own cap: 2 kept, exactly startSize + 1. Nothing moves.
  const policy = createRecipe("prefixkv", { conf: [0.8, 0.3, 0.4] }).policy({
    fraction: 0.5,
  }) as ComposedPolicy;
  prefillWith(policy, [FALLING, FLAT, FALLING]);
  assertEquals(Array.from(policy.decision!.kept), [2, 7, 6]);
  assertEquals(policy.decision!.sections.prefixkv.floorMoved, undefined);
});

Deno.test("prefixkv's offline config recomposed with a larger startSize: every layer at its floor", () => {
  // The config's counts use startSize 1 ([2, 7, 6] = 15); prefix-top(s=4) keeps 5 per layer.
  // Lifting layer 0 by 3 uses up all the slack above 5 ([0, 2, 1]): [5, 5, 5], still 15.
  const base = createRecipe("prefixkv", { conf: [0.8, 0.3, 0.4] });
  const policy = recompose(base, { selection: prefixSelection(4) }).policy({
    fraction: 0.5,
  }) as ComposedPolicy;
  const cache = prefillWith(policy, [FALLING, FLAT, FALLING]);
  assertEquals(Array.from(policy.decision!.kept), [5, 5, 5]);
  assertEquals(positionsOf(cache)[0], [0, 1, 2, 3, 9]);
});

Deno.test("max-sum under a floor above what the selection protects: exact total, no layer over N", () => {
  // N = 10, budget 0.85: 17 of 20. Normalised, layer 0's unprotected entries 1..8 are
  // 90/550 = .164, .145, .127, .109, .091, …; layer 1's are all 0.1. The selection protects 2
  // per layer (sink, last) but keeps at least 4, so each layer's first two ranked entries fill
  // its floor for free. The 17 − 8 = 9 extra go by rank: layer 0's .127 and .109 (2), then
  // layer 1's eight 0.1s (2 free, 6 paid), then layer 0's .091 (1): [4 + 3, 4 + 6]. It used to
  // size its ranking for minKeep protected entries and fail ("layer 0 keeps … of 10").
  const policy = withAllocation(maxSumAllocation(), floorAboveProtected).policy({
    fraction: 0.85,
  }) as ComposedPolicy;
  prefillWith(policy, [[100, 90, 80, 70, 60, 50, 40, 30, 20, 10], FLAT]);
  assertEquals(Array.from(policy.decision!.kept), [7, 10]);
});

Deno.test("max-sum with a selection that protects exactly minKeep is unchanged", () => {
  // Protected = minKeep = 4 (0, 7, 8, 9): counts start at 4 and the 16 − 8 = 8 extra go by
  // rank: layer 0's .164, .145, .127, .109 beat layer 1's 0.1s, then 4 of those: [8, 8].
  const policy = withAllocation(maxSumAllocation()).policy({ fraction: 0.8 }) as ComposedPolicy;
  prefillWith(policy, [[100, 90, 80, 70, 60, 50, 40, 30, 20, 10], FLAT]);
  assertEquals(Array.from(policy.decision!.kept), [8, 8]);
});

Deno.test("an allocation breaking the minKeep contract is an InputError naming it, the layer, the count and minKeep", () => {
  const careless: Allocation = {
    name: "my-allocation",
    uniform: false,
    needsScores: false,
    allocate: ({ numLayers }) => ({ kept: new Int32Array(numLayers).fill(2) }),
  };
  const policy = withAllocation(careless).policy({ fraction: 0.5 });
  const e = assertThrows(() => prefillWith(policy, [FALLING, FLAT]), InputError);
  assertEquals(
    e.message,
    'allocation "my-allocation" keeps 2 entries in layer 0 of a 10-entry prompt, outside ' +
      '[4, 10]: selection "top-k(sink=1,recent=3)" always keeps minKeep = 4; an allocation ' +
      "must return whole counts in [AllocationInput.minKeep, promptLength] (floor each layer " +
      "at minKeep)",
  );
  const short: Allocation = { ...careless, allocate: () => ({ kept: new Int32Array(1).fill(5) }) };
  const e2 = assertThrows(
    () => prefillWith(withAllocation(short).policy({ fraction: 0.5 }), [FALLING, FLAT]),
    InputError,
  );
  assertEquals(
    e2.message,
    'allocation "my-allocation" returned 1 counts for a 2-layer model; an allocation must ' +
      "return one count per layer (AllocationInput.numLayers)",
  );
});
