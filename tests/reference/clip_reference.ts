/**
 * An independent CLIP vision tower, LLaVA projector and prompt assembly in plain loops
 * (float64), mirroring Hugging Face `CLIPVisionModel` + `LlavaMultiModalProjector`:
 *
 * - Patches: a stride-`P` convolution without bias, patches in row-major grid order, a class
 *   embedding in front, learned position embeddings added, then `pre_layrnorm`.
 * - Encoder layer: `x += attn(LN1(x))`, `x += fc2(act(fc1(LN2(x))))`, full (unmasked)
 *   multi-head attention with biases and scale `hd^-0.5`.
 * - Hidden states: `[after pre_layrnorm, after layer 1, …, after layer L]`; LLaVA picks
 *   `vision_feature_layer` from that list (negative counts from the end) and, with the
 *   `default` strategy, drops the CLS row. `post_layernorm` is not used.
 * - Projector: `linear_2(gelu(linear_1(x)))` with the exact (erf) GELU.
 *
 * @module
 */

import type { ClipVisionSpec, ModelSpec, ProjectorSpec } from "../../lib/checkpoint/spec.ts";
import type { TensorStore } from "../../lib/checkpoint/tensor_store.ts";
import { linear, ReferenceLlama, softmaxInPlace } from "./llama_reference.ts";

/** The error function to ~1e-14: Taylor series near 0, a continued fraction for erfc beyond. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/√π · Σ (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= -(ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (ax > 6) return Math.sign(x);
  // erfc(x) = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated from the tail.
  let f = ax;
  for (let k = 120; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * f);
  return Math.sign(x) * (1 - erfc);
}

/** Exact GELU, `x · Φ(x)`. */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** CLIP's QuickGELU, `x · σ(1.702 x)`. */
export function quickGelu(x: number): number {
  return x / (1 + Math.exp(-1.702 * x));
}

/** LayerNorm of each `dim`-row of `x` (biased variance, as PyTorch). */
export function layerNorm(
  x: Float64Array,
  dim: number,
  w: Float32Array,
  b: Float32Array,
  eps: number,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[r * dim + i];
    mean /= dim;
    let variance = 0;
    for (let i = 0; i < dim; i++) variance += (x[r * dim + i] - mean) ** 2;
    variance /= dim;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = (x[r * dim + i] - mean) * inv * w[i] + b[i];
  }
  return y;
}

interface Linear {
  w: Float32Array;
  b: Float32Array;
}

interface ClipLayerWeights {
  ln1: Linear;
  q: Linear;
  k: Linear;
  v: Linear;
  out: Linear;
  ln2: Linear;
  fc1: Linear;
  fc2: Linear;
}

/** The reference CLIP vision tower; weights are read once at construction. */
export class ReferenceClip {
  readonly patchWeight: Float32Array;
  readonly classEmbedding: Float32Array;
  readonly positionEmbedding: Float32Array;
  readonly preNorm: Linear;
  readonly layers: ClipLayerWeights[];
  /** Patches per side. */
  readonly grid: number;

  constructor(readonly spec: ClipVisionSpec, store: TensorStore) {
    const { hiddenSize: D, intermediateSize: F, patchSize: P, numChannels: C } = spec;
    this.grid = spec.imageSize / P;
    const p = spec.prefix;
    const lin = (name: string, out: number, inp?: number): Linear => ({
      w: store.getF32(`${name}.weight`, inp === undefined ? [out] : [out, inp]),
      b: store.getF32(`${name}.bias`, [out]),
    });
    this.patchWeight = store.getF32(`${p}embeddings.patch_embedding.weight`, [D, C, P, P]);
    this.classEmbedding = store.getF32(`${p}embeddings.class_embedding`, [D]);
    this.positionEmbedding = store.getF32(`${p}embeddings.position_embedding.weight`, [
      this.grid * this.grid + 1,
      D,
    ]);
    this.preNorm = lin(`${p}pre_layrnorm`, D);
    this.layers = [];
    for (let i = 0; i < spec.numLayers; i++) {
      const l = `${p}encoder.layers.${i}.`;
      this.layers.push({
        ln1: lin(`${l}layer_norm1`, D),
        q: lin(`${l}self_attn.q_proj`, D, D),
        k: lin(`${l}self_attn.k_proj`, D, D),
        v: lin(`${l}self_attn.v_proj`, D, D),
        out: lin(`${l}self_attn.out_proj`, D, D),
        ln2: lin(`${l}layer_norm2`, D),
        fc1: lin(`${l}mlp.fc1`, F, D),
        fc2: lin(`${l}mlp.fc2`, D, F),
      });
    }
  }

  /** Embeddings `[1 + patches, D]` (CLS first) before `pre_layrnorm`. */
  embeddings(pixels: ArrayLike<number>): Float64Array {
    const { hiddenSize: D, patchSize: P, numChannels: C, imageSize: S } = this.spec;
    if (pixels.length !== C * S * S) {
      throw new Error(
        `pixels: expected ${C}×${S}×${S} = ${C * S * S} floats, got ${pixels.length}`,
      );
    }
    const N = this.grid * this.grid;
    const x = new Float64Array((N + 1) * D);
    for (let d = 0; d < D; d++) x[d] = this.classEmbedding[d];
    for (let gy = 0; gy < this.grid; gy++) {
      for (let gx = 0; gx < this.grid; gx++) {
        const row = 1 + gy * this.grid + gx;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let c = 0; c < C; c++) {
            for (let py = 0; py < P; py++) {
              for (let px = 0; px < P; px++) {
                const pixel = pixels[(c * S + gy * P + py) * S + gx * P + px];
                acc += pixel * this.patchWeight[((d * C + c) * P + py) * P + px];
              }
            }
          }
          x[row * D + d] = acc;
        }
      }
    }
    for (let i = 0; i < x.length; i++) x[i] += this.positionEmbedding[i];
    return x;
  }

  /** All hidden states: after `pre_layrnorm`, then after each encoder layer. */
  hiddenStates(pixels: ArrayLike<number>): Float64Array[] {
    const { hiddenSize: D, numHeads: H, intermediateSize: F, layerNormEps: eps } = this.spec;
    const T = this.grid * this.grid + 1;
    const hd = D / H;
    const scale = hd ** -0.5;
    const act = this.spec.hiddenAct === "quick_gelu" ? quickGelu : gelu;

    let x = layerNorm(this.embeddings(pixels), D, this.preNorm.w, this.preNorm.b, eps);
    const states = [x];
    for (const w of this.layers) {
      const h = layerNorm(x, D, w.ln1.w, w.ln1.b, eps);
      const q = linear(h, T, w.q.w, D, D, w.q.b);
      const k = linear(h, T, w.k.w, D, D, w.k.b);
      const v = linear(h, T, w.v.w, D, D, w.v.b);
      const ctx = new Float64Array(T * D);
      for (let head = 0; head < H; head++) {
        for (let t = 0; t < T; t++) {
          const scores = new Float64Array(T);
          for (let j = 0; j < T; j++) {
            let dot = 0;
            for (let d = 0; d < hd; d++) dot += q[t * D + head * hd + d] * k[j * D + head * hd + d];
            scores[j] = dot * scale;
          }
          softmaxInPlace(scores);
          for (let j = 0; j < T; j++) {
            for (let d = 0; d < hd; d++) {
              ctx[t * D + head * hd + d] += scores[j] * v[j * D + head * hd + d];
            }
          }
        }
      }
      const attn = linear(ctx, T, w.out.w, D, D, w.out.b);
      x = x.map((xi, i) => xi + attn[i]);

      const h2 = layerNorm(x, D, w.ln2.w, w.ln2.b, eps);
      const mid = linear(h2, T, w.fc1.w, F, D, w.fc1.b).map(act);
      const out = linear(mid, T, w.fc2.w, D, F, w.fc2.b);
      x = x.map((xi, i) => xi + out[i]);
      states.push(x);
    }
    return states;
  }

  /** The selected feature rows `[patches (+1 with "full"), D]` that feed the projector. */
  features(pixels: ArrayLike<number>): Float64Array {
    const states = this.hiddenStates(pixels);
    const index = this.spec.featureLayer < 0
      ? states.length + this.spec.featureLayer
      : this.spec.featureLayer;
    if (index < 0 || index >= states.length) {
      throw new Error(`featureLayer ${this.spec.featureLayer} is outside ${states.length} states`);
    }
    const chosen = states[index];
    return this.spec.selectStrategy === "default" ? chosen.slice(this.spec.hiddenSize) : chosen;
  }
}

/** The reference `mlp2x_gelu` projector. */
export class ReferenceProjector {
  readonly linear1: Linear;
  readonly linear2: Linear;

  constructor(readonly spec: ProjectorSpec, store: TensorStore) {
    const { inDim, outDim } = spec;
    this.linear1 = {
      w: store.getF32(`${spec.linear1}.weight`, [outDim, inDim]),
      b: store.getF32(`${spec.linear1}.bias`, [outDim]),
    };
    this.linear2 = {
      w: store.getF32(`${spec.linear2}.weight`, [outDim, outDim]),
      b: store.getF32(`${spec.linear2}.bias`, [outDim]),
    };
  }

  /** Projects `[n, inDim]` rows to `[n, outDim]`. */
  project(x: Float64Array): Float64Array {
    const { inDim, outDim } = this.spec;
    const n = x.length / inDim;
    const mid = linear(x, n, this.linear1.w, outDim, inDim, this.linear1.b).map(gelu);
    return linear(mid, n, this.linear2.w, outDim, outDim, this.linear2.b);
  }
}

/** A whole reference LLaVA: vision tower, projector and decoder. */
export class ReferenceLlava {
  readonly clip: ReferenceClip;
  readonly projector: ReferenceProjector;
  readonly llama: ReferenceLlama;

  constructor(readonly spec: ModelSpec, store: TensorStore) {
    if (!spec.vision || !spec.projector || spec.imageTokenId === undefined) {
      throw new Error(`ReferenceLlava needs a llava spec (vision, projector, imageTokenId)`);
    }
    this.clip = new ReferenceClip(spec.vision, store);
    this.projector = new ReferenceProjector(spec.projector, store);
    this.llama = new ReferenceLlama(spec.text, store);
  }

  /** Image features in the decoder's space, `[imageTokens, textHidden]`. */
  imageFeatures(pixels: ArrayLike<number>): Float64Array {
    return this.projector.project(this.clip.features(pixels));
  }

  /**
   * Prompt embeddings `[T, textHidden]` for `ids`, whose single `<image>` token is replaced by
   * the image's feature rows. Returns where the image rows start and how many there are.
   */
  promptEmbeddings(
    ids: readonly number[],
    pixels: ArrayLike<number>,
  ): { embeds: Float64Array; imageStart: number; imageLength: number; length: number } {
    const at = ids.indexOf(this.spec.imageTokenId!);
    if (at < 0 || ids.indexOf(this.spec.imageTokenId!, at + 1) >= 0) {
      throw new Error(`promptEmbeddings: the prompt must hold exactly one image token`);
    }
    const D = this.spec.text.hiddenSize;
    const image = this.imageFeatures(pixels);
    const n = image.length / D;
    const before = this.llama.embed(ids.slice(0, at));
    const after = this.llama.embed(ids.slice(at + 1));
    const embeds = new Float64Array(before.length + image.length + after.length);
    embeds.set(before, 0);
    embeds.set(image, before.length);
    embeds.set(after, before.length + image.length);
    return { embeds, imageStart: at, imageLength: n, length: embeds.length / D };
  }
}

/** Loads a reference LLaVA described by `spec` from `store`. */
export function referenceLlava(spec: ModelSpec, store: TensorStore): ReferenceLlava {
  return new ReferenceLlava(spec, store);
}
