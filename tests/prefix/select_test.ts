import { assertEquals, assertThrows } from "@std/assert";
import { selectKept } from "../../lib/prefix/select.ts";
import { InputError } from "../../lib/errors.ts";
import { Prng } from "../../lib/random.ts";

Deno.test("selectKept: drops the lowest-scoring candidates, keeps sink and last", () => {
  // N = 6, startSize 1: candidates are positions 1..4; scores there 0.1, 0.9, 0.3, 0.2.
  // Evicting 2 drops positions 1 (0.1) and 4 (0.2); position 0 and 5 stay whatever their score.
  const scores = [0, 0.1, 0.9, 0.3, 0.2, 0];
  assertEquals([...selectKept(scores, 2, 1)], [0, 2, 3, 5]);
  assertEquals([...selectKept(scores, 0, 1)], [0, 1, 2, 3, 4, 5]);
  assertEquals([...selectKept(scores, 4, 1)], [0, 5]);
  // startSize 2 protects position 1 too: candidates 2..4, evict 1 drops position 4 (0.2).
  assertEquals([...selectKept(scores, 1, 2)], [0, 1, 2, 3, 5]);
  // startSize 0: candidates 0..4; evict 2 drops 0 (0) and 1 (0.1).
  assertEquals([...selectKept(scores, 2, 0)], [2, 3, 4, 5]);
});

Deno.test("selectKept: ties evict the higher position first", () => {
  const scores = [1, 5, 5, 5, 5, 1];
  assertEquals([...selectKept(scores, 1, 1)], [0, 1, 2, 3, 5]);
  assertEquals([...selectKept(scores, 3, 1)], [0, 1, 5]);
});

Deno.test("selectKept: out-of-range counts and tiny prompts are InputErrors", () => {
  assertThrows(() => selectKept([1, 2, 3], 2, 1), InputError); // only 1 candidate
  assertThrows(() => selectKept([1, 2, 3], -1, 1), InputError);
  assertThrows(() => selectKept([1, 2, 3], 0.5, 1), InputError);
  assertThrows(() => selectKept([1], 0, 1), InputError); // N must be ≥ startSize + 1
  assertThrows(() => selectKept([], 0, 0), InputError);
  assertEquals([...selectKept([1, 2], 0, 1)], [0, 1]);
});

Deno.test("selectKept agrees with a plain sort-based selection (seeded, with ties)", () => {
  const r = new Prng(5);
  for (let trial = 0; trial < 200; trial++) {
    const n = r.range(1, 40);
    const startSize = r.range(0, Math.min(3, n - 1));
    const scores = Array.from({ length: n }, () => r.range(0, trial % 2 ? 3 : 1000));
    const candidates = n - startSize - 1;
    const evict = r.range(0, candidates);
    // Rank candidates by (score descending, position ascending); keep the first ones.
    const ranked = Array.from({ length: candidates }, (_, i) => startSize + i)
      .sort((a, b) => scores[b] - scores[a] || a - b);
    const want = [
      ...Array.from({ length: startSize }, (_, i) => i),
      ...ranked.slice(0, candidates - evict).sort((a, b) => a - b),
      n - 1,
    ];
    assertEquals([...selectKept(scores, evict, startSize)], want);
  }
});
