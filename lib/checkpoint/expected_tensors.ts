/**
 * The tensors a {@link ModelSpec} needs, with their shapes, and a check of a store against them
 * that reports every problem at once.
 *
 * @module
 */

import { CheckpointError } from "../errors.ts";
import { visionLayersUsed } from "./config.ts";
import { FLOAT_DTYPES } from "./safetensors.ts";
import type { ClipVisionSpec, LlamaSpec, ModelSpec, ProjectorSpec } from "./spec.ts";
import type { TensorStore } from "./tensor_store.ts";

/** A required tensor: full name and shape (PyTorch layout: Linear weights are [out, in]). */
export interface ExpectedTensor {
  /** Full tensor name, prefix included. */
  name: string;
  /** Required dimensions. */
  shape: number[];
}

/** Tensors of a LLaMA decoder: embeddings, every layer, final norm, LM head. */
export function llamaTensors(t: LlamaSpec): ExpectedTensor[] {
  const H = t.hiddenSize, I = t.intermediateSize, p = t.prefix;
  const q = t.numHeads * t.headDim, kv = t.numKvHeads * t.headDim;
  const out: ExpectedTensor[] = [{ name: `${p}embed_tokens.weight`, shape: [t.vocabSize, H] }];
  for (let i = 0; i < t.numLayers; i++) {
    const l = `${p}layers.${i}.`;
    out.push(
      { name: `${l}input_layernorm.weight`, shape: [H] },
      { name: `${l}self_attn.q_proj.weight`, shape: [q, H] },
      { name: `${l}self_attn.k_proj.weight`, shape: [kv, H] },
      { name: `${l}self_attn.v_proj.weight`, shape: [kv, H] },
      { name: `${l}self_attn.o_proj.weight`, shape: [H, q] },
      { name: `${l}post_attention_layernorm.weight`, shape: [H] },
      { name: `${l}mlp.gate_proj.weight`, shape: [I, H] },
      { name: `${l}mlp.up_proj.weight`, shape: [I, H] },
      { name: `${l}mlp.down_proj.weight`, shape: [H, I] },
    );
  }
  out.push({ name: `${p}norm.weight`, shape: [H] });
  if (!t.tieWordEmbeddings) out.push({ name: t.lmHead, shape: [t.vocabSize, H] });
  return out;
}

/**
 * Tensors of a CLIP vision tower up to the selected feature layer (later layers and
 * `post_layernorm` do not influence LLaVA's features, so they may be absent).
 */
export function clipTensors(v: ClipVisionSpec): ExpectedTensor[] {
  const D = v.hiddenSize, Di = v.intermediateSize, p = v.prefix;
  const positions = (v.imageSize / v.patchSize) ** 2 + 1;
  const out: ExpectedTensor[] = [
    { name: `${p}embeddings.class_embedding`, shape: [D] },
    {
      name: `${p}embeddings.patch_embedding.weight`,
      shape: [D, v.numChannels, v.patchSize, v.patchSize],
    },
    { name: `${p}embeddings.position_embedding.weight`, shape: [positions, D] },
    { name: `${p}pre_layrnorm.weight`, shape: [D] },
    { name: `${p}pre_layrnorm.bias`, shape: [D] },
  ];
  for (let i = 0; i < visionLayersUsed(v); i++) {
    const l = `${p}encoder.layers.${i}.`;
    for (const proj of ["q_proj", "k_proj", "v_proj", "out_proj"]) {
      out.push(
        { name: `${l}self_attn.${proj}.weight`, shape: [D, D] },
        { name: `${l}self_attn.${proj}.bias`, shape: [D] },
      );
    }
    out.push(
      { name: `${l}layer_norm1.weight`, shape: [D] },
      { name: `${l}layer_norm1.bias`, shape: [D] },
      { name: `${l}mlp.fc1.weight`, shape: [Di, D] },
      { name: `${l}mlp.fc1.bias`, shape: [Di] },
      { name: `${l}mlp.fc2.weight`, shape: [D, Di] },
      { name: `${l}mlp.fc2.bias`, shape: [D] },
      { name: `${l}layer_norm2.weight`, shape: [D] },
      { name: `${l}layer_norm2.bias`, shape: [D] },
    );
  }
  return out;
}

/** Tensors of the two-layer projector. */
export function projectorTensors(p: ProjectorSpec): ExpectedTensor[] {
  return [
    { name: `${p.linear1}.weight`, shape: [p.outDim, p.inDim] },
    { name: `${p.linear1}.bias`, shape: [p.outDim] },
    { name: `${p.linear2}.weight`, shape: [p.outDim, p.outDim] },
    { name: `${p.linear2}.bias`, shape: [p.outDim] },
  ];
}

/** Every tensor `spec` needs. */
export function expectedTensors(spec: ModelSpec): ExpectedTensor[] {
  return [
    ...llamaTensors(spec.text),
    ...(spec.vision ? clipTensors(spec.vision) : []),
    ...(spec.projector ? projectorTensors(spec.projector) : []),
  ];
}

/** Lists (does not throw) every missing, mis-shaped or non-float required tensor. */
export function findTensorProblems(spec: ModelSpec, store: TensorStore): string[] {
  const problems: string[] = [];
  for (const { name, shape } of expectedTensors(spec)) {
    const info = store.info(name);
    if (!info) {
      problems.push(`missing ${name} [${shape}]`);
    } else if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      problems.push(`${name} has shape [${info.shape}], expected [${shape}]`);
    } else if (!FLOAT_DTYPES.includes(info.dtype)) {
      problems.push(`${name} has dtype ${info.dtype}, expected a float type`);
    }
  }
  return problems;
}

/**
 * Throws one {@link CheckpointError} listing every problem {@link findTensorProblems} finds
 * (at most 20 shown), naming `where` (the checkpoint directory).
 */
export function validateTensors(spec: ModelSpec, store: TensorStore, where: string): void {
  const problems = findTensorProblems(spec, store);
  if (problems.length === 0) return;
  const shown = problems.slice(0, 20).map((p) => `  - ${p}`).join("\n");
  const more = problems.length > 20 ? `\n  … and ${problems.length - 20} more` : "";
  throw new CheckpointError(
    `${where}: the weights do not match config.json (${problems.length} problem(s)):\n` +
      shown + more,
  );
}
