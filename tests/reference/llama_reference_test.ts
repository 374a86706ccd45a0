import { assertClose } from "./_assert_close.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import type { LlamaSpec } from "../../lib/checkpoint/spec.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";
import { MemoryTensorStore } from "../../lib/checkpoint/tensor_store.ts";
import { makeTinyLlama, makeTinyLlava } from "../fixtures/tiny_checkpoint.ts";
import {
  applyRope,
  linear,
  RefCache,
  referenceLlama,
  type RefOutput,
  rmsNorm,
  softmaxInPlace,
} from "./llama_reference.ts";

/** Row `t` of a row-major `[*, width]` array. */
const row = (a: Float64Array, t: number, width: number) => a.subarray(t * width, (t + 1) * width);

Deno.test("rmsNorm: x / sqrt(mean(x²) + eps) · w, by hand", () => {
  const y = rmsNorm(Float64Array.of(1, 2, 3, 4), 4, Float32Array.of(1, 1, 2, 0.5), 0);
  const inv = 0.3651483716701107; // 1 / sqrt(30 / 4)
  assertClose(y, [inv, 2 * inv, 6 * inv, 2 * inv], 1e-15);
  const withEps = rmsNorm(Float64Array.of(0, 0), 2, Float32Array.of(1, 1), 1e-6);
  assertClose(withEps, [0, 0], 0);
});

Deno.test("applyRope: rotate-half pairs (i, i + hd/2) at position 1, by hand", () => {
  const x = Float64Array.of(1, 2, 3, 4);
  applyRope(x, 0, 4, 1, 10000);
  // Pair (0, 2) turns by 1 rad (inv_freq 1), pair (1, 3) by 0.01 rad (inv_freq 10000^-0.5).
  assertClose(
    x,
    [-1.9841106485555495, 1.959900667496664, 2.4623779024123156, 4.019799668334994],
    1e-14,
  );

  const atZero = Float64Array.of(1, 2, 3, 4);
  applyRope(atZero, 0, 4, 0, 10000);
  assertClose(atZero, [1, 2, 3, 4], 0);

  // Linear scaling divides positions: factor 2 at position 2 equals no scaling at position 1.
  const scaled = Float64Array.of(1, 2, 3, 4);
  applyRope(scaled, 0, 4, 2, 10000, 2);
  assertClose(scaled, x, 1e-15);

  // Only the addressed head moves.
  const two = Float64Array.of(9, 9, 1, 2, 3, 4);
  applyRope(two, 2, 4, 1, 10000);
  assertClose(two, [9, 9, ...x], 1e-15);
});

Deno.test("softmaxInPlace: sums to 1 and survives large logits", () => {
  const p = Float64Array.of(1000, 1001);
  softmaxInPlace(p);
  assertClose(p, [1 / (1 + Math.E), Math.E / (1 + Math.E)], 1e-15);
  const q = Float64Array.of(-3, 0.5, 2, 2);
  softmaxInPlace(q);
  assertClose([q.reduce((a, b) => a + b, 0)], [1], 1e-15);
});

Deno.test("linear: PyTorch [out, in] layout with bias", () => {
  const y = linear(
    Float64Array.of(1, 2, 3, 4),
    2,
    Float32Array.of(1, 0, 1, 1),
    2,
    2,
    Float32Array.of(0, 10),
  );
  assertClose(y, [1, 13, 3, 17], 0);
});

/**
 * One layer, one head, hidden 2: identity q/k/v/o projections, a zero MLP, unit norms, eps 0,
 * identity LM head. Everything about the output then follows in closed form.
 */
function identityModel(): { spec: LlamaSpec; store: MemoryTensorStore } {
  const spec: LlamaSpec = {
    vocabSize: 2,
    hiddenSize: 2,
    intermediateSize: 1,
    numLayers: 1,
    numHeads: 1,
    numKvHeads: 1,
    headDim: 2,
    rmsNormEps: 0,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: 16,
    tieWordEmbeddings: false,
    prefix: "model.",
    lmHead: "lm_head.weight",
  };
  const eye = Float32Array.of(1, 0, 0, 1);
  const store = new MemoryTensorStore()
    .set("model.embed_tokens.weight", [2, 2], Float32Array.of(1, 0, 0, 1))
    .set("model.layers.0.input_layernorm.weight", [2], Float32Array.of(1, 1))
    .set("model.layers.0.post_attention_layernorm.weight", [2], Float32Array.of(1, 1))
    .set("model.layers.0.mlp.gate_proj.weight", [1, 2], new Float32Array(2))
    .set("model.layers.0.mlp.up_proj.weight", [1, 2], new Float32Array(2))
    .set("model.layers.0.mlp.down_proj.weight", [2, 1], new Float32Array(2))
    .set("model.norm.weight", [2], Float32Array.of(1, 1))
    .set("lm_head.weight", [2, 2], eye);
  for (const p of ["q", "k", "v", "o"]) {
    store.set(`model.layers.0.self_attn.${p}_proj.weight`, [2, 2], eye);
  }
  return { spec, store };
}

Deno.test("forward: a one-layer identity model matches the closed form", () => {
  const { spec, store } = identityModel();
  const model = referenceLlama(spec, store);
  const cache = model.newCache();
  const out = model.forward(model.embed([0, 1]), [0, 1], cache);

  // Token 0 = [1, 0] → normed h0 = [√2, 0]; token 1 = [0, 1] → h1 = [0, √2].
  // Token 1's query and key turn by 1 rad (position 1): [-√2 sin 1, √2 cos 1]; k0 stays h0.
  // Scores / √2: s0 = -√2 sin 1, s1 = √2 (its own key).
  const s0 = -Math.SQRT2 * Math.sin(1);
  const s1 = Math.SQRT2;
  const p0 = 1 / (1 + Math.exp(s1 - s0));
  const p1 = 1 - p0;
  assertClose(out.attention[0], [1, 0, p0, p1], 1e-14);

  // Residual: x1 + attn = [√2 p0, 1 + √2 p1]; logits = RMSNorm of that (identity head).
  const r = [Math.SQRT2 * p0, 1 + Math.SQRT2 * p1];
  const inv = 1 / Math.sqrt((r[0] ** 2 + r[1] ** 2) / 2);
  assertClose(row(out.logits, 1, 2), [r[0] * inv, r[1] * inv], 1e-14);
  // Token 0 only sees itself: x0 + h0 = [1 + √2, 0] normalises to [√2, 0].
  assertClose(row(out.logits, 0, 2), [Math.SQRT2, 0], 1e-14);

  // The cache holds rotated keys and plain values, with positions.
  assertEquals(cache.layers[0].positions, [0, 1]);
  assertClose(
    cache.layers[0].keys[1],
    [-Math.SQRT2 * Math.sin(1), Math.SQRT2 * Math.cos(1)],
    1e-15,
  );
  assertClose(cache.layers[0].values[1], [0, Math.SQRT2], 1e-15);
  assertClose(out.newKeys[0], [Math.SQRT2, 0, ...cache.layers[0].keys[1]], 1e-15);
});

/** Runs `ids` in one call, or prefill `split` tokens then one token per call. */
function runIncremental(model: ReturnType<typeof referenceLlama>, ids: number[], split: number) {
  const cache = model.newCache();
  const steps: RefOutput[] = [
    model.forward(model.embed(ids.slice(0, split)), range(0, split), cache),
  ];
  for (let t = split; t < ids.length; t++) {
    steps.push(model.forward(model.embed([ids[t]]), [t], cache));
  }
  return { steps, cache };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

const IDS = [1, 9, 20, 5, 33, 7, 12, 40];

for (
  const [label, opts] of [
    ["MHA", { seed: 3 }],
    ["GQA + linear RoPE scaling + tied head", {
      seed: 4,
      heads: 4,
      kvHeads: 2,
      ropeScaling: { type: "linear" as const, factor: 2 },
      tieWordEmbeddings: true,
    }],
  ] as const
) {
  Deno.test(`forward (${label}): decoding with a cache equals one full forward`, () => {
    const { spec, store } = makeTinyLlama({ ...opts, layers: 3 });
    const model = referenceLlama(spec.text, store);
    const full = model.forward(model.embed(IDS), range(0, IDS.length), model.newCache());
    const { steps, cache } = runIncremental(model, IDS, 3);
    const V = spec.text.vocabSize;
    const S = IDS.length;

    assertClose(steps[0].logits, full.logits.subarray(0, 3 * V), 1e-9, "prefill logits");
    for (let i = 1; i < steps.length; i++) {
      const t = 3 + i - 1;
      assertClose(steps[i].logits, row(full.logits, t, V), 1e-9, `logits at ${t}`);
      for (let l = 0; l < spec.text.numLayers; l++) {
        // The step's attention row covers t + 1 entries; the full row has zeros after them.
        assertClose(steps[i].attention[l], row(full.attention[l], t, S).subarray(0, t + 1), 1e-9);
      }
    }
    for (let l = 0; l < spec.text.numLayers; l++) {
      assertEquals(cache.length(l), S);
      assertClose(cache.layers[l].keys.flatMap((r) => [...r]), full.newKeys[l], 1e-9, "keys");
      assertClose(cache.layers[l].values.flatMap((r) => [...r]), full.newValues[l], 1e-9);
    }
    // Non-trivial activations: logits spread, attention not uniform.
    const last = row(full.logits, S - 1, V);
    assert(Math.max(...last) - Math.min(...last) > 0.5);
  });
}

Deno.test("forward: attention rows sum to 1 and are causal over the new tokens", () => {
  const { spec, store } = makeTinyLlama({ seed: 5, layers: 2 });
  const model = referenceLlama(spec.text, store);
  const cache = model.newCache();
  model.forward(model.embed(IDS.slice(0, 3)), [0, 1, 2], cache);
  const out = model.forward(model.embed(IDS.slice(3, 6)), [3, 4, 5], cache);
  for (const a of out.attention) {
    const S = 6;
    assertEquals(a.length, 3 * S);
    for (let t = 0; t < 3; t++) {
      const r = row(a, t, S);
      assertClose([r.reduce((x, y) => x + y, 0)], [1], 1e-12);
      for (let j = 0; j < S; j++) {
        if (j > 3 + t) assertEquals(r[j], 0);
        else assert(r[j] > 0, "visible entries get weight");
      }
    }
  }
});

Deno.test("forward: GQA maps query head h to KV head floor(h / (H / kvH))", () => {
  // Expanding each KV head's projection rows into its query group gives an equivalent MHA model.
  const { spec, store } = makeTinyLlama({ seed: 6, heads: 4, kvHeads: 2, layers: 2 });
  const s = spec.text;
  const mhaSpec: LlamaSpec = { ...s, numKvHeads: s.numHeads };
  const mha = new MemoryTensorStore();
  const rows = s.headDim * s.hiddenSize;
  for (const name of store.names()) {
    const data = store.getF32(name);
    if (/self_attn\.[kv]_proj/.test(name)) {
      const out = new Float32Array(s.numHeads * rows);
      for (let h = 0; h < s.numHeads; h++) {
        const kv = Math.floor(h / (s.numHeads / s.numKvHeads)); // heads 0,1 → 0; 2,3 → 1
        out.set(data.subarray(kv * rows, (kv + 1) * rows), h * rows);
      }
      mha.set(name, [s.numHeads * s.headDim, s.hiddenSize], out);
    } else {
      mha.set(name, store.info(name)!.shape, data);
    }
  }
  const gqa = referenceLlama(s, store);
  const ref = referenceLlama(mhaSpec, mha);
  const a = gqa.forward(gqa.embed(IDS), range(0, IDS.length), gqa.newCache());
  const b = ref.forward(ref.embed(IDS), range(0, IDS.length), ref.newCache());
  assertClose(a.logits, b.logits, 1e-12);
  assertClose(a.attention[1], b.attention[1], 1e-12);
  assertClose(a.headAttention[1], b.headAttention[1], 1e-12);
});

Deno.test("forward: per-head attention is [heads, T, S], rows sum to 1, its head mean is attention", () => {
  // Two KV heads of two query heads each: heads 0, 1 read KV head 0 and differ only by their
  // queries, so a head's matrix is its own (not a copy of its group's).
  const { spec, store } = makeTinyLlama({ seed: 8, heads: 4, kvHeads: 2, layers: 2 });
  const model = referenceLlama(spec.text, store);
  const cache = model.newCache();
  model.forward(model.embed(IDS.slice(0, 2)), [0, 1], cache);
  const out = model.forward(model.embed(IDS.slice(2, 5)), [2, 3, 4], cache);
  const [H, T, S] = [4, 3, 5];
  out.headAttention.forEach((heads, l) => {
    assertEquals(heads.length, H * T * S);
    const mean = new Float64Array(T * S);
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const r = heads.subarray((h * T + t) * S, (h * T + t + 1) * S);
        assertClose([r.reduce((x, y) => x + y, 0)], [1], 1e-12);
        for (let j = 0; j < S; j++) mean[t * S + j] += r[j] / H;
      }
    }
    assertClose(mean, out.attention[l], 1e-15);
    const head0 = heads.subarray(0, T * S);
    const head1 = heads.subarray(T * S, 2 * T * S);
    assert(head0.some((x, i) => Math.abs(x - head1[i]) > 1e-3), `layer ${l}: heads 0, 1 equal`);
  });
});

Deno.test("forward: RoPE is relative (shifted positions) and linear scaling divides positions", () => {
  const { spec, store } = makeTinyLlama({ seed: 7 });
  const model = referenceLlama(spec.text, store);
  const base = model.forward(model.embed(IDS), range(0, IDS.length), model.newCache());
  const shifted = model.forward(model.embed(IDS), range(100, 100 + IDS.length), model.newCache());
  assertClose(shifted.logits, base.logits, 1e-9);

  const scaled = referenceLlama(
    { ...spec.text, ropeScaling: { type: "linear", factor: 2 } },
    store,
  );
  const doubled = scaled.forward(scaled.embed(IDS), IDS.map((_, i) => 2 * i), scaled.newCache());
  assertClose(doubled.logits, base.logits, 1e-12);
  assertClose(doubled.newKeys[0], base.newKeys[0], 1e-12);
  // ... and scaling is not a no-op at the same positions.
  const same = scaled.forward(scaled.embed(IDS), range(0, IDS.length), scaled.newCache());
  assert(
    Math.abs(
      same.logits[IDS.length * spec.text.vocabSize - 1] -
        base.logits[IDS.length * spec.text.vocabSize - 1],
    ) > 1e-6,
  );
});

Deno.test("RefCache: ragged keep per layer, then decode over the kept entries", () => {
  const { spec, store } = makeTinyLlama({ seed: 8, layers: 2 });
  const model = referenceLlama(spec.text, store);
  const cache = model.newCache();
  model.forward(model.embed(IDS.slice(0, 6)), range(0, 6), cache);
  const untouched = cache.clone();

  cache.keep(0, [0, 2, 5]);
  cache.keep(1, [1, 2, 3, 4]);
  assertEquals(cache.layers[0].positions, [0, 2, 5]);
  assertEquals(cache.layers[1].positions, [1, 2, 3, 4]);
  assertEquals(cache.layers[0].keys[1], untouched.layers[0].keys[2]);
  assertEquals(untouched.length(0), 6, "clone is independent");

  const out = model.forward(model.embed([IDS[6]]), [6], cache);
  assertEquals(out.attention[0].length, 4);
  assertEquals(out.attention[1].length, 5);
  for (const a of out.attention) assertClose([a.reduce((x, y) => x + y, 0)], [1], 1e-12);
  assertEquals(cache.layers[0].positions, [0, 2, 5, 6]);
  assertEquals(cache.layers[1].positions, [1, 2, 3, 4, 6]);

  // Keeping everything changes nothing; dropping entries does change the output.
  const all = untouched.clone();
  all.keep(0, range(0, 6));
  const kept = model.forward(model.embed([IDS[6]]), [6], all);
  const full = model.forward(model.embed([IDS[6]]), [6], untouched.clone());
  assertClose(kept.logits, full.logits, 0);
  assert(Math.abs(out.logits[0] - full.logits[0]) > 1e-9);

  assertMatch(assertThrows(() => cache.keep(0, [2, 1]), Error).message, /increasing/);
  assertMatch(assertThrows(() => cache.keep(0, [9]), Error).message, /in range/);
});

Deno.test("RefCache: entries appended from outside are read as given", () => {
  // A decode step over a cache filled by append() equals one over the cache forward() filled.
  const { spec, store } = makeTinyLlama({ seed: 9, kvHeads: 2 });
  const model = referenceLlama(spec.text, store);
  const filled = model.newCache();
  const prefill = model.forward(model.embed(IDS.slice(0, 4)), range(0, 4), filled);
  const manual = new RefCache(spec.text.numLayers);
  prefill.newKeys.forEach((k, l) =>
    manual.append(l, Float32Array.from(k), prefill.newValues[l], range(0, 4))
  );
  const a = model.forward(model.embed([IDS[4]]), [4], filled);
  const b = model.forward(model.embed([IDS[4]]), [4], manual);
  assertClose(b.logits, a.logits, 1e-5); // keys went through float32
});

Deno.test("referenceLlama: reads the llava-hf names and rejects bad input", () => {
  const { spec, store } = makeTinyLlava({ seed: 10, tieWordEmbeddings: true });
  const model = referenceLlama(spec.text, store);
  assertEquals(model.lmHead, store.getF32("language_model.model.embed_tokens.weight"));
  assertMatch(
    assertThrows(() => model.embed([spec.text.vocabSize]), Error).message,
    /out of range/,
  );
  assertMatch(
    assertThrows(() => model.forward(new Float32Array(3), [0], model.newCache()), Error).message,
    /3 floats/,
  );
});

Deno.test("RefCache.fromKvCache: copies a runtime KvCache, ragged layers included", () => {
  const { spec, store } = makeTinyLlama({ seed: 14, kvHeads: 2 });
  const s = spec.text;
  const model = referenceLlama(s, store);
  const ref = model.newCache();
  const prefill = model.forward(model.embed(IDS.slice(0, 5)), range(0, 5), ref);
  const kv = new KvCache({ numLayers: s.numLayers, numKvHeads: s.numKvHeads, headDim: s.headDim });
  prefill.newKeys.forEach((k, l) =>
    kv.append(l, Float32Array.from(k), Float32Array.from(prefill.newValues[l]), range(0, 5))
  );
  kv.keep(1, [0, 3, 4]);
  ref.keep(1, [0, 3, 4]);
  const copy = RefCache.fromKvCache(kv);
  assertEquals(copy.layers.map((l) => l.positions), [[0, 1, 2, 3, 4], [0, 3, 4]]);
  const a = model.forward(model.embed([IDS[5]]), [5], ref);
  const b = model.forward(model.embed([IDS[5]]), [5], copy);
  assertClose(b.logits, a.logits, 1e-5); // the runtime cache stores float32
});
