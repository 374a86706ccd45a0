import { assertEquals } from "@std/assert";
import { createRecipe, nearestAnchorAssignment } from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith, stepWith } from "./harness.ts";

Deno.test("elastic: non-anchors merge into the nearest ranked anchor (mean of K and V)", () => {
  const policy = createRecipe("elastic").policy({ fraction: 0.5 });
  // K = 4 anchors: 0 and 7 protected, top-2 of [1, 7) by importance: 2 (5) and 4 (4).
  // 1 → 2; 3 is equidistant from 2 and 4 → the earlier, 2; 5, 6 → 4 (7 does not absorb).
  const cache = prefillWith(policy, [[9, 1, 5, 1, 4, 1, 1, 2]], { keys: (p) => [p * p, 1] });
  assertEquals(positionsOf(cache), [[0, 2, 4, 7]]);
  const keys = Array.from(cache.keys(0));
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-5;
  const want = [0, 1, (1 + 4 + 9) / 3, 1, (16 + 25 + 36) / 3, 1, 49, 1];
  keys.forEach((k, i) => assertEquals(close(k, want[i]), true, `key ${i}: ${k} vs ${want[i]}`));
  // Values [p + .5, 0]: means of the same groups.
  assertEquals(Array.from(cache.values(0)), [0.5, 0, 2.5, 0, 5.5, 0, 7.5, 0]);
  // Decode: fixed point K − 25 < 1 → K//2 = 2. T = 9: trunc(5 − 4.5) = 0, nothing goes;
  // T = 10: trunc(6 − 5) = 1, the entry at index 2 (anchor 4) goes.
  stepWith(policy, cache, 8, 1);
  stepWith(policy, cache, 8, 2);
  assertEquals(positionsOf(cache), [[0, 2, 7, 8, 9]]);
});

Deno.test("nearestAnchorAssignment: ties go to the earlier anchor; no absorbing anchor drops", () => {
  const anchors = Int32Array.from([0, 3, 5, 9]);
  // Absorbing anchors 3 and 5; 4 is equidistant → 3; 1, 2 → 3; 6, 7, 8 → 5.
  assertEquals(
    Array.from(nearestAnchorAssignment(10, anchors, [3, 5])),
    [0, 1, 1, 1, 1, 2, 2, 2, 2, 3],
  );
  assertEquals(
    Array.from(nearestAnchorAssignment(4, Int32Array.from([0, 3]), [])),
    [0, -1, -1, 1],
  );
});
