/**
 * The LLaMA decoder as one ONNX graph that serves prefill and decode alike, written as a page
 * of named blocks: {@link buildLlamaGraph} embeds → `decoderLayer` × L → final norm → LM head,
 * and a decoder layer is `x + attention(rmsNorm(x))`, then `x + mlp(rmsNorm(x))`.
 *
 * Inputs: `inputs_embeds [B, T, D]` (float32), `position_ids [B, T]` (int64) and, per layer
 * `l`, `past_key_l` / `past_value_l` `[P_l, B, kvHeads, headDim]` — token-major like
 * {@link KvCache}'s buffers (a cache row holds one entry of every sample), each `P_l` an
 * independent symbolic dimension, so per-layer caches of different lengths are fed as views
 * of the cache's buffers, without padding or copies — and `past_bias [L]`, added to every past
 * score of a layer: 0, or −∞ for an empty layer (a prefill), which is fed one placeholder row
 * because onnxruntime's strided GEMM does not take an empty matrix. The placeholder gets
 * exactly zero attention, so a prefill computes what a graph without past inputs would.
 *
 * Outputs: `logits [B, T, V]` (or `[B, 1, V]` for the last position only), `new_key_l` /
 * `new_value_l` `[T, B, kvHeads, headDim]` — only the new entries, keys already rotated, in the
 * cache's row layout; the runtime appends them. The `importance` variant adds
 * `importance_l [B, P_l + T]` (attention averaged over heads, summed over the T queries; the
 * placeholder's column included); the `matrices` variant adds that and
 * `attention_l [B, T, P_l + T]` (head-averaged matrices); the `headMatrices` variant adds both
 * and `attention_heads_l [B, heads, T, P_l + T]`, every query head's probabilities (head
 * `h` reads KV head ⌊h / (heads / kvHeads)⌋, as in transformers), whose mean over heads is
 * `attention_l`.
 * Variants are separate graphs, so a run that needs no attention computes none of these.
 *
 * No step copies the cache: the past and the new entries are attended separately and only
 * their scores are joined. onnxruntime's `FusedMatMul` with `transBatchB` reads the past keys
 * and values in place, in their token-major layout (a strided batched GEMM), so a step reads
 * each kept entry once; the new entries' scores (T columns) are masked causally and
 * concatenated to the past ones (P columns, all visible) before one softmax, and the context
 * is the sum of the two parts' products with their values.
 *
 * Numerics follow Hugging Face `LlamaModel` in float32: RMSNorm, RoPE from `position_ids` with
 * the `rotate_half` convention (scaling lives in the inverse frequencies), grouped-query
 * attention without repeating keys (queries of a KV group are stacked as
 * `[B, kvHeads, T·groups, headDim]`), a causal mask over the new tokens with every past entry
 * visible (query i sees keys j ≤ P_l + i), softmax, SiLU MLP, final norm and LM head.
 *
 * @module
 */
import { ropeInverseFrequencies } from "../checkpoint/rope.ts";
import type { LlamaSpec } from "../checkpoint/spec.ts";
import type { TensorStore } from "../checkpoint/tensor_store.ts";
import { GraphBuilder, type RegionPart, type TensorData } from "./onnx_builder.ts";
import type { WeightFormat } from "../checkpoint/quantize.ts";
import { lazyTensor, rmsNorm, silu } from "./layers.ts";
import { projection } from "./projection.ts";

/** Bumped whenever the graph's structure or numerics change (part of the graph-cache key). */
export const LLAMA_GRAPH_VERSION = 4;

/**
 * Which attention summaries the graph outputs: none, the importance vectors, those and the
 * head-averaged matrices, or all of that and every head's matrix (each level includes the
 * ones before it).
 */
export type AttentionOutputs = "none" | "importance" | "matrices" | "headMatrices";

/** Graph variant of the decoder. */
export interface LlamaGraphOptions {
  /** Attention outputs (default `"none"`). */
  attention?: AttentionOutputs;
  /** `"all"` positions' logits (default) or only the `"last"` one (long prefills). */
  logits?: "all" | "last";
  /** How projection weights are held (default `"f32"`; int8 / int4: `MatMulNBits`). */
  weights?: WeightFormat;
  /**
   * `"float32"` (default), or `"float16"`: weights written in half precision straight from the
   * checkpoint (one tensor at a time) and activations in half precision (see
   * `half_precision.ts`), for devices that compute in half precision.
   */
  precision?: "float32" | "float16";
  /**
   * Weights that need no conversion reference the checkpoint's files (see `GraphOptions`
   * `referenceFiles`; default false), so a graph cache that links them holds no second copy.
   */
  referenceCheckpoint?: boolean;
}

/**
 * Name of the `[layers]` float input added to every past score of a layer: 0, or −∞ for a
 * layer fed one placeholder row because it holds no entries.
 */
export const PAST_BIAS = "past_bias";

/** Graph input/output names of layer `l`. */
export const llamaNames = {
  pastKey: (l: number): string => `past_key_${l}`,
  pastValue: (l: number): string => `past_value_${l}`,
  newKey: (l: number): string => `new_key_${l}`,
  newValue: (l: number): string => `new_value_${l}`,
  importance: (l: number): string => `importance_${l}`,
  attention: (l: number): string => `attention_${l}`,
  headAttention: (l: number): string => `attention_heads_${l}`,
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
  const g = new GraphBuilder(`llama-${attention}-${lastOnly ? "last" : "all"}`, {
    floatWeights: options.precision ?? "float32",
    referenceFiles: options.referenceCheckpoint ?? false,
  });
  const embeds = g.input("inputs_embeds", "float32", ["B", "T", D]);
  const positionIds = g.input("position_ids", "int64", ["B", "T"]);
  const m = decoderContext(g, spec, tensors, attention, embeds, positionIds);
  m.weights = options.weights ?? "f32";

  let h = g.op("Reshape", [embeds, g.constI64([-1, D])]); // [B·T, D], sample-major rows
  for (let l = 0; l < spec.numLayers; l++) h = decoderLayer(m, l, h);
  if (lastOnly) h = lastRows(m, h);
  const normed = norm(m, h, "final_norm", `${spec.prefix}norm.weight`);
  const V = spec.vocabSize;
  const headOut = projection(
    g,
    normed,
    "lm_head",
    [V, D],
    [read(m, spec.lmHead, [V, D])],
    m.weights,
  );
  const logits = g.op("Reshape", [headOut, shapeOf(g, [m.B1, -1, V])], {}, {
    outputs: ["logits"],
  });
  g.output(logits, "float32", ["B", lastOnly ? 1 : "T", V]);
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
  /** Rotates `[B·T, heads, headDim]` by each row's position. */
  rope: (x: string) => string;
  /** `[1]` each: the batch size and the number of new tokens. */
  B1: string;
  T1: string;
  /** `[T·G, 1]`: the new token that query row r of a KV group belongs to, ⌊r / G⌋. */
  rowToken: string;
  /** `[T]`: 0 … T − 1, the new tokens as key columns. */
  newCols: string;
  /** The `past_bias` input. */
  pastBias: string;
  /** How projection weights are held (see `projection.ts`). */
  weights: WeightFormat;
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
  const B1 = g.op("Shape", [embeds], { start: 0, end: 1 });
  const T1 = g.op("Shape", [embeds], { start: 1, end: 2 });
  const T = g.op("Squeeze", [T1, g.constI64([0])]); // scalar
  const zero = g.constI64(0, []);
  const one = g.constI64(1, []);
  const rows = g.op("Range", [zero, g.op("Mul", [T, g.constI64(G, [])]), one]);
  const rowToken = g.op("Unsqueeze", [g.op("Div", [rows, g.constI64(G, [])]), g.constI64([1])]);
  const newCols = g.op("Range", [zero, T, one]);
  const rope = ropeBlock(g, spec, positionIds);
  const pastBias = g.input(PAST_BIAS, "float32", [spec.numLayers]);
  return { g, spec, tensors, attention, rope, B1, T1, rowToken, newCols, pastBias, weights: "f32" };
}

/** A shape tensor from `[1]`-shaped runtime dimensions and fixed sizes, in order. */
function shapeOf(g: GraphBuilder, parts: (string | number)[]): string {
  return g.op(
    "Concat",
    parts.map((p) => typeof p === "number" ? g.constI64([p]) : p),
    { axis: 0 },
  );
}

/** LLaMA RMSNorm with the checkpoint's weight `name`, stored in the graph as `graphName`. */
function norm(m: Decoder, x: string, graphName: string, name: string): string {
  const D = m.spec.hiddenSize;
  return rmsNorm(
    m.g,
    x,
    m.g.weight(graphName, [D], [read(m, name, [D])]),
    m.spec.rmsNormEps,
  );
}

/**
 * RoPE with the `rotate_half` convention. The angles `[B·T, 1, hd/2]` are computed once from
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
 * Returns the output projection `[B·T, D]`.
 */
function attention(m: Decoder, l: number, x: string): string {
  const { g, spec, B1, T1 } = m;
  const { hiddenSize: D, numHeads: H, numKvHeads: kvH, headDim: hd } = spec;
  const G = H / kvH;
  const w = llamaLayerWeights(spec, l);
  const { q, k, v } = queryKeyValue(m, l, x);
  const q3 = m.rope(g.op("Reshape", [q, g.constI64([-1, H, hd])])); // [B·T, H, hd]
  const k3 = m.rope(g.op("Reshape", [k, g.constI64([-1, kvH, hd])])); // [B·T, kvH, hd]
  // New entries in the cache's row layout: [B·T, kvH, hd] → [B, T, kvH, hd] → [T, B, kvH, hd].
  const toRows = (t: string, name: string) =>
    g.op("Transpose", [g.op("Reshape", [t, shapeOf(g, [B1, T1, kvH, hd])])], {
      perm: [1, 0, 2, 3],
    }, { outputs: [name] });
  const newK = toRows(k3, llamaNames.newKey(l));
  const newV = toRows(v, llamaNames.newValue(l));
  g.output(newK, "float32", ["T", "B", kvH, hd]);
  g.output(newV, "float32", ["T", "B", kvH, hd]);

  // Queries grouped by KV head: [B·T, H, hd] → [B, kvH, T, G, hd] → [B, kvH, T·G, hd].
  const scaled = g.op("Mul", [q3, g.constF32(1 / Math.sqrt(hd), [])]);
  const qGrouped = g.op("Reshape", [
    g.op("Transpose", [g.op("Reshape", [scaled, shapeOf(g, [B1, T1, kvH, G, hd])])], {
      perm: [0, 2, 1, 3, 4],
    }),
    shapeOf(g, [B1, kvH, -1, hd]),
  ]);
  // New column j is visible to the query rows of tokens ≥ j.
  const visible = g.op("LessOrEqual", [m.newCols, m.rowToken]); // [T·G, T]
  const scoresNew = g.op("Where", [
    visible,
    readRows(g, qGrouped, newK, true),
    g.constF32(-Infinity, []),
  ]); // [B, kvH, T·G, T]
  // Past columns are all visible (but the placeholder row of an empty layer).
  const pastK = g.input(llamaNames.pastKey(l), "float32", [`P_${l}`, "B", kvH, hd]);
  const pastV = g.input(llamaNames.pastValue(l), "float32", [`P_${l}`, "B", kvH, hd]);
  const bias = g.op("Gather", [m.pastBias, g.constI64(l, [])], { axis: 0 });
  const scoresPast = g.op("Add", [readRows(g, qGrouped, pastK, true), bias]); // [B, kvH, T·G, P]
  const probs = g.op("Softmax", [g.op("Concat", [scoresPast, scoresNew], { axis: -1 })], {
    axis: -1,
  }); // [B, kvH, T·G, P + T]
  attentionSummaries(m, l, probs);
  const P1 = g.op("Shape", [pastK], { start: 0, end: 1 });
  const [probsPast, probsNew] = g.ops("Split", [probs, shapeOf(g, [P1, T1])], { axis: -1 }, {
    count: 2,
  });
  const context = g.op("Add", [
    readRows(g, probsPast, pastV, false),
    readRows(g, probsNew, newV, false),
  ]); // [B, kvH, T·G, hd]
  // Back to [B·T, H·hd] with head index kv·G + group, as the o_proj weight expects.
  const ctx = g.op("Reshape", [
    g.op("Transpose", [g.op("Reshape", [context, shapeOf(g, [B1, kvH, T1, G, hd])])], {
      perm: [0, 2, 1, 3, 4],
    }),
    g.constI64([-1, H * hd]),
  ]);
  return projection(g, ctx, `layer${l}.o`, [D, H * hd], [read(m, w.o, [D, H * hd])], m.weights);
}

/**
 * The q, k and v projections of layer `l`: one fused projection split in three, or, when the
 * graph points into the checkpoint (`referenceCheckpoint`) and the three weights lie apart in
 * their file (safetensors orders them k, o, q, v), three projections that each point in, so
 * that none is copied.
 */
function queryKeyValue(m: Decoder, l: number, x: string): { q: string; k: string; v: string } {
  const { g, spec } = m;
  const { hiddenSize: D, numHeads: H, numKvHeads: kvH, headDim: hd } = spec;
  const w = llamaLayerWeights(spec, l);
  const rows = [H * hd, kvH * hd, kvH * hd];
  const parts = [w.q, w.k, w.v].map((name, i) => read(m, name, [rows[i], D]) as RegionPart);
  const regions = parts.map((p) => p.region);
  const apart = regions.every((r) => r) &&
    !(regions[0]!.path === regions[1]!.path && regions[0]!.offset + regions[0]!.length ===
        regions[1]!.offset &&
      regions[1]!.path === regions[2]!.path &&
      regions[1]!.offset + regions[1]!.length === regions[2]!.offset);
  if (g.referenceFiles && m.weights === "f32" && apart) {
    const [q, k, v] = ["q", "k", "v"].map((name, i) =>
      projection(g, x, `layer${l}.${name}`, [rows[i], D], [parts[i]], m.weights)
    );
    return { q, k, v };
  }
  const qkv = projection(g, x, `layer${l}.qkv`, [rows[0] + rows[1] + rows[2], D], parts, m.weights);
  const [q, k, v] = g.ops("Split", [qkv, g.constI64(rows)], { axis: 1 }, { count: 3 });
  return { q, k, v };
}

/**
 * `a [B, kvH, M, K] · rows` for cache-layout `rows [S, B, kvH, hd]`, read in place:
 * `transBatchB` makes the GEMM walk the rows with a stride instead of transposing them. With
 * `transposed`, `rows` act as `[B, kvH, hd, S]` (queries · keysᵀ); else as `[B, kvH, S, hd]`
 * (probabilities · values).
 */
function readRows(g: GraphBuilder, a: string, rows: string, transposed: boolean): string {
  return g.op("FusedMatMul", [a, rows], { transB: transposed ? 1 : 0, transBatchB: 1 }, {
    domain: "com.microsoft",
  });
}

/**
 * The attention summaries of layer `l` from its probabilities `[B, kvH, T·G, S]`: PrefixKV's
 * importance (head mean, summed over queries) `[B, S]`; for `matrices` and `headMatrices` the
 * head-averaged matrix `[B, T, S]`; for `headMatrices` also every head's matrix
 * `[B, H, T, S]`. Nothing for the `none` variant.
 */
function attentionSummaries(m: Decoder, l: number, probs: string): void {
  const { g, spec } = m;
  const invHeads = g.constF32(1 / spec.numHeads, []);
  if (m.attention === "importance") {
    // Two single-axis sums: onnxruntime's ReduceSum over axes [1, 2] at once is several times
    // slower at long prompts than summing the query rows first, then the KV heads.
    const perHead = g.op("ReduceSum", [probs, g.constI64([2])], { keepdims: 0 });
    const summed = g.op("ReduceSum", [perHead, g.constI64([1])], { keepdims: 0 });
    const imp = g.op("Mul", [summed, invHeads], {}, { outputs: [llamaNames.importance(l)] });
    g.output(imp, "float32", ["B", `S_${l}`]);
  } else if (m.attention === "matrices" || m.attention === "headMatrices") {
    const G = spec.numHeads / spec.numKvHeads;
    const S1 = g.op("Shape", [probs], { start: 3, end: 4 });
    const byToken = g.op("Reshape", [probs, shapeOf(g, [m.B1, spec.numKvHeads, m.T1, G, S1])]);
    const perQuery = g.op("ReduceSum", [byToken, g.constI64([1, 3])], { keepdims: 0 });
    const att = g.op("Mul", [perQuery, invHeads], {}, { outputs: [llamaNames.attention(l)] }); // [B, T, S]
    const imp = g.op("ReduceSum", [att, g.constI64([1])], { keepdims: 0 }, {
      outputs: [llamaNames.importance(l)],
    });
    g.output(imp, "float32", ["B", `S_${l}`]);
    g.output(att, "float32", ["B", "T", `S_${l}`]);
    if (m.attention === "headMatrices") headMatrices(m, l, byToken, S1);
  }
}

/**
 * Every query head's attention of layer `l` as `[B, H, T, S]`, from the probabilities grouped
 * by token `[B, kvH, T, G, S]`: head kv·G + g is group g of KV head kv (the o_proj order).
 */
function headMatrices(m: Decoder, l: number, byToken: string, S1: string): void {
  const { g, spec } = m;
  const byHead = g.op("Transpose", [byToken], { perm: [0, 1, 3, 2, 4] }); // [B, kvH, G, T, S]
  const heads = g.op("Reshape", [byHead, shapeOf(g, [m.B1, spec.numHeads, m.T1, S1])], {}, {
    outputs: [llamaNames.headAttention(l)],
  });
  g.output(heads, "float32", ["B", spec.numHeads, "T", `S_${l}`]);
}

/** The SwiGLU MLP of layer `l`: `down(silu(gate(x)) · up(x))`, gate and up as one Gemm. */
function mlp(m: Decoder, l: number, x: string): string {
  const { g, spec } = m;
  const { hiddenSize: D, intermediateSize: I } = spec;
  const w = llamaLayerWeights(spec, l);
  const gateUp = projection(
    g,
    x,
    `layer${l}.gate_up`,
    [2 * I, D],
    [read(m, w.gate, [I, D]), read(m, w.up, [I, D])],
    m.weights,
  );
  const [gate, up] = g.ops("Split", [gateUp, g.constI64([I, I])], { axis: 1 }, { count: 2 });
  const down = [read(m, w.down, [D, I])];
  return projection(g, g.op("Mul", [silu(g, gate), up]), `layer${l}.down`, [D, I], down, m.weights);
}

/** Each sample's last row of `[B·T, D]`, as `[B, D]`. */
function lastRows(m: Decoder, h: string): string {
  const { g } = m;
  const D = m.spec.hiddenSize;
  const bySample = g.op("Reshape", [h, shapeOf(g, [m.B1, m.T1, D])]);
  const last = g.op("Slice", [
    bySample,
    g.constI64([-1]),
    g.constI64([Number.MAX_SAFE_INTEGER]),
    g.constI64([1]),
  ]);
  return g.op("Reshape", [last, g.constI64([-1, D])]);
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

/**
 * The checkpoint tensor `name` as a part made on demand: read (and its shape checked) when the
 * graph is written, so the builder never holds every weight at once.
 */
function read(m: Decoder, name: string, shape: readonly number[]): () => TensorData {
  // Quantized projections are made from float32 values; float16 weights are read as float16.
  const half = m.g.floatWeights === "float16" && m.weights === "f32";
  return lazyTensor(m.tensors, name, shape, half ? "float16" : "float32")[0];
}
