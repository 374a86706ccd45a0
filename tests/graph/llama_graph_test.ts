import { assert, assertEquals } from "@std/assert";
import "../../lib/ort_telemetry.ts"; // before onnxruntime-node
import * as ort from "onnxruntime-node";
import type { LlamaSpec } from "../../lib/checkpoint/spec.ts";
import type { TensorStore } from "../../lib/checkpoint/tensor_store.ts";
import {
  buildLlamaGraph,
  type LlamaGraphOptions,
  llamaNames,
  PAST_BIAS,
} from "../../lib/graph/llama_graph.ts";
import { makeTinyLlama, type TinyLlamaOptions } from "../fixtures/tiny_checkpoint.ts";
import { type RefCache, referenceLlama } from "../reference/llama_reference.ts";
import { maxAbsDiff } from "./max_abs_diff.ts";

const TOL = 1e-4;

/** Runs the graph once with `past` entries per layer (flattened [P, kvH, hd]) and new rows. */
async function runGraph(
  spec: LlamaSpec,
  store: TensorStore,
  options: LlamaGraphOptions,
  embeds: Float32Array,
  positions: number[],
  cache?: RefCache,
): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(
    buildLlamaGraph(spec, store, options).toBytes(),
  );
  const T = positions.length;
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: new ort.Tensor("float32", embeds, [1, T, spec.hiddenSize]),
    position_ids: new ort.Tensor("int64", BigInt64Array.from(positions.map(BigInt)), [1, T]),
  };
  // A layer without entries is fed one placeholder row, masked by a −∞ bias.
  const bias = new Float32Array(spec.numLayers);
  for (let l = 0; l < spec.numLayers; l++) {
    const layer = cache?.layers[l];
    const P = layer?.positions.length ?? 0;
    const row = spec.numKvHeads * spec.headDim;
    const flat = (rows: Float64Array[]) =>
      P === 0 ? new Float32Array(row) : Float32Array.from(rows.flatMap((r) => [...r]));
    if (P === 0) bias[l] = -Infinity;
    const dims = [Math.max(P, 1), 1, spec.numKvHeads, spec.headDim];
    feeds[llamaNames.pastKey(l)] = new ort.Tensor("float32", flat(layer?.keys ?? []), dims);
    feeds[llamaNames.pastValue(l)] = new ort.Tensor("float32", flat(layer?.values ?? []), dims);
  }
  feeds[PAST_BIAS] = new ort.Tensor("float32", bias, [spec.numLayers]);
  const out: Record<string, ort.Tensor> = { ...await session.run(feeds) };
  await session.release();
  // The placeholder's column comes first in an empty layer's summaries; it must get no
  // attention, and is dropped so that the outputs read like the reference's.
  for (let l = 0; l < spec.numLayers; l++) {
    if ((cache?.layers[l].positions.length ?? 0) > 0) continue;
    for (
      const name of [llamaNames.importance(l), llamaNames.attention(l), llamaNames.headAttention(l)]
    ) {
      const t = out[name];
      if (!t) continue;
      const data = t.data as Float32Array;
      const S = t.dims.at(-1)!;
      const rows = data.length / S;
      const kept = new Float32Array(rows * (S - 1));
      for (let r = 0; r < rows; r++) {
        assertEquals(data[r * S], 0, `${name}: the placeholder column is attended`);
        kept.set(data.subarray(r * S + 1, (r + 1) * S), r * (S - 1));
      }
      out[name] = new ort.Tensor("float32", kept, [...t.dims.slice(0, -1), S - 1]);
    }
  }
  return out;
}

const CONFIGS: [string, TinyLlamaOptions][] = [
  ["MHA, untied head", {}],
  ["GQA (4 heads, 2 KV heads), tied head", { heads: 4, kvHeads: 2, tieWordEmbeddings: true }],
  ["MQA (4 heads, 1 KV head), linear rope scaling ×4", {
    heads: 4,
    kvHeads: 1,
    ropeScaling: { type: "linear", factor: 4 },
    ropeTheta: 500,
  }],
];

for (const [name, opts] of CONFIGS) {
  Deno.test(`llama graph (${name}): prefill logits, keys and values match the reference`, async () => {
    const { spec: { text: spec }, store } = makeTinyLlama({ ...opts, layers: 3 });
    const ref = referenceLlama(spec, store);
    const ids = [1, 17, 4, 33, 60, 8, 21, 2, 45];
    const positions = ids.map((_, i) => i + 3); // a non-zero start exercises position_ids
    const embeds = ref.embed(ids);
    const want = ref.forward(embeds, positions, ref.newCache());
    const got = await runGraph(spec, store, {}, Float32Array.from(embeds), positions);
    assertEquals(got.logits.dims, [1, ids.length, spec.vocabSize]);
    assert(maxAbsDiff(got.logits.data as Float32Array, want.logits) <= TOL);
    for (let l = 0; l < spec.numLayers; l++) {
      assertEquals(got[llamaNames.newKey(l)].dims, [ids.length, 1, spec.numKvHeads, spec.headDim]);
      assert(maxAbsDiff(got[llamaNames.newKey(l)].data as Float32Array, want.newKeys[l]) <= TOL);
      assert(
        maxAbsDiff(got[llamaNames.newValue(l)].data as Float32Array, want.newValues[l]) <= TOL,
      );
    }
  });
}

Deno.test("llama graph: ragged past lengths per layer (one of them empty) match the reference", async () => {
  const { spec: { text: spec }, store } = makeTinyLlama({ heads: 4, kvHeads: 2, layers: 3 });
  const ref = referenceLlama(spec, store);
  const cache = ref.newCache();
  const prompt = [1, 9, 14, 23, 5, 40, 12];
  ref.forward(ref.embed(prompt), prompt.map((_, i) => i), cache);
  cache.keep(0, [0, 3, 6]);
  cache.keep(1, []);
  cache.keep(2, [1, 2, 3, 4, 5, 6]);
  const ids = [30, 31];
  const positions = [7, 8];
  const embeds = ref.embed(ids);
  const got = await runGraph(
    spec,
    store,
    { attention: "matrices" },
    Float32Array.from(embeds),
    positions,
    cache.clone(),
  );
  const want = ref.forward(embeds, positions, cache);
  assert(maxAbsDiff(got.logits.data as Float32Array, want.logits) <= TOL);
  for (let l = 0; l < spec.numLayers; l++) {
    assert(
      maxAbsDiff(got[llamaNames.attention(l)].data as Float32Array, want.attention[l]) <= 1e-6,
    );
  }
  assertEquals(got[llamaNames.importance(0)].dims, [1, 3 + 2]);
  assertEquals(got[llamaNames.importance(1)].dims, [1, 0 + 2]);
  assertEquals(got[llamaNames.importance(2)].dims, [1, 6 + 2]);
});

Deno.test("llama graph: attention rows sum to 1, importance is their column sum, the mask is causal", async () => {
  const { spec: { text: spec }, store } = makeTinyLlama({ heads: 4, kvHeads: 2 });
  const ref = referenceLlama(spec, store);
  const ids = [1, 5, 7, 9, 11, 13];
  const T = ids.length;
  const embeds = ref.embed(ids);
  const want = ref.forward(embeds, ids.map((_, i) => i), ref.newCache());
  const got = await runGraph(
    spec,
    store,
    { attention: "matrices" },
    Float32Array.from(embeds),
    ids.map((_, i) => i),
  );
  for (let l = 0; l < spec.numLayers; l++) {
    const att = got[llamaNames.attention(l)].data as Float32Array;
    const imp = got[llamaNames.importance(l)].data as Float32Array;
    assertEquals(got[llamaNames.attention(l)].dims, [1, T, T]);
    for (let i = 0; i < T; i++) {
      let sum = 0;
      for (let j = 0; j < T; j++) {
        sum += att[i * T + j];
        if (j > i) assertEquals(att[i * T + j], 0); // future keys are invisible
      }
      assert(Math.abs(sum - 1) <= 1e-5);
    }
    for (let j = 0; j < T; j++) {
      let col = 0;
      for (let i = 0; i < T; i++) col += att[i * T + j];
      assert(Math.abs(col - imp[j]) <= 1e-5);
    }
    assert(maxAbsDiff(att, want.attention[l]) <= 1e-6);
  }
});

Deno.test("llama graph: the importance variant equals the matrices variant's importance", async () => {
  const { spec: { text: spec }, store } = makeTinyLlama({ heads: 4, kvHeads: 1 });
  const ref = referenceLlama(spec, store);
  const ids = [1, 50, 7, 3, 19];
  const embeds = Float32Array.from(ref.embed(ids));
  const positions = ids.map((_, i) => i);
  const imp = await runGraph(spec, store, { attention: "importance" }, embeds, positions);
  const mat = await runGraph(spec, store, { attention: "matrices" }, embeds, positions);
  const plain = await runGraph(spec, store, {}, embeds, positions);
  assert(!(llamaNames.importance(0) in plain), "the plain variant has no attention outputs");
  assert(!(llamaNames.attention(0) in imp), "the importance variant has no matrices");
  for (let l = 0; l < spec.numLayers; l++) {
    const a = imp[llamaNames.importance(l)].data as Float32Array;
    const b = mat[llamaNames.importance(l)].data as Float32Array;
    assert(maxAbsDiff(a, b) <= 1e-6);
    // Σ_j importance_j = number of queries (every row sums to 1).
    assert(Math.abs(a.reduce((s, v) => s + v, 0) - ids.length) <= 1e-4);
  }
  assert(maxAbsDiff(plain.logits.data as Float32Array, mat.logits.data as Float32Array) <= 1e-6);
});

for (const [name, opts] of CONFIGS) {
  Deno.test(`llama graph (${name}): per-head matrices match the reference; their mean is the matrices output`, async () => {
    const { spec: { text: spec }, store } = makeTinyLlama({ ...opts, layers: 2 });
    const ref = referenceLlama(spec, store);
    const cache = ref.newCache();
    const prompt = [1, 17, 4, 33, 60];
    ref.forward(ref.embed(prompt), prompt.map((_, i) => i), cache);
    cache.keep(0, [0, 2, 4]); // ragged past: 3 entries and none (a placeholder), 3 new tokens
    cache.keep(1, []);
    const ids = [8, 21, 2];
    const positions = [5, 6, 7];
    const embeds = ref.embed(ids);
    const got = await runGraph(
      spec,
      store,
      { attention: "headMatrices" },
      Float32Array.from(embeds),
      positions,
      cache.clone(),
    );
    const mat = await runGraph(
      spec,
      store,
      { attention: "matrices" },
      Float32Array.from(embeds),
      positions,
      cache.clone(),
    );
    const want = ref.forward(embeds, positions, cache);
    const H = spec.numHeads;
    const T = ids.length;
    for (let l = 0; l < spec.numLayers; l++) {
      const S = cache.length(l); // after the forward: past + new
      const heads = got[llamaNames.headAttention(l)];
      assertEquals(heads.dims, [1, H, T, S]);
      const data = heads.data as Float32Array;
      const d = maxAbsDiff(data, want.headAttention[l]);
      assert(d <= 1e-6, `layer ${l}: per-head attention differs from the reference by ${d}`);
      const mean = new Float64Array(T * S);
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T * S; i++) mean[i] += data[h * T * S + i] / H;
      }
      const att = got[llamaNames.attention(l)].data as Float32Array;
      assert(maxAbsDiff(att, mean) <= 1e-7, `layer ${l}: head mean vs matrices`);
      // The head-averaged outputs are the matrices variant's.
      assertEquals(att, mat[llamaNames.attention(l)].data as Float32Array);
      assertEquals(
        got[llamaNames.importance(l)].data as Float32Array,
        mat[llamaNames.importance(l)].data as Float32Array,
      );
    }
    assert(!(llamaNames.headAttention(0) in mat), "the matrices variant has no per-head output");
    assertEquals(got.logits.data as Float32Array, mat.logits.data as Float32Array);
  });
}

Deno.test("llama graph: the last-logits variant gives the last row of the all-logits one", async () => {
  const { spec: { text: spec }, store } = makeTinyLlama();
  const ref = referenceLlama(spec, store);
  const ids = [1, 2, 3, 4, 5, 6, 7];
  const embeds = Float32Array.from(ref.embed(ids));
  const positions = ids.map((_, i) => i);
  const all = await runGraph(spec, store, { logits: "all" }, embeds, positions);
  const last = await runGraph(spec, store, { logits: "last" }, embeds, positions);
  const V = spec.vocabSize;
  assertEquals(last.logits.dims, [1, 1, V]);
  const allData = all.logits.data as Float32Array;
  assert(
    maxAbsDiff(last.logits.data as Float32Array, allData.subarray((ids.length - 1) * V)) <= 1e-6,
  );
});
