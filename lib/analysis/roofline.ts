/**
 * The memory roofline of decoding: a decode step reads every decoder weight and every cached
 * key and value once, so on a memory-bound machine it cannot take less than those bytes over
 * the memory bandwidth. {@link decodeStepBytes} counts the bytes from the model's spec and the
 * cache's entries, {@link measureCopyBandwidth} measures the bandwidth here, and
 * {@link rooflineMs} gives the ideal step time, to set beside a measured one.
 *
 * @example The ideal step of a small decoder with 800 cached entries
 * ```ts
 * import { decodeStepBytes, rooflineMs } from "./roofline.ts";
 * const spec = {
 *   vocabSize: 74, hiddenSize: 128, intermediateSize: 352, numLayers: 8,
 *   numHeads: 4, numKvHeads: 2, headDim: 32,
 * };
 * const bytes = decodeStepBytes(spec, 800);
 * console.log(rooflineMs(bytes.total, 20e9).toFixed(3), "ms");
 * ```
 *
 * @module
 */
import type { LlamaSpec } from "../checkpoint/spec.ts";

/** The sizes {@link decodeStepBytes} needs from a language model's spec. */
export type DecoderSizes = Pick<
  LlamaSpec,
  | "vocabSize"
  | "hiddenSize"
  | "intermediateSize"
  | "numLayers"
  | "numHeads"
  | "numKvHeads"
  | "headDim"
>;

/** Bytes one decode step reads. */
export interface StepBytes {
  /** Decoder weights: attention and MLP projections, norms and the LM head. */
  weights: number;
  /** Cached keys and values of every layer. */
  kv: number;
  /** `weights + kv`. */
  total: number;
}

/**
 * Bytes one decode step reads from memory with `kvEntries` entries cached over all layers
 * (one token in every layer is `numLayers` entries): every weight of the decoder (the embedding
 * table is only indexed, so it is left out) plus each entry's key and value, at `bytesPerValue`
 * bytes each (4 for float32, as this runtime stores them; 2 for a half-precision model).
 */
export function decodeStepBytes(
  spec: DecoderSizes,
  kvEntries: number,
  bytesPerValue = 4,
): StepBytes {
  const h = spec.hiddenSize;
  const q = spec.numHeads * spec.headDim;
  const kv = spec.numKvHeads * spec.headDim;
  const perLayer = h * q + 2 * h * kv + q * h + 3 * h * spec.intermediateSize + 2 * h;
  const params = spec.numLayers * perLayer + h + spec.vocabSize * h;
  const weights = bytesPerValue * params;
  const kvBytes = bytesPerValue * 2 * kv * kvEntries;
  return { weights, kv: kvBytes, total: weights + kvBytes };
}

/** The ideal time in milliseconds to read `bytes` at `bytesPerSecond`. */
export function rooflineMs(bytes: number, bytesPerSecond: number): number {
  if (!(bytesPerSecond > 0)) {
    throw new Error(`rooflineMs: the bandwidth must be positive, got ${bytesPerSecond}`);
  }
  return (1000 * bytes) / bytesPerSecond;
}

/** Options of {@link measureCopyBandwidth}. */
export interface BandwidthOptions {
  /** Bytes of the buffer copied (default 64 MiB: twice this machine's 32 MiB L3). */
  bytes?: number;
  /** Copies timed; the fastest counts (default 5). */
  repeats?: number;
}

/**
 * Memory bandwidth in bytes per second, measured as STREAM's copy does: the fastest of
 * `repeats` copies of a buffer larger than the caches, counting the bytes read and written.
 */
export function measureCopyBandwidth(opts: BandwidthOptions = {}): number {
  const bytes = opts.bytes ?? 64 * 1024 * 1024;
  const repeats = opts.repeats ?? 5;
  const src = new Float64Array(Math.ceil(bytes / 8)).fill(1);
  const dst = new Float64Array(src.length);
  dst.set(src); // touch the pages once, so the timed copies do not fault them in
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t0);
  }
  return (2 * src.byteLength) / (Math.max(best, 1e-3) / 1000);
}
