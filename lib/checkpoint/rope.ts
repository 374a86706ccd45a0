/**
 * Rotary position embeddings as a checkpoint configures them: reading `rope_theta` /
 * `rope_scaling` (transformers ≤ 4) or `rope_parameters` (transformers 5) into a
 * {@link RopeScaling}, and the inverse frequencies each type implies.
 *
 * Supported types and their frequencies follow transformers' `modeling_rope_utils.py`
 * (`_compute_default_rope_parameters`, `_compute_linear_scaling_rope_parameters`,
 * `_compute_llama3_parameters`), where `inv_freq[i] = 1 / θ^(2i/d)` for `i < d/2`:
 *
 * - `default`: `inv_freq` as is.
 * - `linear`: `inv_freq / factor` (equivalent to dividing the positions by `factor`).
 * - `llama3`: with `wavelen = 2π / inv_freq`, `low = L / low_freq_factor` and
 *   `high = L / high_freq_factor` (`L = original_max_position_embeddings`): long wavelengths
 *   (`wavelen > low`) are divided by `factor`, short ones (`wavelen < high`) kept, and those in
 *   between interpolated with `s = (L / wavelen − low_freq_factor) / (high_freq_factor −
 *   low_freq_factor)` as `(1 − s) · inv_freq / factor + s · inv_freq`.
 *
 * All three leave the attention scaling at 1. Other types (`dynamic`, `yarn`, `longrope`, …)
 * and `partial_rotary_factor` below 1 are refused with an error naming the key.
 *
 * @module
 */

import { CheckpointError, InputError } from "../errors.ts";
import type { LlamaSpec, RopeScaling } from "./spec.ts";

/** RoPE types this runtime computes. */
export const SUPPORTED_ROPE_TYPES: readonly string[] = ["default", "linear", "llama3"];

/** The keys each supported type reads (besides `rope_type`/`type` and `rope_theta`). */
const TYPE_KEYS: Readonly<Record<string, readonly string[]>> = {
  default: [],
  linear: ["factor"],
  llama3: ["factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"],
};

/** The RoPE part of a LLaMA config: what {@link parseRope} reads. */
export interface RopeConfigFields {
  /** Base frequency θ (transformers ≤ 4; inside `rope_parameters` in 5). */
  rope_theta?: number | null;
  /** transformers ≤ 4's scaling dict (`type` or `rope_type`, `factor`, …). */
  rope_scaling?: Record<string, unknown> | null;
  /** transformers 5's dict: `rope_type`, `rope_theta` and the type's own keys. */
  rope_parameters?: Record<string, unknown> | null;
  /** Fraction of each head that is rotated; only 1 is supported. */
  partial_rotary_factor?: number | null;
  /** Trained context; llama3 scaling's default `original_max_position_embeddings`. */
  max_position_embeddings?: number | null;
}

/** θ and scaling of a LLaMA config, as stored in {@link LlamaSpec}. */
export interface ParsedRope {
  /** Base frequency θ. */
  ropeTheta: number;
  /** Scaling, `null` for the default type. */
  ropeScaling: RopeScaling;
}

const show = (v: unknown) => JSON.stringify(v);

function positiveNumber(file: string, key: string, v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || !(v > 0)) {
    throw new CheckpointError(
      `${file}: ${key} = ${show(v)} is not valid (${what}); set it to a positive number`,
    );
  }
  return v;
}

/** Two dicts equal after dropping `null`s (old configs write `rope_scaling: null`). */
function sameDict(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const norm = (o: Record<string, unknown>) =>
    JSON.stringify(
      Object.entries(o).filter(([, v]) => v != null).sort(([x], [y]) => x < y ? -1 : 1),
    );
  return norm(a) === norm(b);
}

/**
 * Reads RoPE settings from a LLaMA config. `field` is the dotted path of the config object in
 * messages (`"text_config"` for a LLaVA, `""` at the top level).
 *
 * transformers 5 writes `rope_parameters: {rope_type, rope_theta, …}`; older configs write
 * `rope_theta` and `rope_scaling: {type | rope_type, factor, …}`. transformers merges them
 * (`rope_scaling` taking precedence, `rope_parameters.rope_theta` over `rope_theta`); where both
 * are given and disagree the config is ambiguous and refused here. A key the chosen type does not
 * read is an error too, so that nothing a config says is silently dropped.
 *
 * @example Llama 3.1's scaling, as transformers 5 writes it
 * ```ts
 * import { parseRope } from "./rope.ts";
 * const rope = parseRope("config.json", "", {
 *   max_position_embeddings: 131072,
 *   rope_parameters: {
 *     rope_type: "llama3", rope_theta: 500000, factor: 8, low_freq_factor: 1,
 *     high_freq_factor: 4, original_max_position_embeddings: 8192,
 *   },
 * });
 * console.assert(rope.ropeScaling?.type === "llama3" && rope.ropeTheta === 500000);
 * ```
 */
export function parseRope(file: string, field: string, c: RopeConfigFields): ParsedRope {
  const key = (k: string) => field ? `${field}.${k}` : k;
  const scaling = c.rope_scaling ?? null;
  const params = c.rope_parameters ?? null;
  for (const [k, v] of [["rope_scaling", scaling], ["rope_parameters", params]] as const) {
    if (v !== null && (typeof v !== "object" || Array.isArray(v))) {
      throw new CheckpointError(
        `${file}: ${key(k)} = ${show(v)} is not an object; write it as {"rope_type": …, …}`,
      );
    }
  }
  if (scaling && params && !sameDict(stripTheta(scaling), stripTheta(params))) {
    throw new CheckpointError(
      `${file}: ${key("rope_scaling")} = ${show(scaling)} and ${key("rope_parameters")} = ` +
        `${show(params)} disagree; keep one of them (transformers 5 writes rope_parameters)`,
    );
  }
  const dict: Record<string, unknown> = { ...(params ?? {}), ...(scaling ?? {}) };
  const where = key(scaling ? "rope_scaling" : "rope_parameters");
  const dictTheta = dict.rope_theta;
  if (dictTheta != null && c.rope_theta != null && dictTheta !== c.rope_theta) {
    throw new CheckpointError(
      `${file}: ${key("rope_theta")} = ${show(c.rope_theta)} but ${where}.rope_theta = ` +
        `${show(dictTheta)}; keep one of them`,
    );
  }
  const ropeTheta = positiveNumber(
    file,
    key("rope_theta"),
    dictTheta ?? c.rope_theta ?? 10000,
    "θ",
  );
  if (dict.type != null && dict.rope_type != null && dict.type !== dict.rope_type) {
    throw new CheckpointError(
      `${file}: ${where}.type = ${show(dict.type)} but ${where}.rope_type = ` +
        `${show(dict.rope_type)}; keep rope_type`,
    );
  }
  const type = dict.rope_type ?? dict.type ?? "default";
  if (typeof type !== "string" || !(type in TYPE_KEYS)) {
    throw new CheckpointError(
      `${file}: ${where}.rope_type = ${show(type)} is not supported ` +
        `(supported: ${SUPPORTED_ROPE_TYPES.map(show).join(", ")})`,
    );
  }
  const partial = dict.partial_rotary_factor ?? c.partial_rotary_factor ?? 1;
  if (partial !== 1) {
    throw new CheckpointError(
      `${file}: partial_rotary_factor = ${show(partial)} is not supported (supported: 1, ` +
        `RoPE over the whole head)`,
    );
  }
  const known = new Set([
    "rope_type",
    "type",
    "rope_theta",
    "partial_rotary_factor",
    ...TYPE_KEYS[type],
  ]);
  const unknown = Object.keys(dict).filter((k) => !known.has(k) && dict[k] != null);
  if (unknown.length) {
    throw new CheckpointError(
      `${file}: ${where} has ${unknown.map((k) => `${k} = ${show(dict[k])}`).join(", ")}, which ` +
        `rope_type ${show(type)} does not use (it reads: ${
          ["rope_type", "rope_theta", ...TYPE_KEYS[type]].join(", ")
        }); remove it or pick the type it belongs to`,
    );
  }
  const num = (k: string, what: string) => positiveNumber(file, `${where}.${k}`, dict[k], what);
  if (type === "default") return { ropeTheta, ropeScaling: null };
  if (type === "linear") {
    return { ropeTheta, ropeScaling: { type: "linear", factor: num("factor", "≥ 1") } };
  }
  const lowFreqFactor = num("low_freq_factor", "a wavelength divisor");
  const highFreqFactor = num("high_freq_factor", "a wavelength divisor");
  if (!(highFreqFactor > lowFreqFactor)) {
    throw new CheckpointError(
      `${file}: ${where}.high_freq_factor = ${highFreqFactor} must exceed low_freq_factor = ` +
        `${lowFreqFactor}`,
    );
  }
  // transformers falls back to max_position_embeddings when the original length is absent.
  const original = dict.original_max_position_embeddings ?? c.max_position_embeddings ?? 2048;
  return {
    ropeTheta,
    ropeScaling: {
      type: "llama3",
      factor: num("factor", "≥ 1"),
      lowFreqFactor,
      highFreqFactor,
      originalMaxPositionEmbeddings: positiveNumber(
        file,
        `${where}.original_max_position_embeddings`,
        original,
        "a context length",
      ),
    },
  };
}

function stripTheta(o: Record<string, unknown>): Record<string, unknown> {
  const { rope_theta: _t, ...rest } = o;
  return rest;
}

/**
 * The `headDim / 2` inverse frequencies of `spec`'s RoPE, computed step by step in float32 as
 * transformers does in PyTorch (each operation rounded to float32), so the angles
 * `position · inv_freq` match HF's.
 *
 * @example
 * ```ts
 * import { ropeInverseFrequencies } from "./rope.ts";
 * const f = ropeInverseFrequencies({ headDim: 4, ropeTheta: 10000, ropeScaling: null });
 * console.assert(f[0] === 1 && Math.abs(f[1] - 0.01) < 1e-9);
 * ```
 */
export function ropeInverseFrequencies(
  spec: Pick<LlamaSpec, "headDim" | "ropeTheta" | "ropeScaling">,
): Float32Array {
  const f = Math.fround;
  const d = spec.headDim;
  const out = new Float32Array(d / 2);
  for (let i = 0; i < d / 2; i++) out[i] = f(1 / f(spec.ropeTheta ** f((2 * i) / d)));
  const s = spec.ropeScaling;
  if (s === null) return out;
  const factor = f(s.factor);
  if (s.type === "linear") return out.map((x) => f(x / factor));
  const L = s.originalMaxPositionEmbeddings;
  const lowWavelen = f(L / s.lowFreqFactor), highWavelen = f(L / s.highFreqFactor);
  const twoPi = f(2 * Math.PI);
  return out.map((inv) => {
    const wavelen = f(twoPi / inv);
    if (wavelen < highWavelen) return inv;
    if (wavelen > lowWavelen) return f(inv / factor);
    const smooth = f(
      f(f(f(L) / wavelen) - f(s.lowFreqFactor)) /
        f(s.highFreqFactor - s.lowFreqFactor),
    );
    return f(f(f(f(1 - smooth) * inv) / factor) + f(smooth * inv));
  });
}

/**
 * Throws an {@link InputError} when RoPE positions up to `end − 1` do not fit the model's
 * `max_position_embeddings` (the context it was trained for; beyond it, HF computes angles the
 * model never saw, so the runtime refuses rather than quietly degrading).
 *
 * @example
 * ```ts
 * import { checkContextLength } from "./rope.ts";
 * checkContextLength({ maxPositionEmbeddings: 256 }, 256); // positions 0…255: fine
 * ```
 */
export function checkContextLength(
  spec: Pick<LlamaSpec, "maxPositionEmbeddings">,
  end: number,
): void {
  if (end > spec.maxPositionEmbeddings) {
    throw new InputError(
      `the sequence needs RoPE positions up to ${end - 1}, but the model's ` +
        `max_position_embeddings = ${spec.maxPositionEmbeddings} (config.json) allows ` +
        `0 … ${spec.maxPositionEmbeddings - 1}; shorten the prompt or generate fewer tokens`,
    );
  }
}
