/**
 * A random LLaMA built in memory for benchmarks: a {@link LlamaSpec} and seeded weights in a
 * {@link MemoryTensorStore}, so a bench needs no checkpoint on disk and imports no test code.
 * Weights are uniform with the spread of a trained model's (std 0.02 per linear layer, norms
 * 1): timings do not depend on the values, only on the shapes.
 *
 * @module
 */
import type { LlamaSpec, ModelSpec } from "../../lib/checkpoint/spec.ts";
import { MemoryTensorStore } from "../../lib/checkpoint/tensor_store.ts";
import { mulberry32 } from "../../lib/random.ts";
import type { ModelSource } from "../../lib/runtime/model.ts";

/** Shape of a random LLaMA. */
export interface RandomLlamaConfig {
  /** Decoder layers. */
  layers: number;
  /** Hidden size. */
  hidden: number;
  /** MLP width. */
  intermediate: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads. */
  kvHeads: number;
  /** Vocabulary size. */
  vocab: number;
  /** Context length written into the spec. */
  maxPositions: number;
  /** PRNG seed. */
  seed: number;
}

/** Float32 bytes of the decoder's weights (embedding and untied LM head included). */
export function weightBytes(c: RandomLlamaConfig): number {
  const hd = c.hidden / c.heads;
  const attn = c.hidden * (c.heads + 2 * c.kvHeads) * hd + c.heads * hd * c.hidden;
  const perLayer = attn + 3 * c.hidden * c.intermediate + 2 * c.hidden;
  return 4 * (c.layers * perLayer + 2 * c.vocab * c.hidden + c.hidden);
}

/** A random LLaMA `c` as a model source for `loadModel` (no tokenizer: prompts are ids). */
export function randomLlama(c: RandomLlamaConfig): ModelSource {
  if (c.hidden % c.heads !== 0 || c.heads % c.kvHeads !== 0) {
    throw new Error(
      `random LLaMA: hidden ${c.hidden} must be a multiple of heads ${c.heads}, ` +
        `and heads a multiple of kvHeads ${c.kvHeads}`,
    );
  }
  const hd = c.hidden / c.heads;
  const prefix = "model.";
  const text: LlamaSpec = {
    vocabSize: c.vocab,
    hiddenSize: c.hidden,
    intermediateSize: c.intermediate,
    numLayers: c.layers,
    numHeads: c.heads,
    numKvHeads: c.kvHeads,
    headDim: hd,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: c.maxPositions,
    tieWordEmbeddings: false,
    prefix,
    lmHead: "lm_head.weight",
  };
  const spec: ModelSpec = { family: "llama", modelType: "llama", text, eosTokenIds: [2] };
  const uniform = mulberry32(c.seed);
  const store = new MemoryTensorStore();
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const n = shape[0] * (shape[1] ?? 1);
    const half = std * Math.sqrt(3); // uniform(-a, a) has std a / √3
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = mean + half * (2 * uniform() - 1);
    store.set(name, shape, data);
  };
  const D = c.hidden;
  add(`${prefix}embed_tokens.weight`, [c.vocab, D], 1);
  for (let l = 0; l < c.layers; l++) {
    const p = `${prefix}layers.${l}.`;
    add(`${p}input_layernorm.weight`, [D], 0.1, 1);
    add(`${p}self_attn.q_proj.weight`, [c.heads * hd, D], 0.05);
    add(`${p}self_attn.k_proj.weight`, [c.kvHeads * hd, D], 0.05);
    add(`${p}self_attn.v_proj.weight`, [c.kvHeads * hd, D], 0.02);
    add(`${p}self_attn.o_proj.weight`, [D, c.heads * hd], 0.02);
    add(`${p}post_attention_layernorm.weight`, [D], 0.1, 1);
    add(`${p}mlp.gate_proj.weight`, [c.intermediate, D], 0.02);
    add(`${p}mlp.up_proj.weight`, [c.intermediate, D], 0.02);
    add(`${p}mlp.down_proj.weight`, [D, c.intermediate], 0.02);
  }
  add(`${prefix}norm.weight`, [D], 0.1, 1);
  add("lm_head.weight", [c.vocab, D], 0.02);
  return { spec, tensors: store };
}
