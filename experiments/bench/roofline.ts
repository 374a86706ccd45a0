/**
 * The memory roofline of a decode step: the machine's measured read bandwidth, the bytes a
 * step must read (every weight the step multiplies by, plus the kept keys and values), and
 * from them the ideal step time. Decoding is memory-bound, so a step cannot be faster than
 * reading those bytes once.
 *
 * @module
 */
import * as ort from "onnxruntime-node";
import type { LlamaSpec } from "../../lib/checkpoint/spec.ts";
import { GraphBuilder } from "../../lib/graph/onnx_builder.ts";

/** Measured memory bandwidths, bytes per second. */
export interface Bandwidth {
  /** onnxruntime summing a large float32 tensor (read-only streaming, all threads). */
  read: number;
  /** JavaScript `TypedArray.set` of a large buffer, counted as read + write bytes. */
  copy: number;
  /** Bytes of the buffer used (several times the last-level cache). */
  bufferBytes: number;
}

/** Best of `repeats` timings of `fn`, milliseconds. */
async function bestMs(repeats: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/**
 * Measures read bandwidth with onnxruntime (a ReduceSum over `bytes` of float32 — the same
 * threads and vector loads as the decode GEMMs) and copy bandwidth in JavaScript.
 */
export async function measureBandwidth(
  bytes = 256 * 2 ** 20,
  threads?: number,
): Promise<Bandwidth> {
  const n = bytes / 4;
  const rows = 1024;
  const g = new GraphBuilder("bandwidth");
  const x = g.input("x", "float32", [rows, n / rows]);
  g.op("ReduceSum", [x, g.constI64([1])], { keepdims: 0 }, { outputs: ["sum"] });
  g.output("sum", "float32", [rows]);
  const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: "all" };
  if (threads !== undefined) opts.intraOpNumThreads = threads;
  const session = await ort.InferenceSession.create(g.toBytes(), opts);
  const data = new Float32Array(n).fill(1);
  const feeds = { x: new ort.Tensor("float32", data, [rows, n / rows]) };
  await session.run(feeds);
  const readMs = await bestMs(7, () => session.run(feeds));
  await session.release();
  const copy = new Float32Array(n);
  copy.set(data);
  const copyMs = await bestMs(7, () => copy.set(data));
  return { read: bytes / (readMs / 1000), copy: (2 * bytes) / (copyMs / 1000), bufferBytes: bytes };
}

/**
 * Float32 bytes of the weights one decode step reads: every layer's projections and norms,
 * the final norm and the LM head (the embedding table is only indexed: one row per token).
 */
export function stepWeightBytes(spec: LlamaSpec): number {
  const { hiddenSize: D, numHeads: H, numKvHeads: kvH, headDim: hd, intermediateSize: I } = spec;
  const perLayer = D * (H + 2 * kvH) * hd + H * hd * D + 3 * D * I + 2 * D;
  return 4 * (spec.numLayers * perLayer + D + spec.vocabSize * D);
}

/** Bytes of keys and values a step reads when the cache holds `entries` (all layers, samples). */
export function stepKvBytes(spec: LlamaSpec, entries: number): number {
  return entries * 2 * spec.numKvHeads * spec.headDim * 4;
}
