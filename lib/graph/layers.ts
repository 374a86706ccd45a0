/**
 * Neural-network building blocks shared by the graph builders, written as small functions over
 * a {@link GraphBuilder}. Activations stay 2-D (`[tokens, features]`) so every linear layer is
 * one `Gemm` with `transB = 1`, which reads checkpoint weights in their stored `[out, in]`
 * layout with no transpose at build time.
 *
 * @module
 */
import type { TensorStore } from "../checkpoint/tensor_store.ts";
import { float, type GraphBuilder, type RegionPart, type TensorRegion } from "./onnx_builder.ts";

/**
 * The checkpoint tensor `name` as initializer parts made on demand (one part): read when the
 * graph is written, so a builder never holds every weight at once. With `dtype` `"float16"` the
 * part is read as float16 where the store can (an F16 tensor without a float32 copy). The part
 * carries the tensor's place in its file when the store knows it ({@link RegionPart}). A missing
 * tensor or a wrong shape is an error now, at build time.
 */
export function lazyTensor(
  tensors: TensorStore,
  name: string,
  shape: readonly number[],
  dtype: "float32" | "float16" = "float32",
): [() => Float32Array | Float16Array] {
  const info = tensors.info(name);
  const fits = info && info.shape.length === shape.length &&
    info.shape.every((d, i) => d === shape[i]);
  // Read now only to raise the store's own error (naming the file) for a missing or misfit tensor.
  if (!fits) tensors.getF32(name, shape);
  if (!fits) throw new Error(`tensor ${name}: expected shape [${shape}], found [${info?.shape}]`);
  const read: RegionPart = dtype === "float16" && tensors.getF16
    ? () => tensors.getF16!(name, shape)
    : () => tensors.getF32(name, shape);
  const stored = tensors.region?.(name);
  const type = stored && STORED_TYPES[stored.dtype];
  if (stored && type) read.region = { ...stored, dtype: type };
  return [read as () => Float32Array | Float16Array];
}

/** Stored element types a graph can use as they are (see `GraphOptions.referenceFiles`). */
const STORED_TYPES: Partial<Record<string, TensorRegion["dtype"]>> = {
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
};

/** `x · Wᵀ (+ b)` for `x [n, in]` and a weight stored `[out, in]`. */
export function linear(g: GraphBuilder, x: string, weight: string, bias?: string): string {
  return g.op("Gemm", bias ? [x, weight, bias] : [x, weight], { transB: 1 });
}

/** LLaMA RMSNorm over the last axis, in float32: `x / sqrt(mean(x²) + eps) · w`. */
export function rmsNorm(g: GraphBuilder, x: string, weight: string, eps: number): string {
  const meanSq = g.op("ReduceMean", [g.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
  const denom = g.op("Sqrt", [g.op("Add", [meanSq, g.constF32(eps, [])])]);
  return g.op("Mul", [g.op("Div", [x, denom]), weight]);
}

/** LayerNorm over the last axis with scale and bias. */
export function layerNorm(
  g: GraphBuilder,
  x: string,
  weight: string,
  bias: string,
  eps: number,
): string {
  return g.op("LayerNormalization", [x, weight, bias], { axis: -1, epsilon: float(eps) });
}

/** Exact GELU, `0.5 · x · (1 + erf(x / √2))` (opset 17 has no Gelu operator). */
export function geluExact(g: GraphBuilder, x: string): string {
  const erf = g.op("Erf", [g.op("Div", [x, g.constF32(Math.SQRT2, [])])]);
  const onePlus = g.op("Add", [erf, g.constF32(1, [])]);
  return g.op("Mul", [g.op("Mul", [x, onePlus]), g.constF32(0.5, [])]);
}

/** CLIP's quick GELU, `x · sigmoid(1.702 · x)`. */
export function quickGelu(g: GraphBuilder, x: string): string {
  return g.op("Mul", [x, g.op("Sigmoid", [g.op("Mul", [x, g.constF32(1.702, [])])])]);
}

/** SiLU, `x · sigmoid(x)`. */
export function silu(g: GraphBuilder, x: string): string {
  return g.op("Mul", [x, g.op("Sigmoid", [x])]);
}
