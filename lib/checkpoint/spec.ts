/**
 * Normalised model descriptions. Every supported checkpoint layout (llava-hf, the original
 * LLaVA-1.5 repository, plain LLaMA) is parsed into these plain data types; graph builders and
 * the reference forward pass read only these, never the raw `config.json`.
 *
 * @module
 */

/**
 * RoPE scaling as configured by `rope_scaling` / `rope_parameters` (`null` = the default type);
 * see `rope.ts` for the frequencies each type gives.
 */
export type RopeScaling =
  /** Positions divided by `factor` (`rope_type: "linear"`). */
  | { type: "linear"; factor: number }
  /** Llama 3.1's frequency-dependent scaling (`rope_type: "llama3"`). */
  | {
    type: "llama3";
    factor: number;
    lowFreqFactor: number;
    highFreqFactor: number;
    originalMaxPositionEmbeddings: number;
  }
  | null;

/** A LLaMA-family decoder (the language model of a LLaVA, or a text-only LLM). */
export interface LlamaSpec {
  /** Number of token ids (rows of the embedding and the LM head). */
  vocabSize: number;
  /** Width of the residual stream (embedding size). */
  hiddenSize: number;
  /** Inner width of the SwiGLU MLP. */
  intermediateSize: number;
  /** Number of decoder layers. */
  numLayers: number;
  /** Number of query heads. */
  numHeads: number;
  /** Key/value heads; fewer than `numHeads` means grouped-query attention. */
  numKvHeads: number;
  /** Size of one attention head (default `hiddenSize / numHeads`). */
  headDim: number;
  /** Epsilon of the RMSNorm layers. */
  rmsNormEps: number;
  /** RoPE base frequency θ (default 10000). */
  ropeTheta: number;
  /** Position scaling applied before RoPE. */
  ropeScaling: RopeScaling;
  /** Context length the model was trained for (`max_position_embeddings`). */
  maxPositionEmbeddings: number;
  /** True when the LM head shares the token embedding matrix. */
  tieWordEmbeddings: boolean;
  /** Name prefix of the decoder's tensors, e.g. `"language_model.model."` or `"model."`. */
  prefix: string;
  /** Full name of the LM head weight (the embedding name when tied). */
  lmHead: string;
}

/** A CLIP vision tower (pre-LayerNorm ViT with a class embedding). */
export interface ClipVisionSpec {
  /** Width of the tower's token vectors (the projector's input size). */
  hiddenSize: number;
  /** Inner width of each encoder MLP. */
  intermediateSize: number;
  /** Number of encoder layers in the checkpoint. */
  numLayers: number;
  /** Number of attention heads. */
  numHeads: number;
  /** Input image side in pixels (square). */
  imageSize: number;
  /** Patch side in pixels; `imageSize` is a multiple of it. */
  patchSize: number;
  /** Input channels (3 for RGB). */
  numChannels: number;
  /** Epsilon of the LayerNorm layers. */
  layerNormEps: number;
  /** MLP activation. */
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
  /** Projector kind; only LLaVA-1.5's two-layer MLP is supported. */
  type: "mlp2x_gelu";
  /** Activation between the two linear layers. */
  act: "gelu";
  /** Input width: the vision tower's `hiddenSize`. */
  inDim: number;
  /** Output width: the language model's `hiddenSize`. */
  outDim: number;
  /** Full tensor names of the two linear layers (`.weight`/`.bias` appended). */
  linear1: string;
  /** Second linear layer's tensor name (see `linear1`). */
  linear2: string;
}

/** Image preprocessing as `CLIPImageProcessor` + LLaVA's aspect mode would do it. */
export interface ImageProcessorSpec {
  /** Shortest edge after resize (aspect ratio kept), unless `resizeHeight`/`resizeWidth` are set. */
  resizeShortestEdge: number;
  /** Exact output size of the resize (`size: {height, width}`); overrides the shortest edge. */
  resizeHeight?: number;
  /** Exact output width of the resize; set together with `resizeHeight`. */
  resizeWidth?: number;
  /** Height of the center crop in pixels. */
  cropHeight: number;
  /** Width of the center crop in pixels. */
  cropWidth: number;
  /** Multiplier applied to 8-bit values before normalising (usually 1/255). */
  rescaleFactor: number;
  /** Per-channel (RGB) mean subtracted after rescaling. */
  mean: [number, number, number];
  /** Per-channel (RGB) standard deviation divided by after subtracting `mean`. */
  std: [number, number, number];
  /** Whether to resize before cropping. */
  doResize: boolean;
  /** Whether to center-crop to `cropWidth` × `cropHeight`. */
  doCenterCrop: boolean;
  /** Whether to apply `mean`/`std` normalisation. */
  doNormalize: boolean;
  /** LLaVA-1.5's `image_aspect_ratio`: `pad` pads to a square with the mean colour first. */
  aspectMode: "pad" | "none";
}

/** Everything needed to run a checkpoint. */
export interface ModelSpec {
  /** `llava` for vision-language checkpoints, `llama` for text-only ones. */
  family: "llava" | "llama";
  /** The checkpoint's `model_type` as written in `config.json`. */
  modelType: string;
  /** The language model. */
  text: LlamaSpec;
  /** The vision tower (LLaVA only). */
  vision?: ClipVisionSpec;
  /** The vision-to-text projector (LLaVA only). */
  projector?: ProjectorSpec;
  /** Token id of the `<image>` placeholder (LLaVA only). */
  imageTokenId?: number;
  /** Number of feature vectors one image expands into (LLaVA only). */
  imageTokens?: number;
  /** Beginning-of-sequence token id (default 1). */
  bosTokenId?: number;
  /** Token ids that end generation. */
  eosTokenIds: number[];
  /** Padding token id, when configured. */
  padTokenId?: number;
}
