import { assert, assertEquals, assertThrows } from "@std/assert";
import { FixedDistanceEviction, fixedIndex } from "../../lib/prefix/fixed_distance.ts";
import { evictCountsFromRatios } from "../../lib/prefix/config.ts";
import { selectKept } from "../../lib/prefix/select.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";
import { InputError } from "../../lib/errors.ts";
import { Prng } from "../../lib/random.ts";

/** A cache of 1-float rows whose key is the token position, filled with a prompt of length n. */
function promptCache(layers: number, n: number): KvCache {
  const cache = new KvCache({ numLayers: layers, numKvHeads: 1, headDim: 1 });
  const pos = Array.from({ length: n }, (_, i) => i);
  for (let l = 0; l < layers; l++) {
    cache.append(l, Float32Array.from(pos), Float32Array.from(pos), pos);
  }
  return cache;
}

function appendToken(cache: KvCache, position: number): void {
  for (let l = 0; l < cache.numLayers; l++) {
    cache.append(l, Float32Array.of(position), Float32Array.of(position), [position]);
  }
}

Deno.test("fixedIndex: K + distance, K // 2 fallback, absolute when positive", () => {
  assertEquals(fixedIndex(100), 75);
  assertEquals(fixedIndex(26), 1);
  assertEquals(fixedIndex(25), 12); // 25 − 25 = 0 < 1 → 25 // 2
  assertEquals(fixedIndex(5), 2);
  assertEquals(fixedIndex(100, -10), 90);
  assertEquals(fixedIndex(100, 7), 7);
  assertEquals(fixedIndex(100, 0), 100); // reference: distance 0 is K + 0
});

Deno.test("FixedDistanceEviction: hand trace of a FIFO window at one fixed index", () => {
  // N = 10, ρ = 0.5 → evict round(5) = 5. Scores = position, so candidates 1..5 go:
  // kept positions [0, 6, 7, 8, 9], K = 5, index = 5 // 2 = 2 (5 − 25 < 1).
  const n = 10;
  const cache = promptCache(1, n);
  const [evict] = evictCountsFromRatios([0.5], n);
  assertEquals(evict, 5);
  cache.keep(0, selectKept(Array.from({ length: n }, (_, i) => i), evict, 1));
  const policy = new FixedDistanceEviction([0.5], [n - evict]);
  assertEquals(policy.indices, [2]);
  const trace: number[][] = [];
  for (let t = 1; t <= 6; t++) {
    appendToken(cache, n + t - 1);
    policy.step(cache, n + t);
    trace.push([...cache.positions(0)]);
  }
  // t=1: T=11, len 6, trunc(6 − 5.5) = 0 → keep. t=2: T=12, len 7, 7 − 6 = 1 → drop index 2
  // (position 7). t=4 drops position 8, t=6 drops position 9: prompt tail first, FIFO.
  assertEquals(trace, [
    [0, 6, 7, 8, 9, 10],
    [0, 6, 8, 9, 10, 11],
    [0, 6, 8, 9, 10, 11, 12],
    [0, 6, 9, 10, 11, 12, 13],
    [0, 6, 9, 10, 11, 12, 13, 14],
    [0, 6, 10, 11, 12, 13, 14, 15],
  ]);
  assertEquals(policy.evicted, [3]);
});

Deno.test("FixedDistanceEviction: sizes track (1 − ρ_l)·tokensSeen (seeded)", () => {
  const r = new Prng(99);
  for (let trial = 0; trial < 20; trial++) {
    const layers = r.range(1, 5);
    const n = r.range(30, 200);
    const ratios = Array.from({ length: layers }, () => Math.round(r.next() * 0.9 * 1e4) / 1e4);
    const evict = evictCountsFromRatios(ratios, n);
    const cache = promptCache(layers, n);
    for (let l = 0; l < layers; l++) {
      cache.keep(l, selectKept(Array.from({ length: n }, () => r.next()), evict[l], 1));
    }
    const policy = new FixedDistanceEviction(ratios, evict.map((e) => n - e));
    // Independent model of the reference: one deletion whenever the layer's length is at least
    // one entry above (1 − ρ)·T, numpy-style truncation toward zero.
    const model = evict.map((e) => n - e);
    for (let t = 1; t <= 300; t++) {
      const seen = n + t;
      appendToken(cache, seen - 1);
      const before = cache.lengths();
      policy.step(cache, seen);
      for (let l = 0; l < layers; l++) {
        model[l] += 1;
        if (Math.trunc(model[l] - seen * (1 - ratios[l])) > 0) model[l] -= 1;
        const len = cache.length(l);
        assertEquals(len, model[l]);
        assert(before[l] - len <= 1, "at most one eviction per layer per step");
        // round(ρN) at prefill starts within ±0.5 of the share; afterwards it stays in
        // [share − 0.5, share + 1).
        const gap = len - seen * (1 - ratios[l]);
        assert(gap < 1 && gap >= -0.5 - 1e-9, `layer ${l} step ${t}: gap ${gap}`);
        // The newest token is never evicted.
        assertEquals(cache.positions(l)[len - 1], seen - 1);
      }
    }
  }
});

Deno.test("FixedDistanceEviction: online ratios evict/N keep the size at ceil((1 − ρ)T)", () => {
  // With ρ = e/N exactly the gap starts at 0, so len = ceil((1 − ρ)·T) (checked where the
  // product is far from an integer boundary).
  const n = 40;
  const e = 13;
  const cache = promptCache(1, n);
  cache.keep(0, selectKept(Array.from({ length: n }, (_, i) => n - i), e, 1));
  const policy = new FixedDistanceEviction([e / n], [n - e]);
  assertEquals(policy.indices, [2]); // K = 27 → 27 − 25 = 2
  for (let t = 1; t <= 80; t++) {
    appendToken(cache, n + t - 1);
    policy.step(cache, n + t);
    const share = (n + t) * (1 - e / n);
    if (Math.abs(share - Math.round(share)) > 1e-9) assertEquals(cache.length(0), Math.ceil(share));
  }
  // Positions 0 and 1 (the fixed block before index 2) survive the whole run.
  assertEquals([...cache.positions(0).subarray(0, 2)], [0, 1]);
});

Deno.test("FixedDistanceEviction: bad setup is an InputError", () => {
  assertThrows(() => new FixedDistanceEviction([0.5], [3, 4]), InputError);
  assertThrows(() => new FixedDistanceEviction([1.5], [3]), InputError);
  assertThrows(() => new FixedDistanceEviction([0.5], [3.5]), InputError);
  const policy = new FixedDistanceEviction([0.5, 0.5], [3, 3]);
  assertThrows(() => policy.step(promptCache(1, 4), 5), InputError);
});
