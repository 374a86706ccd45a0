/**
 * An independent LLaMA forward pass in plain loops (float64 throughout), the yardstick the ONNX
 * runtime is compared against. Written for clarity, not speed: every step is spelled out the
 * way the Hugging Face `LlamaForCausalLM` defines it.
 *
 * - RMSNorm: `x / sqrt(mean(x²) + eps) · w`.
 * - RoPE, "rotate half" convention: dimension `i` pairs with `i + hd/2`, both rotated by the
 *   angle `pos · theta^(-2i/hd)`; linear scaling divides the position by the factor.
 * - Grouped-query attention: query head `h` reads KV head `floor(h / (H / kvH))`.
 * - New tokens attend to every cached entry and causally (by order) to each other.
 * - MLP: `down(silu(gate(x)) · up(x))`. The LM head is `embed_tokens` when tied.
 *
 * The cache holds keys after RoPE (as Hugging Face caches them) with each entry's position.
 *
 * @module
 */

import type { LlamaSpec } from "../../lib/checkpoint/spec.ts";
import type { TensorStore } from "../../lib/checkpoint/tensor_store.ts";

/** One layer of a {@link RefCache}: rows of `kvHeads · headDim` floats with their positions. */
export interface RefCacheLayer {
  keys: Float64Array[];
  values: Float64Array[];
  positions: number[];
}

/** A per-layer key/value cache of float64 rows; layers may hold different entries. */
export class RefCache {
  readonly layers: RefCacheLayer[];

  constructor(numLayers: number) {
    this.layers = Array.from(
      { length: numLayers },
      () => ({ keys: [], values: [], positions: [] }),
    );
  }

  /** Entries held by `layer`. */
  length(layer: number): number {
    return this.layers[layer].positions.length;
  }

  /**
   * Appends `keys`/`values` (`[n, kvHeads, headDim]` flattened, `rowSize` floats per entry)
   * with their positions to `layer`.
   */
  append(
    layer: number,
    keys: ArrayLike<number>,
    values: ArrayLike<number>,
    positions: ArrayLike<number>,
  ): void {
    const n = positions.length;
    if (n === 0) return;
    if (keys.length !== values.length || keys.length % n !== 0) {
      throw new Error(`RefCache.append: ${keys.length} key and ${values.length} value floats`);
    }
    const row = keys.length / n;
    const l = this.layers[layer];
    for (let i = 0; i < n; i++) {
      l.keys.push(Float64Array.from(Array.prototype.slice.call(keys, i * row, (i + 1) * row)));
      l.values.push(Float64Array.from(Array.prototype.slice.call(values, i * row, (i + 1) * row)));
      l.positions.push(positions[i]);
    }
  }

  /** Keeps only the entries at `indices` (strictly increasing) of `layer`, in order. */
  keep(layer: number, indices: readonly number[]): void {
    const l = this.layers[layer];
    for (let i = 0; i < indices.length; i++) {
      const ok = indices[i] >= 0 && indices[i] < l.positions.length &&
        (i === 0 || indices[i] > indices[i - 1]);
      if (!ok) throw new Error(`RefCache.keep: indices must be increasing and in range`);
    }
    l.keys = indices.map((i) => l.keys[i]);
    l.values = indices.map((i) => l.values[i]);
    l.positions = indices.map((i) => l.positions[i]);
  }

  /** A float64 copy of a runtime cache (anything with per-layer keys/values/positions views). */
  static fromKvCache(kv: {
    numLayers: number;
    keys(layer: number): ArrayLike<number>;
    values(layer: number): ArrayLike<number>;
    positions(layer: number): ArrayLike<number>;
  }): RefCache {
    const c = new RefCache(kv.numLayers);
    for (let l = 0; l < kv.numLayers; l++) c.append(l, kv.keys(l), kv.values(l), kv.positions(l));
    return c;
  }

  /** An independent copy. */
  clone(): RefCache {
    const c = new RefCache(this.layers.length);
    this.layers.forEach((l, i) => {
      c.layers[i].keys = l.keys.map((r) => r.slice());
      c.layers[i].values = l.values.map((r) => r.slice());
      c.layers[i].positions = [...l.positions];
    });
    return c;
  }
}

/** What one forward call returns. All arrays are row-major. */
export interface RefOutput {
  /** `[T, vocab]`. */
  logits: Float64Array;
  /**
   * Per layer, `[T, S]` attention probabilities averaged over heads, where `S` is the layer's
   * cache length before the call plus `T`: columns are the old entries in cache order, then
   * the new tokens (zero above the causal diagonal).
   */
  attention: Float64Array[];
  /**
   * Per layer, `[heads, T, S]`: every query head's attention probabilities, columns as in
   * `attention` (whose entries are their mean over heads).
   */
  headAttention: Float64Array[];
  /** Per layer, the new tokens' keys after RoPE, `[T, kvHeads, headDim]`. */
  newKeys: Float64Array[];
  /** Per layer, the new tokens' values, `[T, kvHeads, headDim]`. */
  newValues: Float64Array[];
  /** Final hidden states after the last norm, `[T, hidden]`. */
  hidden: Float64Array;
}

/** `y[T, out] = x[T, in] · Wᵀ` for a PyTorch-layout weight `W[out, in]`. */
export function linear(
  x: ArrayLike<number>,
  T: number,
  w: Float32Array,
  outDim: number,
  inDim: number,
  bias?: Float32Array,
): Float64Array {
  const y = new Float64Array(T * outDim);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < outDim; o++) {
      let acc = bias ? bias[o] : 0;
      for (let i = 0; i < inDim; i++) acc += x[t * inDim + i] * w[o * inDim + i];
      y[t * outDim + o] = acc;
    }
  }
  return y;
}

/** RMSNorm of each `dim`-row of `x`. */
export function rmsNorm(x: Float64Array, dim: number, w: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * inv * w[i];
  }
  return y;
}

/**
 * Llama 3.1's RoPE scaling as per-frequency divisors of `θ^(−2i/d)`, in float64 from the formula
 * (1 everywhere for the other types; the linear factor is `applyRope`'s `scaleFactor`).
 */
export function llama3Divisors(spec: LlamaSpec): Float64Array {
  const half = spec.headDim / 2;
  const out = new Float64Array(half).fill(1);
  const s = spec.ropeScaling;
  if (s?.type !== "llama3") return out;
  const L = s.originalMaxPositionEmbeddings;
  for (let i = 0; i < half; i++) {
    const wavelen = 2 * Math.PI * spec.ropeTheta ** ((2 * i) / spec.headDim);
    if (wavelen > L / s.lowFreqFactor) out[i] = s.factor;
    else if (wavelen >= L / s.highFreqFactor) {
      const smooth = (L / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

/**
 * Rotates, in place, the `headDim` floats of `x` starting at `offset` by RoPE for `position`;
 * frequency `i` is further divided by `divisors[i]` when given.
 */
export function applyRope(
  x: Float64Array,
  offset: number,
  headDim: number,
  position: number,
  theta: number,
  scaleFactor = 1,
  divisors?: ArrayLike<number>,
): void {
  const half = headDim / 2;
  const pos = position / scaleFactor;
  for (let i = 0; i < half; i++) {
    const angle = pos * theta ** (-(2 * i) / headDim) / (divisors?.[i] ?? 1);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    const a = x[offset + i];
    const b = x[offset + i + half];
    x[offset + i] = a * c - b * s;
    x[offset + i + half] = b * c + a * s;
  }
}

/** Softmax of `x` in place (subtracting the maximum first). */
export function softmaxInPlace(x: Float64Array): void {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    x[i] = Math.exp(x[i] - max);
    sum += x[i];
  }
  for (let i = 0; i < x.length; i++) x[i] /= sum;
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

interface LayerWeights {
  inputNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  o: Float32Array;
  postNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

/** The reference decoder; weights are read once at construction. */
export class ReferenceLlama {
  readonly embedTokens: Float32Array;
  readonly layers: LayerWeights[];
  readonly finalNorm: Float32Array;
  readonly lmHead: Float32Array;

  constructor(readonly spec: LlamaSpec, store: TensorStore) {
    const { hiddenSize: D, intermediateSize: F, numHeads: H, numKvHeads: KV, headDim } = spec;
    const p = spec.prefix;
    const get = (name: string, shape: number[]) => store.getF32(name, shape);
    this.embedTokens = get(`${p}embed_tokens.weight`, [spec.vocabSize, D]);
    this.layers = [];
    for (let i = 0; i < spec.numLayers; i++) {
      const l = `${p}layers.${i}.`;
      this.layers.push({
        inputNorm: get(`${l}input_layernorm.weight`, [D]),
        q: get(`${l}self_attn.q_proj.weight`, [H * headDim, D]),
        k: get(`${l}self_attn.k_proj.weight`, [KV * headDim, D]),
        v: get(`${l}self_attn.v_proj.weight`, [KV * headDim, D]),
        o: get(`${l}self_attn.o_proj.weight`, [D, H * headDim]),
        postNorm: get(`${l}post_attention_layernorm.weight`, [D]),
        gate: get(`${l}mlp.gate_proj.weight`, [F, D]),
        up: get(`${l}mlp.up_proj.weight`, [F, D]),
        down: get(`${l}mlp.down_proj.weight`, [D, F]),
      });
    }
    this.finalNorm = get(`${p}norm.weight`, [D]);
    this.lmHead = get(spec.lmHead, [spec.vocabSize, D]);
  }

  /** An empty cache shaped for this model. */
  newCache(): RefCache {
    return new RefCache(this.spec.numLayers);
  }

  /** Token embeddings, `[ids.length, hidden]`. */
  embed(ids: readonly number[]): Float64Array {
    const D = this.spec.hiddenSize;
    const out = new Float64Array(ids.length * D);
    ids.forEach((id, t) => {
      if (!(id >= 0 && id < this.spec.vocabSize)) throw new Error(`token id ${id} out of range`);
      for (let i = 0; i < D; i++) out[t * D + i] = this.embedTokens[id * D + i];
    });
    return out;
  }

  /**
   * Runs `T` new tokens (`embeds`, `[T, hidden]`) at `positions` on top of `cache`, then
   * appends their keys and values to `cache`.
   */
  forward(embeds: ArrayLike<number>, positions: readonly number[], cache: RefCache): RefOutput {
    const { hiddenSize: D, numHeads: H, numKvHeads: KV, headDim: hd, vocabSize } = this.spec;
    const T = positions.length;
    if (embeds.length !== T * D) {
      throw new Error(`forward: ${embeds.length} floats for ${T} positions of width ${D}`);
    }
    const factor = this.spec.ropeScaling?.type === "linear" ? this.spec.ropeScaling.factor : 1;
    const divisors = llama3Divisors(this.spec);
    const group = H / KV;
    const scale = 1 / Math.sqrt(hd);

    let x = Float64Array.from(embeds);
    const attention: Float64Array[] = [];
    const headAttention: Float64Array[] = [];
    const newKeys: Float64Array[] = [];
    const newValues: Float64Array[] = [];

    this.layers.forEach((w, layer) => {
      // --- attention block ---
      const h = rmsNorm(x, D, w.inputNorm, this.spec.rmsNormEps);
      const q = linear(h, T, w.q, H * hd, D);
      const k = linear(h, T, w.k, KV * hd, D);
      const v = linear(h, T, w.v, KV * hd, D);
      const theta = this.spec.ropeTheta;
      for (let t = 0; t < T; t++) {
        for (let hh = 0; hh < H; hh++) {
          applyRope(q, (t * H + hh) * hd, hd, positions[t], theta, factor, divisors);
        }
        for (let hh = 0; hh < KV; hh++) {
          applyRope(k, (t * KV + hh) * hd, hd, positions[t], theta, factor, divisors);
        }
      }

      const old = cache.layers[layer];
      const P = old.positions.length;
      const S = P + T;
      const keyAt = (j: number, kvh: number, d: number) =>
        j < P ? old.keys[j][kvh * hd + d] : k[((j - P) * KV + kvh) * hd + d];
      const valueAt = (j: number, kvh: number, d: number) =>
        j < P ? old.values[j][kvh * hd + d] : v[((j - P) * KV + kvh) * hd + d];

      const attnOut = new Float64Array(T * H * hd);
      const probsMean = new Float64Array(T * S);
      const probsHeads = new Float64Array(H * T * S);
      for (let t = 0; t < T; t++) {
        const visible = P + t + 1; // all cached entries, then new tokens up to t
        for (let head = 0; head < H; head++) {
          const kvh = Math.floor(head / group);
          const scores = new Float64Array(visible);
          for (let j = 0; j < visible; j++) {
            let dot = 0;
            for (let d = 0; d < hd; d++) dot += q[(t * H + head) * hd + d] * keyAt(j, kvh, d);
            scores[j] = dot * scale;
          }
          softmaxInPlace(scores);
          for (let j = 0; j < visible; j++) {
            probsMean[t * S + j] += scores[j] / H;
            probsHeads[(head * T + t) * S + j] = scores[j];
            for (let d = 0; d < hd; d++) {
              attnOut[(t * H + head) * hd + d] += scores[j] * valueAt(j, kvh, d);
            }
          }
        }
      }
      attention.push(probsMean);
      headAttention.push(probsHeads);
      newKeys.push(k);
      newValues.push(v);
      const o = linear(attnOut, T, w.o, D, H * hd);
      x = x.map((xi, i) => xi + o[i]);

      // --- MLP block ---
      const F = this.spec.intermediateSize;
      const h2 = rmsNorm(x, D, w.postNorm, this.spec.rmsNormEps);
      const gate = linear(h2, T, w.gate, F, D);
      const up = linear(h2, T, w.up, F, D);
      const act = gate.map((g, i) => silu(g) * up[i]);
      const down = linear(act, T, w.down, D, F);
      x = x.map((xi, i) => xi + down[i]);
    });

    // The cache grows only after every layer has read its old entries.
    newKeys.forEach((k, layer) => cache.append(layer, k, newValues[layer], positions));

    const hidden = rmsNorm(x, D, this.finalNorm, this.spec.rmsNormEps);
    const logits = linear(hidden, T, this.lmHead, vocabSize, D);
    return { logits, attention, headAttention, newKeys, newValues, hidden };
  }
}

/** Loads the reference decoder described by `spec` from `store`. */
export function referenceLlama(spec: LlamaSpec, store: TensorStore): ReferenceLlama {
  return new ReferenceLlama(spec, store);
}
