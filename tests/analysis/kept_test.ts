import { assertEquals, assertThrows } from "@std/assert";
import { keptByPrefixKV } from "../../lib/analysis/kept.ts";
import { InputError } from "../../lib/errors.ts";

// Hand case of tests/prefix/search_test: budget 0.75 → evict (2, 1); image span [2, 6).
const L0 = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125];
const L1 = [1, 1, 1, 1, 1, 1, 1, 1];

Deno.test("keptByPrefixKV: search summary and kept entries per modality by hand", () => {
  const k = keptByPrefixKV([L0, L1], { budget: 0.75, imageSpan: { start: 2, end: 6 } });
  assertEquals(k.search.evict, [2, 1]);
  assertEquals(k.search.keep, [6, 7]);
  assertEquals(k.search.p, 0.5);
  assertEquals([k.search.budget, k.search.startSize, k.search.converged], [0.75, 1, true]);
  const [l0, l1] = k.layers;
  // Layer 0 keeps [0, 1, 2, 3, 4, 7]: image 2, 3, 4 (mass 3.5/16); text 0, 1, 7.
  assertEquals(l0.count, 6);
  assertEquals(l0.ratio, 6 / 8);
  assertEquals(l0.mass, 15.625 / 16);
  assertEquals(l0.image, { count: 3, shareOfKept: 0.5, retained: 0.75, mass: 3.5 / 16 });
  assertEquals(l0.text, { count: 3, shareOfKept: 0.5, retained: 0.75, mass: 12.125 / 16 });
  // Layer 1 drops position 6 (ties: highest candidate) → all 4 image tokens kept.
  assertEquals(l1.image, { count: 4, shareOfKept: 4 / 7, retained: 1, mass: 0.5 });
  assertEquals(l1.text!.count, 3);
  assertEquals(JSON.parse(JSON.stringify(k)), k);
});

Deno.test("keptByPrefixKV: no span, no modality split; bad input named", () => {
  const k = keptByPrefixKV([L0], { budget: 0.5, startSize: 2 });
  assertEquals(k.layers[0].image, undefined);
  assertEquals(k.layers[0].count, k.search.keep[0]);
  assertEquals(k.search.startSize, 2);
  assertThrows(
    () => keptByPrefixKV([L0], { budget: 0.5, imageSpan: { start: 3, end: 9 } }),
    InputError,
    "image span [3, 9)",
  );
  assertThrows(() => keptByPrefixKV([L0], { budget: 0 }), InputError);
  assertThrows(() => keptByPrefixKV([], { budget: 0.5 }), InputError);
});
