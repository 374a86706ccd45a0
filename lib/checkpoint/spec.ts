/**
 * Normalised model descriptions. Every supported checkpoint layout (llava-hf, the original
 * LLaVA-1.5 repository, plain LLaMA) is parsed into these plain data types; graph builders and
 * the reference forward pass read only these, never the raw `config.json`.
 *
 * @module
 */

/** RoPE scaling as configured by `rope_scaling` (`null` = none). */
export type RopeScaling = { type: "linear"; factor: number } | null;

/** A LLaMA-family decoder (the language model of a LLaVA, or a text-only LLM). */
export interface LlamaSpec {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  /** Key/value heads; fewer than `numHeads` means grouped-query attention. */
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** Name prefix of the decoder's tensors, e.g. `"language_model.model."` or `"model."`. */
  prefix: string;
  /** Full name of the LM head weight (the embedding name when tied). */
  lmHead: string;
}

/** A CLIP vision tower (pre-LayerNorm ViT with a class embedding). */
export interface ClipVisionSpec {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  imageSize: number;
  patchSize: number;
  numChannels: number;
  layerNormEps: number;
  hiddenAct: "quick_gelu" | "gelu";
  /**
   * Which hidden state feeds the projector, Python-style: -2 is the output of the second-to-last
   * encoder layer; 0 is the embeddings after `pre_layrnorm`.
   */
  featureLayer: number;
  /** `default` drops the CLS position, `full` keeps it. */
  selectStrategy: "default" | "full";
  /** Name prefix of the tower's tensors, e.g. `"vision_tower.vision_model."`. */
  prefix: string;
}

/** The LLaVA `mlp2x_gelu` projector: Linear → GELU → Linear. */
export interface ProjectorSpec {
  type: "mlp2x_gelu";
  act: "gelu";
  inDim: number;
  outDim: number;
  /** Full tensor names of the two linear layers (`.weight`/`.bias` appended). */
  linear1: string;
  linear2: string;
}

/** Image preprocessing as `CLIPImageProcessor` + LLaVA's aspect mode would do it. */
export interface ImageProcessorSpec {
  /** Shortest edge after resize (aspect ratio kept), unless `resizeHeight`/`resizeWidth` are set. */
  resizeShortestEdge: number;
  /** Exact output size of the resize (`size: {height, width}`); overrides the shortest edge. */
  resizeHeight?: number;
  resizeWidth?: number;
  cropHeight: number;
  cropWidth: number;
  rescaleFactor: number;
  mean: [number, number, number];
  std: [number, number, number];
  doResize: boolean;
  doCenterCrop: boolean;
  doNormalize: boolean;
  /** LLaVA-1.5's `image_aspect_ratio`: `pad` pads to a square with the mean colour first. */
  aspectMode: "pad" | "none";
}

/** Everything needed to run a checkpoint. */
export interface ModelSpec {
  family: "llava" | "llama";
  /** The checkpoint's `model_type` as written in `config.json`. */
  modelType: string;
  text: LlamaSpec;
  vision?: ClipVisionSpec;
  projector?: ProjectorSpec;
  /** Token id of the `<image>` placeholder (LLaVA only). */
  imageTokenId?: number;
  /** Number of feature vectors one image expands into (LLaVA only). */
  imageTokens?: number;
  bosTokenId?: number;
  eosTokenIds: number[];
  padTokenId?: number;
}
