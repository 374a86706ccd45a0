import { assertEquals, assertMatch, assertThrows } from "@std/assert";
import { apportion, argMin, topK } from "../../lib/recipes/ranking.ts";

Deno.test("topK: true top-k in index order, ties to the lower index", () => {
  // The baseline code's where(argsort([5,1,3,2]) > 1) picks {1, 2}; the top-2 is {0, 2}.
  assertEquals(topK([5, 1, 3, 2], 0, 4, 2), [0, 2]);
  assertEquals(topK([1, 2, 2, 2, 0], 0, 5, 2), [1, 2]);
  assertEquals(topK([9, 1, 2, 3, 9], 1, 4, 2), [2, 3]);
  assertEquals(topK([1, 2], 0, 2, 5), [0, 1]);
  assertEquals(topK([1, 2], 0, 2, 0), []);
});

Deno.test("argMin: lowest in range, ties to the lower index", () => {
  assertEquals(argMin([0, 3, 1, 1, 0], 1, 4), 2);
  assertEquals(argMin([0], 1, 1), -1);
});

Deno.test("apportion: exact total within bounds, remainders to the largest gaps", () => {
  assertEquals(Array.from(apportion([2.5, 2.5, 2.5, 2.5], 10, 0, 10)), [3, 3, 2, 2]);
  assertEquals(Array.from(apportion([0.2, 5.9, 3.9], 10, 2, 5)), [2, 5, 3]);
  assertEquals(Array.from(apportion([8, 8], 6, 1, 8)), [3, 3]);
  assertMatch(assertThrows(() => apportion([1, 1], 1, 1, 5), Error).message, /outside/);
});
