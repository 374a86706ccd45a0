/**
 * The LLaMA decoder as one ONNX graph that serves prefill and decode alike, written as a page
 * of named blocks: {@link buildLlamaGraph} embeds → `decoderLayer` × L → final norm → LM head,
 * and a decoder layer is `x + attention(rmsNorm(x))`, then `x + mlp(rmsNorm(x))`.
 *
 * Inputs: `inputs_embeds [1, T, D]` (float32), `position_ids [1, T]` (int64) and, per layer `l`,
 * `past_key_l` / `past_value_l` `[1, P_l, kvHeads, headDim]` — token-major like
 * {@link KvCache}'s buffers, each `P_l` an independent symbolic dimension that may be 0, so
 * per-layer caches of different lengths are fed without padding or copies.
 *
 * Outputs: `logits [1, T, V]` (or `[1, 1, V]` for the last position only), `new_key_l` /
 * `new_value_l` `[1, T, kvHeads, headDim]` — only the new entries, keys already rotated; the
 * runtime appends them to the cache. The `importance` variant adds `importance_l [1, P_l + T]`
 * (attention averaged over heads, summed over the T queries); the `matrices` variant adds that
 * and `attention_l [1, T, P_l + T]` (head-averaged matrices). Variants are separate graphs, so
 * a run that needs no attention computes none of these reductions.
 *
 * Numerics follow Hugging Face `LlamaModel` in float32: RMSNorm, RoPE from `position_ids` with
 * the `rotate_half` convention (linear `rope_scaling` divides positions by the factor), grouped
 * query attention without repeating keys (queries of a KV group are stacked as
 * `[1, kvHeads, T·groups, headDim]`), a causal mask over the new tokens with every past entry
 * visible (query i sees keys j ≤ P_l + i), softmax, SiLU MLP, final norm and LM head.
 *
 * @module
 */
import { ropeInverseFrequencies } from "../checkpoint/rope.ts";
import type { LlamaSpec } from "../checkpoint/spec.ts";
import type { TensorStore } from "../checkpoint/tensor_store.ts";
import { GraphBuilder } from "./onnx_builder.ts";
import { linear, rmsNorm, silu } from "./layers.ts";

/** Bumped whenever the graph's structure or numerics change (part of the graph-cache key). */
export const LLAMA_GRAPH_VERSION = 2;

/** Which attention summaries the graph outputs. */
export type AttentionOutputs = "none" | "importance" | "matrices";

/** Graph variant of the decoder. */
export interface LlamaGraphOptions {
  /** Attention outputs (default `"none"`). */
  attention?: AttentionOutputs;
  /** `"all"` positions' logits (default) or only the `"last"` one (long prefills). */
  logits?: "all" | "last";
}

/** Graph input/output names of layer `l`. */
export const llamaNames = {
  pastKey: (l: number): string => `past_key_${l}`,
  pastValue: (l: number): string => `past_value_${l}`,
  newKey: (l: number): string => `new_key_${l}`,
  newValue: (l: number): string => `new_value_${l}`,
  importance: (l: number): string => `importance_${l}`,
  attention: (l: number): string => `attention_${l}`,
} as const;

/** Weight names of layer `l` under the decoder's prefix (Hugging Face layout). */
export function llamaLayerWeights(spec: LlamaSpec, l: number): Record<
  "q" | "k" | "v" | "o" | "gate" | "up" | "down" | "inputNorm" | "postNorm",
  string
> {
  const p = `${spec.prefix}layers.${l}.`;
  return {
    q: `${p}self_attn.q_proj.weight`,
    k: `${p}self_attn.k_proj.weight`,
    v: `${p}self_attn.v_proj.weight`,
    o: `${p}self_attn.o_proj.weight`,
    gate: `${p}mlp.gate_proj.weight`,
    up: `${p}mlp.up_proj.weight`,
    down: `${p}mlp.down_proj.weight`,
    inputNorm: `${p}input_layernorm.weight`,
    postNorm: `${p}post_attention_layernorm.weight`,
  };
}

/** RoPE inverse frequencies of `spec` (its scaling included), in float32 like transformers. */
export function ropeInvFreq(spec: LlamaSpec): Float32Array {
  return ropeInverseFrequencies(spec);
}

/** Builds the decoder graph of `spec` with weights read from `tensors`. */
export function buildLlamaGraph(
  spec: LlamaSpec,
  tensors: TensorStore,
  options: LlamaGraphOptions = {},
): GraphBuilder {
  checkSpec(spec);
  const attention = options.attention ?? "none";
  const lastOnly = options.logits === "last";
  const D = spec.hiddenSize;
  const g = new GraphBuilder(`llama-${attention}-${lastOnly ? "last" : "all"}`);
  const embeds = g.input("inputs_embeds", "float32", [1, "T", D]);
  const positionIds = g.input("position_ids", "int64", [1, "T"]);
  const m = decoderContext(g, spec, tensors, attention, embeds, positionIds);

  let h = g.op("Reshape", [embeds, g.constI64([-1, D])]); // [T, D]
  for (let l = 0; l < spec.numLayers; l++) h = decoderLayer(m, l, h);
  if (lastOnly) h = lastRow(g, h);
  const normed = norm(m, h, "final_norm", `${spec.prefix}norm.weight`);
  const lmHead = g.weight(
    "lm_head",
    [spec.vocabSize, D],
    tensors.getF32(spec.lmHead, [spec.vocabSize, D]),
  );
  const logits = g.op(
    "Reshape",
    [linear(g, normed, lmHead), g.constI64([1, -1, spec.vocabSize])],
    {},
    {
      outputs: ["logits"],
    },
  );
  g.output(logits, "float32", [1, lastOnly ? 1 : "T", spec.vocabSize]);
  return g;
}

/** One decoder layer: pre-norm attention and pre-norm MLP, each added to the residual stream. */
function decoderLayer(m: Decoder, l: number, h: string): string {
  const w = llamaLayerWeights(m.spec, l);
  h = m.g.op("Add", [h, attention(m, l, norm(m, h, `layer${l}.input_norm`, w.inputNorm))]);
  return m.g.op("Add", [h, mlp(m, l, norm(m, h, `layer${l}.post_norm`, w.postNorm))]);
}

/** What every block reads: the builder, the spec, the weights and values shared by all layers. */
interface Decoder {
  g: GraphBuilder;
  spec: LlamaSpec;
  tensors: TensorStore;
  attention: AttentionOutputs;
  /** Rotates `[T, heads, headDim]` by each row's position. */
  rope: (x: string) => string;
  /** `[1]` and scalar: the number of new tokens. */
  T1: string;
  T: string;
  /** `[T·G, 1]`: the new token that query row r of a KV group belongs to, ⌊r / G⌋. */
  rowToken: string;
}

function decoderContext(
  g: GraphBuilder,
  spec: LlamaSpec,
  tensors: TensorStore,
  attention: AttentionOutputs,
  embeds: string,
  positionIds: string,
): Decoder {
  const G = spec.numHeads / spec.numKvHeads;
  const T1 = g.op("Shape", [embeds], { start: 1, end: 2 }); // [1]
  const T = g.op("Squeeze", [T1, g.constI64([0])]); // scalar
  const rope = ropeBlock(g, spec, positionIds);
  const rows = g.op("Range", [
    g.constI64(0, []),
    g.op("Mul", [T, g.constI64(G, [])]),
    g.constI64(1, []),
  ]);
  const rowToken = g.op("Unsqueeze", [g.op("Div", [rows, g.constI64(G, [])]), g.constI64([1])]);
  return { g, spec, tensors, attention, rope, T1, T, rowToken };
}

/** LLaMA RMSNorm with the checkpoint's weight `name`, stored in the graph as `graphName`. */
function norm(m: Decoder, x: string, graphName: string, name: string): string {
  const D = m.spec.hiddenSize;
  return rmsNorm(
    m.g,
    x,
    m.g.weight(graphName, [D], m.tensors.getF32(name, [D])),
    m.spec.rmsNormEps,
  );
}

/**
 * RoPE with the `rotate_half` convention. The angles `[T, 1, hd/2]` are computed once from
 * `position_ids` and shared by every layer; they broadcast over heads.
 */
function ropeBlock(g: GraphBuilder, spec: LlamaSpec, positionIds: string): (x: string) => string {
  const hd = spec.headDim;
  // The scaling (linear, llama3) lives in the inverse frequencies, as in transformers.
  const pos = g.op("Cast", [g.op("Reshape", [positionIds, g.constI64([-1])])], { to: 1 });
  const angles = g.op("Unsqueeze", [
    g.op("Mul", [g.op("Unsqueeze", [pos, g.constI64([1])]), g.constF32(ropeInvFreq(spec))]),
    g.constI64([1]),
  ]);
  const cos = g.op("Cos", [angles]);
  const sin = g.op("Sin", [angles]);
  const half = g.constI64([hd / 2, hd / 2]);
  return (x) => {
    const [x1, x2] = g.ops("Split", [x, half], { axis: 2 }, { count: 2 });
    const out1 = g.op("Sub", [g.op("Mul", [x1, cos]), g.op("Mul", [x2, sin])]);
    const out2 = g.op("Add", [g.op("Mul", [x2, cos]), g.op("Mul", [x1, sin])]);
    return g.op("Concat", [out1, out2], { axis: 2 });
  };
}

/**
 * Grouped-query self-attention of layer `l` over the layer's past entries and the new ones;
 * outputs the new keys (rotated) and values, and the attention summaries the variant asks for.
 * Returns the output projection `[T, D]`.
 */
function attention(m: Decoder, l: number, x: string): string {
  const { g, spec } = m;
  const { hiddenSize: D, numHeads: H, numKvHeads: kvH, headDim: hd } = spec;
  const G = H / kvH;
  const w = llamaLayerWeights(spec, l);
  const pastK = g.input(llamaNames.pastKey(l), "float32", [1, `P_${l}`, kvH, hd]);
  const pastV = g.input(llamaNames.pastValue(l), "float32", [1, `P_${l}`, kvH, hd]);

  const qkvW = g.weight(
    `layer${l}.qkv`,
    [(H + 2 * kvH) * hd, D],
    concatRows([
      m.tensors.getF32(w.q, [H * hd, D]),
      m.tensors.getF32(w.k, [kvH * hd, D]),
      m.tensors.getF32(w.v, [kvH * hd, D]),
    ]),
  );
  const split = g.constI64([H * hd, kvH * hd, kvH * hd]);
  const [q, k, v] = g.ops("Split", [linear(g, x, qkvW), split], { axis: 1 }, { count: 3 });
  const q3 = m.rope(g.op("Reshape", [q, g.constI64([-1, H, hd])])); // [T, H, hd]
  const k3 = m.rope(g.op("Reshape", [k, g.constI64([-1, kvH, hd])])); // [T, kvH, hd]
  const newK = g.op("Unsqueeze", [k3, g.constI64([0])], {}, { outputs: [llamaNames.newKey(l)] });
  const newV = g.op("Reshape", [v, g.constI64([1, -1, kvH, hd])], {}, {
    outputs: [llamaNames.newValue(l)],
  });
  g.output(newK, "float32", [1, "T", kvH, hd]);
  g.output(newV, "float32", [1, "T", kvH, hd]);

  const keysT = g.op("Transpose", [g.op("Concat", [pastK, newK], { axis: 1 })], {
    perm: [0, 2, 3, 1],
  }); // [1, kvH, hd, S]
  const values = g.op("Transpose", [g.op("Concat", [pastV, newV], { axis: 1 })], {
    perm: [0, 2, 1, 3],
  }); // [1, kvH, S, hd]
  // Queries grouped by KV head: [T, H, hd] → [kvH, T, G·hd] → [1, kvH, T·G, hd].
  const qGrouped = g.op("Reshape", [
    g.op("Transpose", [
      g.op("Reshape", [
        g.op("Mul", [q3, g.constF32(1 / Math.sqrt(hd), [])]),
        g.constI64([-1, kvH, G * hd]),
      ]),
    ], { perm: [1, 0, 2] }),
    g.constI64([1, kvH, -1, hd]),
  ]);
  const scores = g.op("MatMul", [qGrouped, keysT]); // [1, kvH, T·G, S]

  // Query row r (new token ⌊r / G⌋) may see cache columns ≤ P_l + ⌊r / G⌋.
  const P1 = g.op("Shape", [pastK], { start: 1, end: 2 });
  const S = g.op("Add", [g.op("Squeeze", [P1, g.constI64([0])]), m.T]);
  const cols = g.op("Range", [g.constI64(0, []), S, g.constI64(1, [])]);
  const visible = g.op("LessOrEqual", [cols, g.op("Add", [m.rowToken, P1])]); // [T·G, S]
  const probs = g.op("Softmax", [g.op("Where", [visible, scores, g.constF32(-Infinity, [])])], {
    axis: -1,
  });
  attentionSummaries(m, l, probs, S);

  // Context back to [T, H·hd] with head index kv·G + group, as the o_proj weight expects.
  const ctx = g.op("Reshape", [
    g.op("Transpose", [
      g.op("Reshape", [g.op("MatMul", [probs, values]), g.constI64([kvH, -1, G * hd])]),
    ], { perm: [1, 0, 2] }),
    g.constI64([-1, H * hd]),
  ]);
  return linear(g, ctx, g.weight(`layer${l}.o`, [D, H * hd], m.tensors.getF32(w.o, [D, H * hd])));
}

/**
 * The attention summaries of layer `l` from its probabilities `[1, kvH, T·G, S]`: PrefixKV's
 * importance (head mean, summed over queries) `[1, S]` and, for `matrices`, the head-averaged
 * matrix `[1, T, S]`. Nothing for the `none` variant.
 */
function attentionSummaries(m: Decoder, l: number, probs: string, S: string): void {
  const { g, spec } = m;
  const invHeads = g.constF32(1 / spec.numHeads, []);
  if (m.attention === "importance") {
    // Two single-axis sums: onnxruntime's ReduceSum over axes [1, 2] at once is several times
    // slower at long prompts than summing the query rows first, then the KV heads.
    const perHead = g.op("ReduceSum", [probs, g.constI64([2])], { keepdims: 0 });
    const summed = g.op("ReduceSum", [perHead, g.constI64([1])], { keepdims: 0 });
    const imp = g.op("Mul", [summed, invHeads], {}, { outputs: [llamaNames.importance(l)] });
    g.output(imp, "float32", [1, `S_${l}`]);
  } else if (m.attention === "matrices") {
    const G = spec.numHeads / spec.numKvHeads;
    const shape5 = g.op("Concat", [
      g.constI64([1, spec.numKvHeads]),
      m.T1,
      g.constI64([G]),
      g.op("Unsqueeze", [S, g.constI64([0])]),
    ], { axis: 0 });
    const perQuery = g.op("ReduceSum", [g.op("Reshape", [probs, shape5]), g.constI64([1, 3])], {
      keepdims: 0,
    });
    const att = g.op("Mul", [perQuery, invHeads], {}, { outputs: [llamaNames.attention(l)] }); // [1, T, S]
    const imp = g.op("ReduceSum", [att, g.constI64([1])], { keepdims: 0 }, {
      outputs: [llamaNames.importance(l)],
    });
    g.output(imp, "float32", [1, `S_${l}`]);
    g.output(att, "float32", [1, "T", `S_${l}`]);
  }
}

/** The SwiGLU MLP of layer `l`: `down(silu(gate(x)) · up(x))`, gate and up as one Gemm. */
function mlp(m: Decoder, l: number, x: string): string {
  const { g, spec, tensors } = m;
  const { hiddenSize: D, intermediateSize: I } = spec;
  const w = llamaLayerWeights(spec, l);
  const guW = g.weight(
    `layer${l}.gate_up`,
    [2 * I, D],
    concatRows([tensors.getF32(w.gate, [I, D]), tensors.getF32(w.up, [I, D])]),
  );
  const [gate, up] = g.ops("Split", [linear(g, x, guW), g.constI64([I, I])], { axis: 1 }, {
    count: 2,
  });
  const downW = g.weight(`layer${l}.down`, [D, I], tensors.getF32(w.down, [D, I]));
  return linear(g, g.op("Mul", [silu(g, gate), up]), downW);
}

/** The last row of `[T, D]`, as `[1, D]`. */
function lastRow(g: GraphBuilder, h: string): string {
  return g.op("Slice", [
    h,
    g.constI64([-1]),
    g.constI64([Number.MAX_SAFE_INTEGER]),
    g.constI64([0]),
  ]);
}

function checkSpec(spec: LlamaSpec): void {
  if (spec.numHeads % spec.numKvHeads !== 0) {
    throw new Error(
      `LlamaSpec: numHeads ${spec.numHeads} is not a multiple of numKvHeads ${spec.numKvHeads}`,
    );
  }
  if (spec.headDim % 2 !== 0) {
    throw new Error(`LlamaSpec: headDim ${spec.headDim} must be even for RoPE`);
  }
}

function concatRows(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
