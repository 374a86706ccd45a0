import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { prefixKvPolicy } from "./prefixkv_oracle.ts";
import { parseReferenceConfig } from "../../lib/prefix/config.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";
import { InputError } from "../../lib/errors.ts";
import { Prng } from "../../lib/random.ts";
import { randomImportance } from "../_random_importance.ts";

function promptCache(layers: number, n: number): KvCache {
  const cache = new KvCache({ numLayers: layers, numKvHeads: 1, headDim: 2 });
  const pos = Array.from({ length: n }, (_, i) => i);
  const rows = Float32Array.from({ length: 2 * n }, (_, i) => i >> 1);
  for (let l = 0; l < layers; l++) cache.append(l, rows, rows, pos);
  return cache;
}

function step(cache: KvCache, position: number): void {
  for (let l = 0; l < cache.numLayers; l++) {
    cache.append(l, Float32Array.of(position, position), Float32Array.of(position, position), [
      position,
    ]);
  }
}

const L0 = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125];
const L1 = [1, 1, 1, 1, 1, 1, 1, 1];

Deno.test("prefixKvPolicy online: search on the prompt, keep the top entries, then decode", () => {
  // Same hand case as search_test: budget 0.75 → evict (2, 1). Layer 0 drops candidates 6 and 5
  // (0.125 ties → higher position first, then 0.25); layer 1 (all ties) drops position 6.
  const policy = prefixKvPolicy({ budget: 0.75, mode: { kind: "online" } });
  assertEquals(policy.needs, { prefill: "importance", step: false });
  const cache = promptCache(2, 8);
  policy.afterPrefill(cache, {
    promptLength: 8,
    importance: [Float32Array.from(L0), Float32Array.from(L1)],
  });
  assertEquals([...cache.positions(0)], [0, 1, 2, 3, 4, 7]);
  assertEquals([...cache.positions(1)], [0, 1, 2, 3, 4, 5, 7]);
  const d = policy.decision!;
  assertEquals([d.mode, d.p, d.iterations, d.converged], ["online", 0.5, 1, true]);
  assertEquals(d.evict, [2, 1]);
  assertEquals(d.kept, [6, 7]);
  assertEquals(d.evictRatios, [0.25, 0.125]);
  assertEquals(d.decodeIndices, [3, 3]); // K // 2 since K − 25 < 1
  // Step 1: T = 9. Layer 0: len 7, 7 − 9·0.75 = 0.25 → keep. Step 2: T = 10, len 8 − 7.5 → 0.
  // Step 4: T = 12, len 10 − 9 = 1 → evict cache index 3 (position 3).
  for (let t = 1; t <= 4; t++) {
    step(cache, 7 + t);
    policy.afterStep(cache, { step: t, tokensSeen: 8 + t });
  }
  assertEquals([...cache.positions(0)], [0, 1, 2, 4, 7, 8, 9, 10, 11]);
  assertEquals(policy.decodeEvicted, [1, 0]);
});

Deno.test("prefixKvPolicy offline: the shipped 7B 50% config on a 626-token prompt", async () => {
  const text = await Deno.readTextFile(
    new URL("../fixtures/reference_confs/prefixkv_llava-v1.5-7b_0.5.json", import.meta.url),
  );
  const ratios = parseReferenceConfig(text, "7b_0.5", 32);
  const policy = prefixKvPolicy({ budget: 0.5, mode: { kind: "offline", evictRatios: ratios } });
  const n = 626;
  const cache = promptCache(32, n);
  const importance = randomImportance(new Prng(3), 32, n).map((v) => Float32Array.from(v));
  policy.afterPrefill(cache, { promptLength: n, importance });
  // Same independently computed counts as config_test (CPython round(r·626)).
  // deno-fmt-ignore
  const evict = [
    72, 150, 216, 360, 356, 439, 306, 280, 284, 236, 214, 184, 268, 294, 310, 277,
    327, 333, 354, 398, 315, 479, 403, 423, 419, 381, 424, 403, 301, 376, 242, 175,
  ];
  assertEquals(cache.lengths(), evict.map((e) => n - e));
  assertEquals(policy.decision!.p, null);
  assertEquals(policy.decision!.decodeIndices[0], 554 - 25);
  for (let l = 0; l < 32; l++) {
    const pos = cache.positions(l);
    assertEquals([pos[0], pos[pos.length - 1]], [0, n - 1]);
  }
  for (let t = 1; t <= 50; t++) {
    step(cache, n - 1 + t);
    policy.afterStep(cache, { step: t, tokensSeen: n + t });
  }
  cache.lengths().forEach((len, l) => {
    const gap = len - (n + 50) * (1 - ratios[l]);
    assert(gap < 1 && gap >= -0.5, `layer ${l} gap ${gap}`);
  });
});

Deno.test("prefixKvPolicy: mismatched configs and inputs are InputErrors", () => {
  const twoLayers = { kind: "offline" as const, evictRatios: [0.5, 0.5] };
  // A 20%-budget run given the config that evicts 20% (trap 1).
  assertThrows(
    () => prefixKvPolicy({ budget: 0.2, mode: { kind: "offline", evictRatios: [0.2, 0.2] } }),
    InputError,
  );
  assertThrows(() => prefixKvPolicy({ budget: 0, mode: { kind: "online" } }), InputError);
  const policy = prefixKvPolicy({ budget: 0.5, mode: twoLayers });
  const imp = (layers: number, n: number) =>
    Array.from({ length: layers }, () => new Float32Array(n).fill(1));
  assertMatch(
    assertThrows(
      () => policy.afterPrefill(promptCache(3, 8), { promptLength: 8, importance: imp(3, 8) }),
      Error,
    ).message,
    /2 per-layer ratios but the model has 3 layers/,
  );
  assertThrows(() => policy.afterPrefill(promptCache(2, 8), { promptLength: 8 }), InputError);
  assertThrows(
    () => policy.afterPrefill(promptCache(2, 8), { promptLength: 8, importance: imp(2, 7) }),
    InputError,
  );
  assertThrows(
    () => policy.afterPrefill(promptCache(2, 1), { promptLength: 1, importance: imp(2, 1) }),
    InputError,
  );
});
