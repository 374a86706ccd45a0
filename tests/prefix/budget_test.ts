import { assertEquals, assertThrows } from "@std/assert";
import {
  budgetOfEvictRatio,
  checkBudget,
  evictRatioOf,
  pythonFloatStr,
  roundHalfEven,
} from "../../lib/prefix/budget.ts";
import { InputError } from "../../lib/errors.ts";

Deno.test("roundHalfEven: Python 3 round() on halves and non-halves", () => {
  // Python: round(0.5)=0, round(1.5)=2, round(2.5)=2, round(3.5)=4, round(-0.5)=0, round(-1.5)=-2
  const cases: [number, number][] = [
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [3.5, 4],
    [-0.5, 0],
    [-1.5, -2],
    [2.4999999999999996, 2],
    [2.5000000000000004, 3],
    [71.57649653311671, 72],
    [0, 0],
    [7, 7],
  ];
  for (const [x, want] of cases) assertEquals(roundHalfEven(x) + 0, want, `round(${x})`);
});

Deno.test("pythonFloatStr: matches Python's str(float)", () => {
  // Values checked against CPython 3: str(0.5), str(0.0), str(1.0), str(1e-05), ...
  const cases: [number, string][] = [
    [0.5, "0.5"],
    [0.8, "0.8"],
    [0, "0.0"],
    [1, "1.0"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [1.5e-7, "1.5e-07"],
    [1e16, "1e+16"],
    [123456789012345.6, "123456789012345.6"],
    [1 - 0.7, "0.30000000000000004"],
    [0.11433945133085736, "0.11433945133085736"],
  ];
  for (const [x, want] of cases) assertEquals(pythonFloatStr(x), want);
});

Deno.test("evictRatioOf: reference ratio strings for the paper's budgets", () => {
  // Budget 20% ↔ --ratio 0.8 (trap 1); naive 1 − b would give 0.30000000000000004 for 0.7.
  assertEquals(evictRatioOf(0.2), 0.8);
  assertEquals(evictRatioOf(0.7), 0.3);
  assertEquals(evictRatioOf(0.9), 0.1);
  assertEquals(evictRatioOf(1), 0);
  assertEquals(budgetOfEvictRatio(0.8), 0.2);
  assertEquals(budgetOfEvictRatio(0), 1);
});

Deno.test("checkBudget: outside (0, 1] is an InputError", () => {
  for (const b of [0, -0.1, 1.01, NaN, Infinity]) assertThrows(() => checkBudget(b), InputError);
  assertThrows(() => budgetOfEvictRatio(1), InputError);
  checkBudget(1);
  checkBudget(1e-9);
});
