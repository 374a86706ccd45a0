/**
 * PrefixKV configurations in the reference's file format: a JSON list of per-layer
 * **eviction** fractions, named `prefixkv_{model}_{ratio}.json` with ratio = Python `str(ρ)`.
 * Applying one to a prompt of length N evicts round(ρ_l·N) entries in layer l (numpy round,
 * half to even), clamped so the protected positions survive.
 *
 * @module
 */
import { fileError, InputError, parseJsonInput } from "../errors.ts";
import { evictRatioOf, pythonFloatStr, roundHalfEven } from "./budget.ts";
import { checkProtected } from "./select.ts";

/** The reference's config file name for `model` at `budget` (fraction kept). */
export function referenceConfigName(model: string, budget: number): string {
  if (!model || /[\\/]/.test(model)) {
    throw new InputError(`model name must be non-empty without slashes; got "${model}"`);
  }
  return `prefixkv_${model}_${pythonFloatStr(evictRatioOf(budget))}.json`;
}

/** Name of the provenance sidecar of a config file: `x.json` → `x.meta.json`. */
export function metaFileName(configName: string): string {
  return configName.replace(/\.json$/, "") + ".meta.json";
}

/**
 * Parses a reference config (JSON list of per-layer eviction fractions in [0, 1]).
 *
 * @param text file contents
 * @param source file name for error messages
 * @param numLayers when given, the model's layer count the config must match
 */
export function parseReferenceConfig(text: string, source: string, numLayers?: number): number[] {
  const data = parseJsonInput(text, source);
  if (!Array.isArray(data) || data.length === 0) {
    throw new InputError(`${source}: expected a non-empty JSON list of per-layer eviction ratios`);
  }
  data.forEach((v, l) => {
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
      throw new InputError(
        `${source}: entry ${l} is ${JSON.stringify(v)}; expected a number in [0, 1]`,
      );
    }
  });
  if (numLayers !== undefined) checkLayerCount(data, numLayers, source);
  return data as number[];
}

/** Reads and parses a reference config file; see {@link parseReferenceConfig}. */
export async function readReferenceConfig(path: string, numLayers?: number): Promise<number[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw fileError(path, "read the PrefixKV config", e);
  }
  return parseReferenceConfig(text, path, numLayers);
}

/** Throws unless a config has one ratio per model layer. */
export function checkLayerCount(
  ratios: ArrayLike<number>,
  numLayers: number,
  source = "PrefixKV config",
): void {
  if (ratios.length !== numLayers) {
    throw new InputError(
      `${source} has ${ratios.length} per-layer ratios but the model has ${numLayers} layers; ` +
        `use a config calibrated for this model`,
    );
  }
}

/** Writes ratios as Python's `json.dumps` would: `[0.5, 0.25, 0.0]`. */
export function formatReferenceConfig(ratios: ArrayLike<number>): string {
  return `[${Array.from(ratios, pythonFloatStr).join(", ")}]`;
}

/**
 * Per-layer eviction counts of an offline config for a prompt of length `n`: round(ρ_l·n)
 * with numpy/Python rounding (half to even), clamped to [0, n − startSize − 1] so the first
 * `startSize` positions and the last one survive.
 */
export function evictCountsFromRatios(
  ratios: ArrayLike<number>,
  n: number,
  startSize = 1,
): number[] {
  checkProtected(n, startSize);
  const max = n - startSize - 1;
  return Array.from(ratios, (r, l) => {
    if (!(r >= 0 && r <= 1)) {
      throw new InputError(`eviction ratio of layer ${l} must be in [0, 1]; got ${r}`);
    }
    return Math.min(max, roundHalfEven(r * n));
  });
}
