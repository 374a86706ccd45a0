/**
 * The CLIP vision tower followed by LLaVA's `mlp2x_gelu` projector, as one ONNX graph:
 * `pixel_values [1, C, S, S]` → `image_features [1, imageTokens, textHidden]`.
 *
 * The tower is Hugging Face's `CLIPVisionTransformer`: patch convolution (no bias), class
 * embedding prepended, position embeddings added, `pre_layrnorm`, then pre-LN encoder layers
 * (attention with biases and scale `headDim^-0.5`, MLP with quick GELU or exact GELU). The
 * hidden states are indexed Python-style over `[after pre_layrnorm, layer 1, …, layer L]`, so
 * `featureLayer = -2` is layer L−1's output; only the layers up to the chosen one are built,
 * and `post_layernorm` is never applied. `selectStrategy = "default"` drops the CLS row. The
 * projector is Linear → exact GELU (Erf) → Linear.
 *
 * @module
 */
import type { ClipVisionSpec, ProjectorSpec } from "../checkpoint/spec.ts";
import type { TensorStore } from "../checkpoint/tensor_store.ts";
import { GraphBuilder } from "./onnx_builder.ts";
import { geluExact, layerNorm, lazyTensor, linear, quickGelu } from "./layers.ts";

/** Bumped whenever the graph's structure or numerics change (part of the graph-cache key). */
export const CLIP_GRAPH_VERSION = 1;

/** Index of the selected hidden state in `[pre_layrnorm output, layer 1, …, layer L]`. */
export function selectedHiddenState(vision: ClipVisionSpec): number {
  const count = vision.numLayers + 1;
  const index = vision.featureLayer < 0 ? count + vision.featureLayer : vision.featureLayer;
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new Error(
      `ClipVisionSpec: featureLayer ${vision.featureLayer} selects no hidden state of a tower ` +
        `with ${vision.numLayers} layers (valid: ${-count}…${count - 1})`,
    );
  }
  return index;
}

/** Number of feature rows one image yields (patches, plus CLS with `"full"`). */
export function clipFeatureRows(vision: ClipVisionSpec): number {
  const patches = (vision.imageSize / vision.patchSize) ** 2;
  return vision.selectStrategy === "default" ? patches : patches + 1;
}

/** Options of {@link buildClipGraph}. */
export interface ClipGraphOptions {
  /**
   * `"float32"` (default), or `"float16"`: weights written in half precision straight from the
   * checkpoint and activations in half precision (see `half_precision.ts`).
   */
  precision?: "float32" | "float16";
  /** Weights that need no conversion reference the checkpoint's files (default false). */
  referenceCheckpoint?: boolean;
}

/** Builds the vision tower + projector graph. */
export function buildClipGraph(
  vision: ClipVisionSpec,
  projector: ProjectorSpec,
  tensors: TensorStore,
  options: ClipGraphOptions = {},
): GraphBuilder {
  const D = vision.hiddenSize;
  const H = vision.numHeads;
  const C = vision.numChannels;
  const P = vision.patchSize;
  const S = vision.imageSize;
  const F = vision.intermediateSize;
  if (D % H !== 0) {
    throw new Error(`ClipVisionSpec: hiddenSize ${D} is not a multiple of numHeads ${H}`);
  }
  if (S % P !== 0) {
    throw new Error(`ClipVisionSpec: imageSize ${S} is not a multiple of patchSize ${P}`);
  }
  if (projector.inDim !== D) {
    throw new Error(
      `ProjectorSpec: inDim ${projector.inDim} differs from the tower's hiddenSize ${D}`,
    );
  }
  const hd = D / H;
  const patches = (S / P) ** 2;
  const tokens = patches + 1;
  const layersUsed = selectedHiddenState(vision);
  const pre = vision.prefix;
  const precision = options.precision ?? "float32";
  const get = (name: string, shape: number[]) => lazyTensor(tensors, name, shape, precision);

  const g = new GraphBuilder("clip-projector", {
    floatWeights: precision,
    referenceFiles: options.referenceCheckpoint ?? false,
  });
  const pixels = g.input("pixel_values", "float32", [1, C, S, S]);
  const patchW = g.weight(
    "patch_embedding",
    [D, C, P, P],
    get(`${pre}embeddings.patch_embedding.weight`, [D, C, P, P]),
  );
  const conv = g.op("Conv", [pixels, patchW], { kernel_shape: [P, P], strides: [P, P] }); // [1, D, S/P, S/P]
  const patchRows = g.op("Transpose", [g.op("Reshape", [conv, g.constI64([D, patches])])], {
    perm: [1, 0],
  });
  const cls = g.weight("class_embedding", [1, D], get(`${pre}embeddings.class_embedding`, [D]));
  const posEmb = g.weight(
    "position_embedding",
    [tokens, D],
    get(`${pre}embeddings.position_embedding.weight`, [tokens, D]),
  );
  const embeddings = g.op("Add", [g.op("Concat", [cls, patchRows], { axis: 0 }), posEmb]); // [tokens, D]

  const ln = (x: string, name: string, key: string): string =>
    layerNorm(
      g,
      x,
      g.weight(`${key}.weight`, [D], get(`${name}.weight`, [D])),
      g.weight(`${key}.bias`, [D], get(`${name}.bias`, [D])),
      vision.layerNormEps,
    );
  const dense = (x: string, name: string, key: string, out: number, inp: number): string =>
    linear(
      g,
      x,
      g.weight(`${key}.weight`, [out, inp], get(`${name}.weight`, [out, inp])),
      g.weight(`${key}.bias`, [out], get(`${name}.bias`, [out])),
    );

  let x = ln(embeddings, `${pre}pre_layrnorm`, "pre_layrnorm");
  const scale = g.constF32(hd ** -0.5, []);
  const headShape = g.constI64([tokens, H, hd]);
  const flatShape = g.constI64([tokens, D]);
  for (let i = 0; i < layersUsed; i++) {
    const p = `${pre}encoder.layers.${i}.`;
    const h = ln(x, `${p}layer_norm1`, `layer${i}.ln1`);
    const heads = (name: string, perm: number[]) =>
      g.op("Transpose", [
        g.op("Reshape", [dense(h, `${p}self_attn.${name}`, `layer${i}.${name}`, D, D), headShape]),
      ], {
        perm,
      });
    const q = g.op("Mul", [heads("q_proj", [1, 0, 2]), scale]); // [H, tokens, hd]
    const kT = heads("k_proj", [1, 2, 0]); // [H, hd, tokens]
    const v = heads("v_proj", [1, 0, 2]); // [H, tokens, hd]
    const probs = g.op("Softmax", [g.op("MatMul", [q, kT])], { axis: -1 });
    const ctx = g.op("Reshape", [
      g.op("Transpose", [g.op("MatMul", [probs, v])], { perm: [1, 0, 2] }),
      flatShape,
    ]);
    x = g.op("Add", [x, dense(ctx, `${p}self_attn.out_proj`, `layer${i}.out_proj`, D, D)]);

    const h2 = ln(x, `${p}layer_norm2`, `layer${i}.ln2`);
    const mid = dense(h2, `${p}mlp.fc1`, `layer${i}.fc1`, F, D);
    const act = vision.hiddenAct === "quick_gelu" ? quickGelu(g, mid) : geluExact(g, mid);
    x = g.op("Add", [x, dense(act, `${p}mlp.fc2`, `layer${i}.fc2`, D, F)]);
  }

  if (vision.selectStrategy === "default") {
    x = g.op("Slice", [x, g.constI64([1]), g.constI64([tokens]), g.constI64([0])]);
  }
  const out = projector.outDim;
  const mid = geluExact(g, dense(x, projector.linear1, "projector.linear1", out, D));
  const feats = dense(mid, projector.linear2, "projector.linear2", out, out);
  const rows = clipFeatureRows(vision);
  g.op("Reshape", [feats, g.constI64([1, rows, out])], {}, { outputs: ["image_features"] });
  g.output("image_features", "float32", [1, rows, out]);
  return g;
}
