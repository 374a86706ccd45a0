import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  analyzeImportance,
  giniCoefficient,
  giniFromCurve,
  lorenzCurve,
  sampleCurve,
  spanShare,
} from "../../lib/importance/analysis.ts";
import {
  cumulativePriority,
  prefixCurve,
  priorityOrder,
  prioritySequence,
  shortestPrefixIndex,
} from "../../lib/importance/priority.ts";
import { InputError } from "../../lib/errors.ts";
import { Prng } from "../../lib/random.ts";

const close = (a: number, b: number, eps = 1e-12) => assert(Math.abs(a - b) <= eps, `${a} vs ${b}`);

Deno.test("priority sequence, cumulative curve and stable order by hand", () => {
  const s = [1, 4, 2, 1];
  assertEquals([...prioritySequence(s)], [0.5, 0.25, 0.125, 0.125]);
  assertEquals([...cumulativePriority(s)], [0.5, 0.75, 0.875, 1]);
  assertEquals([...prefixCurve(s)], [0, 0.5, 0.75, 0.875, 1]);
  assertEquals([...priorityOrder(s)], [1, 2, 0, 3]); // tie 0 vs 3: lower position first
  const cum = [0.5, 0.75, 0.875, 1];
  assertEquals([0, 0.5, 0.6, 0.75, 1, 1.1].map((p) => shortestPrefixIndex(cum, p)), [
    0,
    0,
    1,
    1,
    3,
    4,
  ]);
});

Deno.test("Gini: uniform → 0, one-hot → (N − 1)/N, [1, 3] → 0.25", () => {
  for (const n of [1, 2, 7, 100]) {
    close(giniFromCurve(prefixCurve(new Array(n).fill(3))), 0);
    close(giniCoefficient(new Array(n).fill(3)), 0);
    const oneHot = new Array(n).fill(0);
    oneHot[n >> 1] = 2;
    // Trapezoid rule: ∫P = (1/N)(1/2 + (N − 1)) → 2∫P − 1 = (N − 1)/N.
    close(giniFromCurve(prefixCurve(oneHot)), (n - 1) / n);
    close(giniCoefficient(oneHot), (n - 1) / n);
  }
  // P = [0, .75, 1]: area = (.75/2 + 1.75/2)/2 = .625 → 0.25; pairwise: 2·2/(2·2·4) = 0.25.
  assertEquals(giniFromCurve(prefixCurve([1, 3])), 0.25);
  assertEquals(giniCoefficient([1, 3]), 0.25);
});

Deno.test("Gini: 2∫P − 1 equals the pairwise mean-difference formula (seeded)", () => {
  const r = new Prng(11);
  for (let trial = 0; trial < 30; trial++) {
    const n = r.range(2, 60);
    const x = Array.from(
      { length: n },
      () => (trial % 2 ? Math.round(r.next() * 3) : r.next() ** 4) + 0.01,
    );
    let pairs = 0;
    let total = 0;
    for (const a of x) {
      total += a;
      for (const b of x) pairs += Math.abs(a - b);
    }
    const pairwise = pairs / (2 * n * total);
    close(giniFromCurve(prefixCurve(x)), pairwise, 1e-12);
    close(giniCoefficient(x), pairwise, 1e-12);
    // Lorenz and prefix curves mirror each other: Lz(k/N) = 1 − P((N − k)/N).
    const lz = lorenzCurve(x);
    close(1 - 2 * trapezoid(lz), pairwise, 1e-12);
  }
});

function trapezoid(curve: ArrayLike<number>): number {
  const n = curve.length - 1;
  let a = 0;
  for (let k = 1; k <= n; k++) a += (curve[k - 1] + curve[k]) / 2;
  return a / n;
}

Deno.test("sampleCurve and spanShare by hand", () => {
  assertEquals(sampleCurve([0, 0.5, 0.75, 0.875, 1], 3), [0, 0.75, 1]);
  assertEquals(sampleCurve([0, 0.5, 1], 5), [0, 0.25, 0.5, 0.75, 1]);
  assertEquals(spanShare([1, 4, 2, 1], { start: 1, end: 3 }), 0.75);
});

Deno.test("analyzeImportance: curves and shares by hand", () => {
  const L0 = [8, 4, 2, 1, 0.5, 0.25, 0.125, 0.125];
  const L1 = [1, 1, 1, 1, 1, 1, 1, 1];
  const a = analyzeImportance([L0, L1], { imageSpan: { start: 2, end: 6 }, points: 5 });
  assertEquals(a.o, [0, 0.25, 0.5, 0.75, 1]);
  assertEquals([a.numLayers, a.promptLength, a.imageSpan], [2, 8, { start: 2, end: 6 }]);
  const [l0, l1] = a.layers;
  // Layer 0 image mass (2 + 1 + .5 + .25)/16.
  assertEquals(l0.imageShare, 3.75 / 16);
  assertEquals(l1.imageShare, 0.5);
  assertEquals(l0.textShare, 1 - 3.75 / 16);
  assertEquals(l0.prefixCurve, [0, 0.75, 0.9375, 0.984375, 1]);
  assertEquals(l1.prefixCurve, [0, 0.25, 0.5, 0.75, 1]);
  close(l1.gini, 0);
  assertEquals(l0.topPriorities, [0.5, 0.25, 0.125, 0.0625, 0.03125]);
  // Plain JSON round-trips; without a span there are no shares.
  assertEquals(JSON.parse(JSON.stringify(a)), a);
  assertEquals(analyzeImportance([L0]).layers[0].imageShare, undefined);
  assertEquals(analyzeImportance([L0]).imageSpan, null);
  assertThrows(() => analyzeImportance([L0], { imageSpan: { start: 3, end: 9 } }), InputError);
  assertThrows(() => analyzeImportance([L0], { points: 1 }), InputError);
});
