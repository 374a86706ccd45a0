/**
 * Neural-network building blocks shared by the graph builders, written as small functions over
 * a {@link GraphBuilder}. Activations stay 2-D (`[tokens, features]`) so every linear layer is
 * one `Gemm` with `transB = 1`, which reads checkpoint weights in their stored `[out, in]`
 * layout with no transpose at build time.
 *
 * @module
 */
import { float, type GraphBuilder } from "./onnx_builder.ts";

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
