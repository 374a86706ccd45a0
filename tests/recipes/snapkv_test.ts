import { assertEquals } from "@std/assert";
import {
  createRecipe,
  observationWindow,
  observationWindowSize,
  pool1d,
} from "../../lib/recipes/mod.ts";
import { positionsOf, prefillWith } from "./harness.ts";

const N = 8;
/** Causal uniform rows, except the window rows 6 and 7 (w = min(32, 8/4) = 2). */
function attention(): number[] {
  const m: number[] = [];
  for (let q = 0; q < N; q++) {
    for (let k = 0; k < N; k++) m.push(k <= q ? 1 / (q + 1) : 0);
  }
  m.splice(6 * N, N, 0.3, 0, 0.1, 0, 0, 0.1, 0.5, 0);
  m.splice(7 * N, N, 0.2, 0, 0, 0, 0.1, 0, 0.3, 0.4);
  return m;
}
const close = (a: ArrayLike<number>, b: number[]) =>
  assertEquals(Array.from(a).every((x, i) => Math.abs(x - b[i]) < 1e-6), true, `${a} vs ${b}`);

Deno.test("snapkv: window size min(w, N/4), at least 1", () => {
  assertEquals(observationWindowSize(8, 32), 2);
  assertEquals(observationWindowSize(100, 32), 25);
  assertEquals(observationWindowSize(626, 32), 32);
  assertEquals(observationWindowSize(3, 32), 1);
});

Deno.test("snapkv: pool1d with centred kernel and padding", () => {
  const s = Float64Array.from([0.5, 0, 0.1, 0, 0.1, 0.1]);
  close(pool1d(s, 3, "max"), [0.5, 0.5, 0.1, 0.1, 0.1, 0.1]);
  close(pool1d(s, 5, "max"), [0.5, 0.5, 0.5, 0.1, 0.1, 0.1]);
  // Average counts the zero padding (PyTorch's count_include_pad): always divide by 3.
  close(pool1d(s, 3, "avg"), [0.5 / 3, 0.6 / 3, 0.1 / 3, 0.2 / 3, 0.2 / 3, 0.2 / 3]);
});

Deno.test("snapkv: scores are pooled window column sums; the window keeps raw sums", () => {
  const [scores] = observationWindow({ kernel: 3, pooling: "avg" }).score(
    { promptLength: N, attention: [Float32Array.from(attention())] },
    1,
  )!;
  close(scores, [0.5 / 3, 0.6 / 3, 0.1 / 3, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.8, 0.4]);
});

Deno.test("snapkv: keeps the window plus the top pooled entries", () => {
  const imp = [[1, 1, 1, 1, 1, 1, 1, 1]]; // ignored: snapkv reads the matrices
  const o = { kernel: 3, pooling: "avg" as const };
  const half = createRecipe("snapkv", o).policy({ fraction: 0.5 });
  assertEquals(half.needs.prefill, "matrices");
  // K = 4: window 6, 7 + top-2 pooled: 1 (.2), 0 (.167).
  assertEquals(positionsOf(prefillWith(half, imp, { attention: [attention()] })), [[0, 1, 6, 7]]);
  // K = 5: then the tie at .067 between 3, 4, 5 goes to 3. Unpooled sums would pick 2 (.1).
  const more = createRecipe("snapkv", o).policy({ fraction: 0.625 });
  assertEquals(positionsOf(prefillWith(more, imp, { attention: [attention()] })), [[
    0,
    1,
    3,
    6,
    7,
  ]]);
});
