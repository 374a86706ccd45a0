import { assert, assertEquals } from "@std/assert";

/** Element-wise |actual − expected| ≤ tol, naming the first index that differs. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  msg = "",
): void {
  assertEquals(actual.length, expected.length, `${msg} length`);
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    assert(d <= tol, `${msg}[${i}]: ${actual[i]} vs ${expected[i]} (|diff| ${d} > ${tol})`);
  }
}
