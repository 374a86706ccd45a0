import { assertEquals, assertThrows } from "@std/assert";
import {
  averageHeads,
  causalCounts,
  columnSums,
  importanceFromAttention,
  importanceFromVectors,
} from "../../lib/importance/compute.ts";
import { InputError } from "../../lib/errors.ts";

// A causal 3×3 head-averaged attention (row = query); column sums [1.75, 0.75, 0.5].
// deno-fmt-ignore
const A = [
  1, 0, 0,
  0.5, 0.5, 0,
  0.25, 0.25, 0.5,
];

Deno.test("columnSums: all queries (the reference) and an observation window", () => {
  assertEquals([...columnSums(A, 3)], [1.75, 0.75, 0.5]);
  assertEquals([...columnSums(A, 3, 2)], [0.75, 0.75, 0.5]); // rows 1 and 2
  assertEquals([...columnSums(A, 3, 1)], [0.25, 0.25, 0.5]);
  assertEquals([...columnSums(A, 3, 10)], [1.75, 0.75, 0.5]);
});

Deno.test("causalCounts and causal-count normalisation", () => {
  assertEquals([...causalCounts(3)], [3, 2, 1]);
  assertEquals([...causalCounts(3, 2)], [2, 2, 1]);
  const norm = importanceFromAttention([A], 3, { causalNormalize: true });
  assertEquals([...norm.scores[0]], [1.75 / 3, 0.375, 0.5]);
  const windowed = importanceFromAttention([A, A], 3, { window: 2, causalNormalize: true });
  assertEquals([...windowed.scores[1]], [0.375, 0.375, 0.5]);
  assertEquals([windowed.numLayers, windowed.promptLength, windowed.window], [2, 3, 2]);
  assertEquals(windowed.causalNormalized, true);
  const plain = importanceFromVectors([[1.75, 0.75, 0.5]], { causalNormalize: true });
  assertEquals([...plain.scores[0]], [1.75 / 3, 0.375, 0.5]);
  assertEquals(plain.window, null);
});

Deno.test("averageHeads: mean over query heads (GQA: after repeat_kv)", () => {
  const h0 = [1, 0, 0.5, 0.5];
  const h1 = [1, 0, 0, 1];
  assertEquals([...averageHeads([...h0, ...h1], 2, 2)], [1, 0, 0.25, 0.75]);
  assertThrows(() => averageHeads([1, 2, 3], 2, 2), InputError);
});

Deno.test("importance: bad shapes and values are InputErrors", () => {
  assertThrows(() => importanceFromAttention([A], 2), InputError);
  assertThrows(() => importanceFromAttention([], 3), InputError);
  assertThrows(() => importanceFromAttention([A], 0), InputError);
  assertThrows(() => importanceFromAttention([A], 3, { window: 0 }), InputError);
  assertThrows(() => importanceFromVectors([[1, NaN]]), InputError);
  assertThrows(() => importanceFromVectors([[1, -2]]), InputError);
  assertThrows(() => importanceFromVectors([[1, 2], [1]]), InputError);
});
