import { assert, assertEquals, assertThrows } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import {
  attentionViews,
  headAttentionViews,
  stackImportance,
} from "../../lib/runtime/attention_views.ts";
import { measureAttention, measureImportance } from "../../lib/runtime/measure_importance.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { makeTinyLlama } from "../fixtures/tiny_checkpoint.ts";

Deno.test("attentionViews: [queries, keys] over the matrices' own memory", () => {
  const m = Float32Array.of(1, 0, 0, 0.5, 0.5, 0, 0.25, 0.25, 0.5);
  const [view] = attentionViews([m], 3);
  assertEquals(view.shape, [3, 3]);
  assertEquals(view.get(2, 0), 0.25);
  assert(view.data === m, "no copy");
  const row = view.pick(1, null); // query 1 over all keys
  assertEquals([row.get(0), row.get(1), row.get(2)], [0.5, 0.5, 0]);
  const column = view.pick(null, 2); // key 2 under every query
  assertEquals([column.get(0), column.get(1), column.get(2)], [0, 0, 0.5]);
  assertEquals(view.hi(2, 2).lo(1, 0).get(0, 1), 0.5); // the block rows 1..1, cols 0..1
  assertEquals(view.transpose(1, 0).get(0, 2), 0.25);
  m[3] = 0.75; // a view, not a snapshot
  assertEquals(row.get(0), 0.75);
  assertThrows(() => attentionViews([m], 4), InputError, "not N × N = 4 × 4");
});

Deno.test("headAttentionViews: [heads, queries, keys] over the matrices' own memory", () => {
  // Two heads of a 2-entry prompt: head 0 = [[1, 0], [0.5, 0.5]], head 1 = [[1, 0], [0.9, 0.1]].
  const m = Float32Array.of(1, 0, 0.5, 0.5, 1, 0, 0.875, 0.125);
  const [view] = headAttentionViews([m], 2);
  assertEquals(view.shape, [2, 2, 2]);
  assert(view.data === m, "no copy");
  assertEquals(view.get(1, 1, 0), 0.875);
  const head1 = view.pick(1, null, null); // head 1's [queries, keys]
  assertEquals([head1.get(1, 0), head1.get(1, 1)], [0.875, 0.125]);
  const acrossHeads = view.pick(null, 1, 0); // query 1 → key 0 in every head
  assertEquals([acrossHeads.get(0), acrossHeads.get(1)], [0.5, 0.875]);
  assertThrows(() => headAttentionViews([m], 3), InputError, "not heads × N × N for N = 3");
  assertThrows(() => headAttentionViews([m.subarray(1)], 2), InputError, "has 7 values");
});

Deno.test("stackImportance: one [layers, positions] buffer, rows are its subarrays", () => {
  const { stacked, layers } = stackImportance([[1, 2, 3], Float32Array.of(4, 5, 6)]);
  assertEquals(stacked.shape, [2, 3]);
  assertEquals(stacked.get(1, 0), 4);
  assertEquals(Array.from(layers[1]), [4, 5, 6]);
  assert(layers[0].buffer === stacked.data.buffer && layers[1].buffer === stacked.data.buffer);
  layers[0][2] = 9; // rows and view share memory
  assertEquals(stacked.get(0, 2), 9);
  const position = stacked.pick(null, 1);
  assertEquals([position.get(0), position.get(1)], [2, 5]);
  assertThrows(() => stackImportance([]), InputError, "got none");
  assertThrows(() => stackImportance([[1, 2], [1]]), InputError, "layer 1 has 1 positions");
});

Deno.test("measureAttention: matrices are causal rows summing to 1; importance = their column sums", async () => {
  const ck = makeTinyLlama({ layers: 2, heads: 4, kvHeads: 2 });
  const model = await loadModel({ spec: ck.spec, tensors: ck.store }, { cacheDir: false });
  try {
    const ids = [1, 12, 40, 7, 33, 5];
    const prompt = { embeds: model.embedTokens(ids), ids, length: ids.length };
    const n = ids.length;
    const got = await measureAttention(model, prompt);
    assertEquals(got.attention.length, 2);
    assertEquals(got.stacked.shape, [2, n]);
    for (let l = 0; l < 2; l++) {
      const a = got.attention[l];
      assertEquals(a.shape, [n, n]);
      for (let q = 0; q < n; q++) {
        let sum = 0;
        for (let k = 0; k < n; k++) {
          if (k > q) assertEquals(a.get(q, k), 0, `causal: layer ${l} query ${q} key ${k}`);
          sum += a.get(q, k);
        }
        assert(Math.abs(sum - 1) < 1e-5, `layer ${l} row ${q} sums to ${sum}`);
      }
      for (let k = 0; k < n; k++) {
        let column = 0;
        for (let q = 0; q < n; q++) column += a.get(q, k);
        assert(Math.abs(got.stacked.get(l, k) - column) < 1e-5, `layer ${l} key ${k}`);
        assertEquals(got.importance[l][k], got.stacked.get(l, k));
      }
    }
    // measureImportance gives the same importance from the importance-only graph.
    const only = await measureImportance(model, prompt);
    for (let l = 0; l < 2; l++) {
      for (let k = 0; k < n; k++) {
        assert(Math.abs(only.stacked.get(l, k) - got.stacked.get(l, k)) < 1e-5);
      }
    }
    assertEquals([got.promptLength, got.imageSpan], [n, undefined]);
    assertEquals(got.heads, undefined, "per-head matrices only when asked");
    // With heads: [heads, N, N] views whose mean over heads is the averaged matrix.
    const withHeads = await measureAttention(model, prompt, { heads: true });
    for (let l = 0; l < 2; l++) {
      const h = withHeads.heads![l];
      assertEquals(h.shape, [4, n, n]);
      for (let q = 0; q < n; q++) {
        for (let k = 0; k < n; k++) {
          let mean = 0;
          for (let head = 0; head < 4; head++) mean += h.get(head, q, k) / 4;
          assert(Math.abs(mean - got.attention[l].get(q, k)) < 1e-6, `layer ${l} (${q}, ${k})`);
        }
      }
    }
  } finally {
    await model.close();
  }
});
