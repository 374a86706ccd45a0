/**
 * The bench's bandwidths: STREAM-style copy bandwidth (`measureCopyBandwidth` of
 * `lib/analysis/roofline.ts`, what the roofline uses) and, beside it, the read bandwidth
 * onnxruntime's own kernels reach on this machine (a ReduceSum streaming a large tensor with
 * every thread): the gap between the two is what a runtime could still win.
 *
 * @module
 */
import "../../lib/ort_telemetry.ts"; // before onnxruntime-node loads its native library
import * as ort from "onnxruntime-node";
import { measureCopyBandwidth } from "../../lib/analysis/roofline.ts";
import { GraphBuilder } from "../../lib/graph/onnx_builder.ts";

/** Measured memory bandwidths, bytes per second. */
export interface Bandwidth {
  /** onnxruntime summing a large float32 tensor (read-only streaming, all threads). */
  read: number;
  /** `TypedArray.set` of a large buffer, read + write bytes (STREAM copy). */
  copy: number;
  /** Bytes of the buffers used (several times the last-level cache). */
  bufferBytes: number;
}

/** Measures both bandwidths over buffers of `bytes` (default 256 MiB), best of 7 each. */
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
  const feeds = { x: new ort.Tensor("float32", new Float32Array(n).fill(1), [rows, n / rows]) };
  await session.run(feeds);
  let best = Infinity;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    best = Math.min(best, performance.now() - t0);
  }
  await session.release();
  const copy = measureCopyBandwidth({ bytes, repeats: 7 });
  return { read: bytes / (best / 1000), copy, bufferBytes: bytes };
}
