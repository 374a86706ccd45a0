/**
 * A runnable model: token embeddings in JavaScript, the vision tower + projector and the decoder
 * as ONNX sessions, and the per-layer {@link KvCache} they read and extend.
 *
 * Decoder graphs come in variants (attention outputs none / importance / matrices / head
 * matrices, logits of
 * all positions or the last); each is built (or fetched from the on-disk graph cache) and
 * loaded the first time it is needed. Every session holds its own copy of the weights, so a
 * request is served by an already loaded session that computes at least what was asked
 * (a `matrices` session answers an `importance` request; any session answers a one-token step)
 * before a new variant is loaded.
 *
 * The decoder reads each layer's entries as views of {@link KvCache}'s buffers (no copy, neither
 * here nor in the graph; an empty layer, as at prefill, is fed one placeholder row that the
 * graph masks); only the new entries come back and are appended into the cache's spare
 * capacity. A batch of equal-length prompts (`batch` > 1) runs through the same graphs.
 *
 * On `webgpu` the cache lives on the GPU by default (`cacheLocation`): each layer's entries are
 * fed as GPU tensors over the cache's buffers, the new entries stay on the GPU (`gpu-buffer`
 * outputs) and are appended by buffer copies, and only the embeddings, position ids, logits
 * and importance (attention matrices when asked) cross to or from the CPU.
 *
 * @module
 */
import { resolve } from "node:path";
import type { LoadedCheckpoint } from "../checkpoint/checkpoint.ts";
import { loadCheckpoint } from "../checkpoint/checkpoint.ts";
import type { ModelSpec } from "../checkpoint/spec.ts";
import { WEIGHT_FORMATS, type WeightFormat } from "../checkpoint/quantize.ts";
import { checkContextLength } from "../checkpoint/rope.ts";
import { InputError } from "../errors.ts";
import { buildClipGraph, CLIP_GRAPH_VERSION, clipFeatureRows } from "../graph/clip_graph.ts";
import {
  checkpointFingerprint,
  defaultGraphCacheDir,
  type GraphRequest,
  loadOrBuildGraph,
} from "../graph/graph_cache.ts";
import {
  type AttentionOutputs,
  buildLlamaGraph,
  LLAMA_GRAPH_VERSION,
  llamaNames,
  PAST_BIAS,
} from "../graph/llama_graph.ts";
import { checkFiniteRun } from "./finite.ts";
import { GpuKvContext, GpuRows } from "./gpu_kv_cache.ts";
import {
  cpuStorage,
  KvCache,
  type KvLocation,
  type KvRowStorage,
  type RowData,
} from "./kv_cache.ts";
import { checkTokenizerIds } from "./token_ids.ts";
import {
  assertDeviceAvailable,
  checkDeviceOptions,
  type Device,
  floatTensor,
  int64Tensor,
  type RuntimeTensor,
  Session,
} from "./session.ts";
import {
  gpuTensorMaker,
  type Precision,
  recordWebGpuTransfer,
  requireWebGpuAdapter,
  webGpuDevice,
} from "./webgpu.ts";

/**
 * What a model is made from: a loaded checkpoint, or at least its spec and tensors (models
 * built in code; they have no tokenizer, so prompts must be given as ids).
 */
export type ModelSource =
  & Pick<LoadedCheckpoint, "spec" | "tensors">
  & Partial<Omit<LoadedCheckpoint, "spec" | "tensors">>;

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Execution device (default `"cpu"`). */
  device?: Device;
  /**
   * Graph cache directory (default `.cache/prefixkv/graphs` under the working directory);
   * `false` builds graphs in memory on every load and writes nothing.
   */
  cacheDir?: string | false;
  /** Intra-op threads per session (default: onnxruntime's choice); not for `webgpu`. */
  threads?: number;
  /**
   * How the decoder's projection weights are held: `"f32"` (default), or block-quantized
   * `"int8"` / `"int4"` (onnxruntime's `MatMulNBits`, block 32) — smaller and faster on CPU, at
   * a measured cost in fidelity (README, "Compact weights").
   */
  weights?: WeightFormat;
  /**
   * `"float32"` (default), or `"float16"` weights and activations on `webgpu`: the graphs are
   * built (and cached) in half precision straight from the checkpoint.
   */
  precision?: Precision;
  /**
   * Where KV caches live: `"gpu"` (the default on `webgpu`; caches never cross to the CPU
   * during decoding) or `"cpu"` (the only choice elsewhere; on `webgpu` the cache is then fed
   * from the CPU at every step, which costs a transfer of its size: README, "Devices").
   */
  cacheLocation?: KvLocation;
  /**
   * Graphs point into the checkpoint's safetensors files for the weights that need no
   * conversion (hard links in the graph cache, ONNX external data by offset and length), so the
   * cache holds no second copy of them (default false; README, "Compact weights"). F16 / BF16
   * weights of float32 graphs are read through a `Cast` that onnxruntime folds at load.
   * Needs a graph cache on the checkpoint's file system, and a `cpu` or `cuda` device.
   */
  linkCheckpoint?: boolean;
}

/** How one graph was obtained. */
export interface GraphLoad {
  /** `"decoder:<attention>-<logits>"` or `"vision"`. */
  graph: string;
  /** True when it came from the graph cache (nothing built). */
  cached: boolean;
  /** Milliseconds spent building the graph (0 on a cache hit; its structure only with a cache). */
  buildMs: number;
  /**
   * Milliseconds spent writing it to the graph cache (0 on a hit or without a cache), reading
   * and converting the weights included: they are made one by one as they are written.
   */
  writeMs: number;
  /** Milliseconds to create the runtime session (parse + optimise + weights). */
  sessionMs: number;
}

/** Options of {@link Model.prefill}. */
export interface PrefillOptions {
  /** Attention outputs to return (default `"none"`). */
  attention?: AttentionOutputs;
  /** Position id of the first prompt row (default 0). */
  positionStart?: number;
  /** Logits of `"all"` rows (default) or only the `"last"`. */
  logits?: "all" | "last";
  /**
   * Samples in `embeds` (default 1): `embeds` is `[batch · N, hidden]`, sample-major, every
   * sample N rows long.
   */
  batch?: number;
  /**
   * Spare rows to allocate in every layer beyond the prompt (default 0), e.g. the tokens to
   * generate, so that decode steps append without reallocating.
   */
  reserve?: number;
}

/** What {@link Model.prefill} returns. */
export interface PrefillResult {
  /** Row-major `[rows, vocab]`: every prompt row, or the last one only (per sample). */
  logits: Float32Array;
  /** Number of logit rows (all samples). */
  logitRows: number;
  /** A new cache holding the prompt's keys and values in every layer. */
  cache: KvCache;
  /**
   * Per layer, length N (`[batch, N]` for a batch): head-averaged attention summed over all
   * prompt queries.
   */
  importance?: Float32Array[];
  /** Per layer, `[N, N]` (`[batch, N, N]`) row-major head-averaged attention (row = query). */
  attention?: Float32Array[];
  /**
   * Per layer, `[heads, N, N]` (`[batch, heads, N, N]`) row-major attention of every query
   * head (`attention: "headMatrices"`); its mean over heads is `attention`. Costs
   * 4·heads·N² bytes per layer per prompt (LLaVA-1.5-7B, 32 heads, N = 640: 52 MB a layer).
   */
  headAttention?: Float32Array[];
  /** Milliseconds inside onnxruntime (the rest of the call is JavaScript). */
  runMs: number;
}

/** Options of {@link Model.step}. */
export interface StepOptions {
  /** Also return each layer's head-averaged attention of the new token(s) (default false). */
  attention?: boolean;
  /**
   * Position recorded in the cache for the (first) new entry (default: the RoPE `position`).
   * Generation passes the true token index so recipes see real positions in `paper` mode.
   */
  cachePosition?: number;
}

/** What {@link Model.step} returns. */
export interface StepResult {
  /** Row-major `[rows, vocab]`, one row per fed token (sample-major for a batch). */
  logits: Float32Array;
  /**
   * Per layer, the new token's head-averaged attention over the layer's cache entries (cache
   * order, new entry last); summed over the new tokens when several were fed. `[batch, S]`
   * for a batch.
   */
  importance?: Float32Array[];
  /** Milliseconds inside onnxruntime (the rest of the call is JavaScript). */
  runMs: number;
}

/** A prompt to assemble: text or ids, with at most one image. */
export interface PromptInput {
  /** Text, tokenized with the checkpoint's tokenizer; `<image>` marks the image. */
  text?: string;
  /**
   * Let the tokenizer add its special tokens (BOS) to `text`. Default: yes, unless the text
   * already starts with the BOS token's text (chat templates that render it themselves).
   */
  addSpecialTokens?: boolean;
  /** Token ids, used exactly as given (the image token marks the image). */
  ids?: readonly number[];
  /** Preprocessed pixels `[channels, size, size]` (see `preprocessImage`). */
  image?: Float32Array;
  /** Already computed image features `[imageTokens, hidden]` (instead of `image`). */
  imageFeatures?: Float32Array;
}

/** A prompt ready for {@link Model.prefill}. */
export interface Prompt {
  /** `[N, hidden]` row-major. */
  embeds: Float32Array;
  /** N ids; the image's rows carry the image token id. */
  ids: number[];
  /** N, the prompt length after image expansion. */
  length: number;
  /** Half-open range of the image-feature rows. */
  imageSpan?: { start: number; end: number };
}

const ATTENTION_LEVEL: Record<AttentionOutputs, number> = {
  none: 0,
  importance: 1,
  matrices: 2,
  headMatrices: 3,
};

/** A loaded model; create with {@link loadModel}. Call {@link Model.close} when done. */
export class Model {
  /** The normalised model description. */
  readonly spec: ModelSpec;
  /** Absolute graph cache directory, or `null` when graphs are built in memory. */
  readonly graphCachePath: string | null;
  /** Every graph obtained so far, in order. */
  readonly graphLoads: GraphLoad[] = [];
  #embedding: Float32Array | null = null;
  #sessions = new Map<string, Promise<Session>>();
  #loaded = new Map<string, Session>();
  /** GPU caches' device, scratch buffer and merge pipeline (`cacheLocation` `"gpu"`). */
  #gpuKv: GpuKvContext | null;
  /** The GPU caches this model made, which {@link Model.close} moves to the CPU. */
  #gpuCaches = new Set<WeakRef<KvCache>>();
  #closing: Promise<void> | null = null;

  /** Use {@link loadModel}. */
  constructor(
    readonly source: ModelSource,
    readonly device: Device,
    readonly fingerprint: string,
    cacheDir: string | null,
    readonly threads: number | undefined,
    readonly ownsSource: boolean,
    readonly weights: WeightFormat = "f32",
    readonly precision: Precision = "float32",
    readonly cacheLocation: KvLocation = "cpu",
    readonly linkCheckpoint = false,
  ) {
    this.spec = source.spec;
    this.graphCachePath = cacheDir;
    this.#gpuKv = cacheLocation === "gpu" ? new GpuKvContext() : null;
  }

  /** Hidden size of the decoder. */
  get hiddenSize(): number {
    return this.spec.text.hiddenSize;
  }

  /** Vocabulary size of the decoder. */
  get vocabSize(): number {
    return this.spec.text.vocabSize;
  }

  /**
   * An empty cache shaped for this model, for `batch` samples (default 1), where
   * `cacheLocation` says. A GPU cache needs the device that the model's first session creates:
   * on `webgpu`, call it after {@link Model.prepare} or a prefill.
   */
  newCache(batch = 1): KvCache {
    const t = this.spec.text;
    const cache = new KvCache(
      { numLayers: t.numLayers, numKvHeads: t.numKvHeads, headDim: t.headDim, batch },
      undefined,
      this.#gpuKv?.storage ?? cpuStorage,
    );
    if (this.#gpuKv) {
      for (const ref of this.#gpuCaches) if (!ref.deref()) this.#gpuCaches.delete(ref);
      this.#gpuCaches.add(new WeakRef(cache));
    }
    return cache;
  }

  /** Token embeddings `[ids.length, hidden]`; ids outside the vocabulary are an {@link InputError}. */
  embedTokens(ids: ArrayLike<number>): Float32Array {
    const D = this.hiddenSize;
    const V = this.vocabSize;
    this.#embedding ??= this.source.tensors.getF32(`${this.spec.text.prefix}embed_tokens.weight`, [
      V,
      D,
    ]);
    const out = new Float32Array(ids.length * D);
    for (let t = 0; t < ids.length; t++) {
      const id = ids[t];
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new InputError(
          `token id ${id} (at index ${t}) is outside the vocabulary [0, ${V}) of this model`,
        );
      }
      out.set(this.#embedding.subarray(id * D, id * D + D), t * D);
    }
    return out;
  }

  /** Text of `ids` (special tokens dropped); `""` when the model has no tokenizer. */
  decode(ids: readonly number[]): string {
    return this.source.tokenizer?.decode(ids, { skipSpecialTokens: true }) ?? "";
  }

  /**
   * Image features `[imageTokens, hidden]` from preprocessed pixels `[channels, size, size]`.
   */
  async encodeImage(pixels: Float32Array): Promise<Float32Array> {
    const vision = this.spec.vision;
    const projector = this.spec.projector;
    if (!vision || !projector) {
      throw new InputError(
        `this ${this.spec.modelType} model has no vision tower; it takes no images`,
      );
    }
    const { numChannels: C, imageSize: S } = vision;
    if (pixels.length !== C * S * S) {
      const side = Math.sqrt(pixels.length / C);
      throw new InputError(
        `image has ${pixels.length} values${
          Number.isInteger(side) ? ` (${C}×${side}×${side})` : ""
        }, ` +
          `but this model takes preprocessed pixels of ${C}×${S}×${S} = ${C * S * S}; ` +
          `preprocess the image with the checkpoint's image processor`,
      );
    }
    const session = await this.#session("vision", () => ({
      kind: "vision",
      variant: `clip-projector${this.#variantSuffix}`,
      builderVersion: CLIP_GRAPH_VERSION,
      fingerprint: this.fingerprint,
      linkFiles: this.linkCheckpoint,
      build: () =>
        buildClipGraph(vision, projector, this.source.tensors, {
          precision: this.precision,
          referenceCheckpoint: this.linkCheckpoint,
        }),
    }));
    const out = await session.run({ pixel_values: floatTensor(pixels, [1, C, S, S]) });
    return out.image_features.data as Float32Array;
  }

  /**
   * Runs the prompt `embeds` (`[N, hidden]`) through the decoder and returns its logits, a new
   * cache holding every layer's N entries, and the requested attention summaries.
   */
  async prefill(embeds: Float32Array, opts: PrefillOptions = {}): Promise<PrefillResult> {
    const batch = opts.batch ?? 1;
    if (!Number.isInteger(batch) || batch < 1) {
      throw new InputError(`batch must be a positive integer, got ${batch}`);
    }
    const rows = this.#rows(embeds, "prefill embeds");
    if (rows % batch !== 0) {
      throw new InputError(
        `prefill embeds: ${rows} rows do not split into ${batch} samples of equal length`,
      );
    }
    const start = opts.positionStart ?? 0;
    checkPosition(start, "positionStart");
    const attention = opts.attention ?? "none";
    await this.#decoder(attention, opts.logits ?? "all", rows / batch); // a GPU cache's device
    const cache = this.newCache(batch);
    const reserve = opts.reserve ?? 0;
    if (!Number.isInteger(reserve) || reserve < 0) {
      throw new InputError(`reserve must be a non-negative integer, got ${reserve}`);
    }
    cache.fit(rows / batch + reserve);
    const out = await this.#forward(
      embeds,
      rows / batch,
      start,
      start,
      cache,
      attention,
      opts.logits ?? "all",
    );
    return { cache, ...out };
  }

  /**
   * Feeds one token (an id; one id per sample for a batch) or embedding rows (`[batch · T,
   * hidden]`, sample-major) at RoPE position `position` (then position+1, …) on top of `cache`,
   * appends their entries to the cache, and returns their logits.
   */
  async step(
    input: number | readonly number[] | Float32Array,
    cache: KvCache,
    position: number,
    opts: StepOptions = {},
  ): Promise<StepResult> {
    const ids = typeof input === "number" ? [input] : input instanceof Float32Array ? null : input;
    if (ids && ids.length !== cache.batch) {
      throw new InputError(
        `step: ${ids.length} token id(s) for a cache of ${cache.batch} sample(s); give one per sample`,
      );
    }
    const embeds = ids ? this.embedTokens(ids) : input as Float32Array;
    const allRows = this.#rows(embeds, "step embeds");
    if (allRows % cache.batch !== 0) {
      throw new InputError(
        `step embeds: ${allRows} rows do not split into ${cache.batch} samples of equal length`,
      );
    }
    const rows = allRows / cache.batch;
    checkPosition(position, "position");
    const cachePosition = opts.cachePosition ?? position;
    checkPosition(cachePosition, "cachePosition");
    this.#checkCache(cache);
    const out = await this.#forward(
      embeds,
      rows,
      position,
      cachePosition,
      cache,
      opts.attention ? "importance" : "none",
      "all",
    );
    return { logits: out.logits, importance: out.importance, runMs: out.runMs };
  }

  /**
   * Assembles a prompt: tokenizes `text` (or takes `ids`), replaces the single image token with
   * the image's feature rows, and embeds the rest.
   */
  async buildPrompt(input: PromptInput): Promise<Prompt> {
    const imageId = this.spec.imageTokenId;
    let ids: number[];
    if (input.ids !== undefined) {
      if (input.text !== undefined) throw new InputError(`give either text or ids, not both`);
      ids = [...input.ids];
    } else if (input.text !== undefined) {
      const tok = this.source.tokenizer;
      if (!tok) throw new InputError(`this model has no tokenizer; give the prompt as token ids`);
      const bos = tok.bosToken;
      const addSpecialTokens = input.addSpecialTokens ??
        !(bos !== undefined && bos !== "" && input.text.startsWith(bos));
      ids = tok.encodePrompt(input.text, imageId, { addSpecialTokens });
      checkTokenizerIds(ids.filter((id) => id !== imageId), this.vocabSize);
    } else {
      throw new InputError(`the prompt needs text or token ids`);
    }
    if (ids.length === 0) throw new InputError(`the prompt is empty`);
    const hasImage = input.image !== undefined || input.imageFeatures !== undefined;
    const slots = imageId === undefined ? [] : ids.flatMap((id, i) => (id === imageId ? [i] : []));
    if (!hasImage) {
      if (slots.length > 0) {
        throw new InputError(
          `the prompt has an image placeholder (token ${imageId}) at index ${
            slots[0]
          } but no image was given`,
        );
      }
      return { embeds: this.embedTokens(ids), ids, length: ids.length };
    }
    if (!this.spec.vision || imageId === undefined) {
      throw new InputError(
        `this ${this.spec.modelType} model has no vision tower; it takes no images`,
      );
    }
    if (slots.length !== 1) {
      throw new InputError(
        slots.length === 0
          ? `an image was given but the prompt has no image placeholder (<image>, token ${imageId})`
          : `the prompt has ${slots.length} image placeholders; exactly one is supported`,
      );
    }
    const features = input.imageFeatures ?? await this.encodeImage(input.image!);
    const D = this.hiddenSize;
    const count = clipFeatureRows(this.spec.vision);
    if (features.length !== count * D) {
      throw new InputError(`image features have ${features.length} values, expected ${count}×${D}`);
    }
    const at = slots[0];
    const before = this.embedTokens(ids.slice(0, at));
    const after = this.embedTokens(ids.slice(at + 1));
    const embeds = new Float32Array(before.length + features.length + after.length);
    embeds.set(before, 0);
    embeds.set(features, before.length);
    embeds.set(after, before.length + features.length);
    const expanded = [
      ...ids.slice(0, at),
      ...new Array<number>(count).fill(imageId),
      ...ids.slice(at + 1),
    ];
    return {
      embeds,
      ids: expanded,
      length: expanded.length,
      imageSpan: { start: at, end: at + count },
    };
  }

  /**
   * Loads (building or fetching from the graph cache) the decoder session that prefills with
   * `attention` and `logits`, or that serves one-token steps when `step` is true, so that later
   * calls are not charged for it.
   */
  async prepare(
    attention: AttentionOutputs,
    logits: "all" | "last" = "all",
    step = false,
  ): Promise<void> {
    await this.#decoder(attention, logits, step ? 1 : 2);
  }

  /**
   * Releases every session and, when {@link loadModel} opened the checkpoint, its files.
   * Releasing the sessions gives up the GPU device, so first every GPU cache this model made
   * that is still held is moved to the CPU ({@link KvCache.moveToCpu}: one read per layer):
   * nothing computed is lost, and such a cache goes on as a CPU cache, with any model.
   * Release caches you no longer need (`cache.release()`) to skip their reads.
   */
  close(): Promise<void> {
    // A second close while one runs waits for it (its reads need the sessions' device).
    this.#closing ??= this.#close().finally(() => this.#closing = null);
    return this.#closing;
  }

  async #close(): Promise<void> {
    const held = [...this.#gpuCaches].map((ref) => ref.deref());
    this.#gpuCaches.clear();
    try {
      await Promise.all(held.map((cache) => cache?.moveToCpu()));
    } finally {
      const sessions = [...this.#sessions.values()];
      this.#sessions.clear();
      this.#loaded.clear();
      for (const s of sessions) await (await s.catch(() => null))?.release();
      this.#gpuKv?.release();
      if (this.ownsSource) this.source.tensors.close();
    }
  }

  #rows(embeds: Float32Array, what: string): number {
    const D = this.hiddenSize;
    if (!(embeds instanceof Float32Array) || embeds.length === 0 || embeds.length % D !== 0) {
      throw new InputError(
        `${what}: expected a non-empty Float32Array of rows of ${D} values, got ${
          embeds?.length ?? embeds
        } values`,
      );
    }
    return embeds.length / D;
  }

  #checkCache(cache: KvCache): void {
    const t = this.spec.text;
    if (
      cache.numLayers !== t.numLayers || cache.numKvHeads !== t.numKvHeads ||
      cache.headDim !== t.headDim
    ) {
      throw new InputError(
        `cache shaped ${cache.numLayers} layers × ${cache.numKvHeads} KV heads × ${cache.headDim} does ` +
          `not fit this model (${t.numLayers} × ${t.numKvHeads} × ${t.headDim}); use model.newCache()`,
      );
    }
  }

  async #forward(
    embeds: Float32Array,
    rows: number,
    position: number,
    cachePosition: number,
    cache: KvCache,
    attention: AttentionOutputs,
    logits: "all" | "last",
  ): Promise<Omit<PrefillResult, "cache">> {
    const t = this.spec.text;
    const B = cache.batch;
    checkContextLength(t, position + rows);
    const { session, logits: given } = await this.#decoder(attention, logits, rows);
    const onGpu = await this.#pastOnGpu(cache);
    const positions = Array.from({ length: rows }, (_, i) => position + i);
    const feeds: Record<string, RuntimeTensor> = {
      inputs_embeds: floatTensor(embeds, [B, rows, t.hiddenSize]),
      position_ids: int64Tensor(Array.from({ length: B }, () => positions).flat(), [B, rows]),
    };
    const fetches = ["logits"];
    const lengths = cache.lengths();
    // An empty layer is fed one placeholder row that the −∞ bias hides from every query.
    const bias = new Float32Array(t.numLayers);
    const placeholder = new Float32Array(B * t.numKvHeads * t.headDim);
    for (let l = 0; l < t.numLayers; l++) {
      const empty = lengths[l] === 0;
      if (empty) bias[l] = -Infinity;
      const dims = [empty ? 1 : lengths[l], B, t.numKvHeads, t.headDim];
      const past = (which: "keys" | "values") =>
        empty
          ? floatTensor(placeholder, dims)
          : onGpu
          ? onGpu(cache.storageOf(l).rows, which, dims)
          : floatTensor(cache[which](l), dims);
      feeds[llamaNames.pastKey(l)] = past("keys");
      feeds[llamaNames.pastValue(l)] = past("values");
    }
    feeds[PAST_BIAS] = floatTensor(bias, [t.numLayers]);
    for (let l = 0; l < t.numLayers; l++) {
      fetches.push(llamaNames.newKey(l), llamaNames.newValue(l));
      if (attention !== "none") fetches.push(llamaNames.importance(l));
      if (ATTENTION_LEVEL[attention] >= 2) fetches.push(llamaNames.attention(l));
      if (attention === "headMatrices") fetches.push(llamaNames.headAttention(l));
    }
    // The cache's recorded work (the last retention pass, deferred evictions) goes in one
    // submit, ahead of the run that reads it.
    const kv = gpuContextOf(cache);
    kv?.flush();
    const t0 = performance.now();
    const out = await session.run(feeds, fetches);
    const runMs = performance.now() - t0;
    // New entries left on the GPU are checked through the logits they feed into.
    const onCpu = Object.fromEntries(
      Object.entries(out).filter(([, v]) => v.location !== "gpu-buffer"),
    );
    checkFiniteRun(embeds, onCpu, { numLayers: t.numLayers, position, rows });
    const cachePositions = positions.map((p) => p - position + cachePosition);
    for (let l = 0; l < t.numLayers; l++) {
      const [k, v] = [llamaNames.newKey(l), llamaNames.newValue(l)].map((name) => out[name]);
      cache.append(l, await newRows(k, cache), await newRows(v, cache), cachePositions);
    }
    // Every layer's appends go in one submit, before the outputs they copy from are disposed.
    kv?.flush();
    for (const v of Object.values(out)) if (v.location === "gpu-buffer") v.dispose();
    // A placeholder column sits first in each sample's rows of an empty layer: drop it.
    const perLayer = (name: (l: number) => string) =>
      Array.from({ length: t.numLayers }, (_, l) => {
        const data = out[name(l)].data as Float32Array;
        return lengths[l] === 0 ? dropFirstColumns(data, rows + 1) : data;
      });
    let logitData = out.logits.data as Float32Array;
    if (logits === "last" && given === "all") logitData = lastRowOfEach(logitData, B, t.vocabSize);
    return {
      logits: logitData,
      logitRows: logitData.length / t.vocabSize,
      importance: attention === "none" ? undefined : perLayer(llamaNames.importance),
      attention: ATTENTION_LEVEL[attention] >= 2 ? perLayer(llamaNames.attention) : undefined,
      headAttention: attention === "headMatrices" ? perLayer(llamaNames.headAttention) : undefined,
      runMs,
    };
  }

  /**
   * For a GPU cache, what makes a layer's past input: a GPU tensor over the first rows of its
   * buffers (no copy); `null` for a CPU cache (fed from its arrays).
   */
  async #pastOnGpu(
    cache: KvCache,
  ): Promise<
    ((rows: KvRowStorage, which: "keys" | "values", dims: number[]) => RuntimeTensor) | null
  > {
    if (cache.location === "cpu") return null;
    if (this.device !== "webgpu") {
      throw new InputError(
        `this cache holds its rows on the GPU (a webgpu model's); a ${this.device} model reads ` +
          `CPU caches only: use this model's model.newCache()`,
      );
    }
    const tensor = await gpuTensorMaker();
    return (rows, which, dims) => {
      if (!(rows instanceof GpuRows)) throw new Error(`a GPU cache layer without GPU rows`);
      // onnxruntime-web's tensor type; the session takes it like its own.
      return tensor(rows[which], dims) as unknown as RuntimeTensor;
    };
  }

  /**
   * The decoder session for a request, reusing a loaded one that computes at least as much:
   * more attention outputs, and all-rows logits for a last-row request (or any logits for a
   * single row). Returns which logits the session gives.
   */
  async #decoder(
    attention: AttentionOutputs,
    logits: "all" | "last",
    rows: number,
  ): Promise<{ session: Session; logits: "all" | "last" }> {
    for (const [loadedKey, session] of this.#loaded) {
      const [a, l] = loadedKey.split("-") as [AttentionOutputs, "all" | "last"];
      const logitsOk = l === logits || rows === 1 || l === "all";
      if (ATTENTION_LEVEL[a] >= ATTENTION_LEVEL[attention] && logitsOk) {
        return { session, logits: l };
      }
    }
    const key = `${attention}-${logits}`;
    const session = await this.#session(`decoder:${key}`, () => ({
      kind: "llama",
      // f32 keeps its former variant names, so existing cache entries stay valid.
      variant: `${this.weights === "f32" ? key : `${key}-${this.weights}`}${this.#variantSuffix}`,
      builderVersion: LLAMA_GRAPH_VERSION,
      fingerprint: this.fingerprint,
      linkFiles: this.linkCheckpoint,
      build: () =>
        buildLlamaGraph(this.spec.text, this.source.tensors, {
          attention,
          logits,
          weights: this.weights,
          precision: this.precision,
          referenceCheckpoint: this.linkCheckpoint,
        }),
    }), key);
    return { session, logits };
  }

  /**
   * Graph-cache variant suffix of the precision (float16 graphs are built and cached in half
   * precision straight from the checkpoint, not converted from float32 ones at load) and of
   * `linkCheckpoint` (graphs pointing into the checkpoint's files).
   */
  get #variantSuffix(): string {
    return `${this.precision === "float16" ? "-f16" : ""}${this.linkCheckpoint ? "-linked" : ""}`;
  }

  #session(name: string, request: () => GraphRequest, decoderKey?: string): Promise<Session> {
    let pending = this.#sessions.get(name);
    if (!pending) {
      pending = this.#createSession(name, request());
      this.#sessions.set(name, pending);
      pending.then(
        (s) => decoderKey && this.#loaded.set(decoderKey, s),
        () => this.#sessions.delete(name),
      );
    }
    return pending;
  }

  async #createSession(name: string, request: GraphRequest): Promise<Session> {
    if (this.#gpuKv?.closed) {
      throw new InputError(
        `this webgpu model was closed (model.close()), which gave up its GPU device: load it ` +
          `again (loadModel) to run it; the caches it made were moved to the CPU at close and ` +
          `work with any model`,
      );
    }
    const layers = Array.from({ length: this.spec.text.numLayers }, (_, l) => l);
    const options = {
      device: this.device,
      threads: this.threads,
      precision: this.precision,
      // A GPU cache appends the new entries from where the decoder leaves them.
      gpuOutputs: this.#gpuKv && name.startsWith("decoder")
        ? layers.flatMap((l) => [llamaNames.newKey(l), llamaNames.newValue(l)])
        : undefined,
    };
    let model: string | Uint8Array;
    let record: Omit<GraphLoad, "sessionMs">;
    if (this.graphCachePath === null) {
      const t0 = performance.now();
      model = request.build().toBytes();
      record = { graph: name, cached: false, buildMs: performance.now() - t0, writeMs: 0 };
    } else {
      const hit = await loadOrBuildGraph(this.graphCachePath, request);
      model = hit.modelPath;
      record = { graph: name, cached: hit.cached, buildMs: hit.buildMs, writeMs: hit.writeMs };
    }
    const t1 = performance.now();
    const session = await Session.create(model, options);
    // GPU caches live on the device onnxruntime-web creates with its first session.
    if (this.#gpuKv) this.#gpuKv.bind(await webGpuDevice());
    this.graphLoads.push({ ...record, sessionMs: performance.now() - t1 });
    return session;
  }
}

/** New entries as a cache takes them: GPU buffers for a GPU cache, else CPU floats. */
/** The GPU context holding `cache`'s rows; `null` for a CPU cache. */
function gpuContextOf(cache: KvCache): GpuKvContext | null {
  if (cache.location !== "gpu") return null;
  const rows = cache.storageOf(0).rows;
  return rows instanceof GpuRows ? rows.context : null;
}

async function newRows(t: RuntimeTensor, cache: KvCache): Promise<RowData> {
  if (t.location !== "gpu-buffer") return t.data as Float32Array;
  if (cache.location === "gpu") return { gpuBuffer: t.gpuBuffer as GPUBuffer };
  // A CPU cache on a model whose caches live on the GPU: read the entries back (counted).
  const data = await t.getData() as Float32Array;
  recordWebGpuTransfer("download", data.byteLength);
  return data;
}

/** Rows of `width` values, each without its first value. */
function dropFirstColumns(data: Float32Array, width: number): Float32Array {
  if (data.length === width) return data.subarray(1);
  const rowCount = data.length / width;
  const out = new Float32Array(rowCount * (width - 1));
  for (let r = 0; r < rowCount; r++) {
    out.set(data.subarray(r * width + 1, (r + 1) * width), r * (width - 1));
  }
  return out;
}

/** The last of each sample's logit rows. */
function lastRowOfEach(logits: Float32Array, batch: number, vocab: number): Float32Array {
  const perSample = logits.length / batch;
  if (batch === 1) return logits.subarray(perSample - vocab);
  const out = new Float32Array(batch * vocab);
  for (let b = 0; b < batch; b++) {
    out.set(logits.subarray((b + 1) * perSample - vocab, (b + 1) * perSample), b * vocab);
  }
  return out;
}

function weightFormat(w: unknown): WeightFormat {
  if (w === undefined) return "f32";
  if (!WEIGHT_FORMATS.includes(w as WeightFormat)) {
    throw new InputError(
      `weights = ${JSON.stringify(w)} is not a weight format (supported: ${
        WEIGHT_FORMATS.join(", ")
      })`,
    );
  }
  return w as WeightFormat;
}

/** Refuses `linkCheckpoint` where it cannot apply (rather than ignoring it). */
function checkLinkCheckpoint(link: unknown, device: Device, cacheDir: string | null): void {
  if (link === undefined || link === false) return;
  if (link !== true) {
    throw new InputError(`linkCheckpoint = ${JSON.stringify(link)} is not a boolean`);
  }
  if (cacheDir === null) {
    throw new InputError(
      `linkCheckpoint needs a graph cache to link the checkpoint's files into; drop cacheDir: false`,
    );
  }
  if (device === "webgpu") {
    throw new InputError(
      `linkCheckpoint applies to devices cpu and cuda: device "webgpu" reads every external data ` +
        `file whole into memory, so it would read the checkpoint's shards whole; leave it out`,
    );
  }
}

function checkPosition(p: number, what: string): void {
  if (!Number.isInteger(p) || p < 0) {
    throw new InputError(`${what} must be a non-negative integer, got ${p}`);
  }
}

/**
 * Loads a model from a checkpoint directory or an already loaded checkpoint. Graphs are built
 * (or fetched from the graph cache) lazily, when first needed.
 *
 * @example Load the bundled tiny LLaVA and look at its shape
 * ```ts
 * import { BUNDLED_MODEL_DIR, loadModel } from "@prefixkv/prefixkv";
 * const model = await loadModel(BUNDLED_MODEL_DIR);
 * console.log(model.spec.family, model.spec.text.numLayers, model.spec.imageTokens); // llava 8 64
 * await model.close();
 * ```
 */
export async function loadModel(
  source: string | ModelSource,
  opts: LoadModelOptions = {},
): Promise<Model> {
  const device = opts.device ?? "cpu";
  const weights = weightFormat(opts.weights);
  const owns = typeof source === "string";
  const src: ModelSource = typeof source === "string" ? await loadCheckpoint(source) : source;
  try {
    const cacheDir = opts.cacheDir === false ? null : (opts.cacheDir ?? defaultGraphCacheDir());
    const fingerprint = await checkpointFingerprint(src);
    // Fail on options the device cannot honour, then on an unusable device, now rather than
    // at the first prefill (options first: no one should install a provider to learn that).
    checkDeviceOptions(device, opts);
    assertDeviceAvailable(device);
    checkLinkCheckpoint(opts.linkCheckpoint, device, cacheDir);
    if (device === "webgpu") await requireWebGpuAdapter();
    const cacheLocation = opts.cacheLocation ?? (device === "webgpu" ? "gpu" : "cpu");
    if (cacheLocation !== "cpu" && (cacheLocation !== "gpu" || device !== "webgpu")) {
      throw new InputError(
        cacheLocation === "gpu"
          ? `cacheLocation "gpu" needs device "webgpu"; ${device} caches live on the CPU`
          : `cacheLocation ${JSON.stringify(cacheLocation)} is not a cache location ` +
            `(supported: "gpu" on webgpu, "cpu")`,
      );
    }
    return new Model(
      src,
      device,
      fingerprint,
      cacheDir === null ? null : resolve(cacheDir),
      opts.threads,
      owns,
      weights,
      opts.precision,
      cacheLocation,
      opts.linkCheckpoint ?? false,
    );
  } catch (err) {
    if (owns) src.tensors.close();
    throw err;
  }
}
