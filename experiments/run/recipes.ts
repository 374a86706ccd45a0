/**
 * The recipe axis of an experiment: named presets and JSON sweep files become checked
 * {@link RecipeConfig}s, and a config plus a budget (and, for offline PrefixKV, a calibrated
 * config) becomes the cache policy a cell runs.
 *
 * A config is a registered recipe with its options, plus three experiment axes the registry
 * does not name: the importance variant (`sum` as the paper, the causal-count-normalised
 * `mean`, an observation `window`), the decode policy (`fixed-distance` as the paper, `none`,
 * `accumulated` scores) and `calibrate: N` (an offline config averaged over N calibration
 * samples, as the reference's default inference path).
 *
 * @module
 */
import { z } from "zod";
import { InputError, parseJsonInput } from "../../lib/errors.ts";
import { normalizeByCausalCount } from "../../lib/importance/compute.ts";
import { accumulatedLayerwise } from "../../lib/recipes/decode/accumulated.ts";
import { fixedDistance } from "../../lib/recipes/decode/fixed_distance.ts";
import { noDecodeEviction } from "../../lib/recipes/decode/keep_all.ts";
import {
  type DecodePolicy,
  type Recipe,
  recompose,
  type Scorer,
} from "../../lib/recipes/recipe.ts";
import {
  createRecipe,
  recipeMethod,
  recipeNames,
  recipeOptions,
} from "../../lib/recipes/registry.ts";
import { requireImportance } from "../../lib/recipes/scorers/prefill_importance.ts";
import { observationWindow } from "../../lib/recipes/scorers/observation_window.ts";
import type { CachePolicy } from "../../lib/runtime/cache_policy.ts";

/** Importance variants (paper.md §6): how prefill attention becomes one score per entry. */
export const IMPORTANCE_VARIANTS = ["sum", "mean", "window"] as const;
/** Importance variant name. */
export type ImportanceVariant = (typeof IMPORTANCE_VARIANTS)[number];
/** Decode policies as an axis: the paper's fixed distance, none, accumulated attention. */
export const DECODE_VARIANTS = ["fixed-distance", "none", "accumulated"] as const;
/** Decode variant name. */
export type DecodeVariant = (typeof DECODE_VARIANTS)[number];
/** Which table a config belongs to. */
export const GROUPS = ["main", "importance", "decode", "calibration"] as const;
/** Table group name. */
export type RecipeGroup = (typeof GROUPS)[number];

/** One row of the experiment: a recipe with options and axes. */
export interface RecipeConfig {
  /** Row label, unique in a run, lower-case kebab (`[a-z0-9-]+`); names the cell files. */
  label: string;
  /** Registered recipe name. */
  method: string;
  /** Recipe options (checked by the registry: an option the recipe does not take is an error). */
  options: Record<string, unknown>;
  /** Importance variant replacing the recipe's scorer. */
  importance?: ImportanceVariant;
  /** Decode policy replacing the recipe's. */
  decode?: DecodeVariant;
  /** Offline config averaged over this many calibration samples (PrefixKV-family recipes). */
  calibrate?: number;
  /** Table the row appears in (default `main`). */
  group: RecipeGroup;
  /** Only these budgets of the run's (diagnostic rows use fewer to keep the run short). */
  budgets?: number[];
}

/** Budgets of the diagnostic presets (importance, decode, calibration axes). */
export const DIAGNOSTIC_BUDGETS = [0.1, 0.2, 0.3, 0.5];

/** Calibration samples of the default offline PrefixKV row. */
export const DEFAULT_CALIBRATION = 100;

/** Presets beyond the registry's names (a registry name alone is its own preset). */
function presets(calibration: number): Record<string, Omit<RecipeConfig, "label">> {
  const main = (method: string, extra: Partial<RecipeConfig> = {}) => ({
    method,
    options: {},
    group: "main" as RecipeGroup,
    ...extra,
    ...(extra.group && extra.group !== "main" ? { budgets: DIAGNOSTIC_BUDGETS } : {}),
  });
  return {
    prefixkv: main("prefixkv", { calibrate: calibration }),
    "prefixkv-online": main("prefixkv"),
    "prefixkv-mean": main("prefixkv", { importance: "mean", group: "importance" }),
    "prefixkv-window": main("prefixkv", { importance: "window", group: "importance" }),
    "prefixkv-no-decode": main("prefixkv", {
      calibrate: calibration,
      decode: "none",
      group: "decode",
    }),
    "prefixkv-accumulated": main("prefixkv", {
      calibrate: calibration,
      decode: "accumulated",
      group: "decode",
    }),
    ...Object.fromEntries(
      [1, 5, 20].filter((n) => n < calibration).map((n) => [
        `prefixkv-calib${n}`,
        main("prefixkv", { calibrate: n, group: "calibration" }),
      ]),
    ),
  };
}

/** Every preset name: the registry's recipes, then the experiment presets. */
export function presetNames(calibration = DEFAULT_CALIBRATION): string[] {
  return [...new Set([...recipeNames(), ...Object.keys(presets(calibration))])];
}

/** The default recipe axis: every registered recipe, online PrefixKV, and the diagnostic axes. */
export function defaultRecipeNames(calibration = DEFAULT_CALIBRATION): string[] {
  return presetNames(calibration);
}

/** The config a preset name stands for. */
export function presetConfig(name: string, calibration = DEFAULT_CALIBRATION): RecipeConfig {
  const p = presets(calibration)[name];
  if (p) return checkConfig({ label: name, ...p }, `recipe "${name}"`);
  if (!recipeNames().includes(name)) {
    throw new InputError(
      `--recipes: unknown recipe "${name}". Known: ${presetNames(calibration).join(", ")}; ` +
        `or give a JSON file of recipe configs`,
    );
  }
  return checkConfig({ label: name, method: name, options: {}, group: "main" }, `recipe "${name}"`);
}

const CONFIG_SCHEMA = z.object({
  label: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case kebab-case ([a-z0-9-]+)")
    .optional(),
  method: z.string().min(1),
  importance: z.enum(IMPORTANCE_VARIANTS).optional(),
  decode: z.enum(DECODE_VARIANTS).optional(),
  calibrate: z.number().int().min(1).optional(),
  group: z.enum(GROUPS).optional(),
  budgets: z.array(z.number().gt(0).lt(1)).min(1).optional(),
}).catchall(z.unknown());

/**
 * Parses a sweep file: a JSON list of `{ label?, method, importance?, decode?, calibrate?,
 * group?, ...recipe options }`. Every entry is checked now (unknown recipe or option, bad
 * value), so a bad sweep fails before any work.
 */
export function parseRecipeFile(text: string, source: string): RecipeConfig[] {
  const data = parseJsonInput(text, source);
  if (!Array.isArray(data) || data.length === 0) {
    throw new InputError(`${source}: expected a non-empty JSON list of recipe configs`);
  }
  const configs = data.map((entry, i) => {
    const parsed = CONFIG_SCHEMA.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(
        `${source}: entry ${i}: ${issue.path.join(".") || "entry"}: ${issue.message}`,
      );
    }
    const { label, method, importance, decode, calibrate, group, budgets, ...options } =
      parsed.data;
    return checkConfig(
      {
        label: label ?? method,
        method,
        options,
        importance,
        decode,
        calibrate,
        group: group ?? "main",
        ...(budgets && { budgets }),
      },
      `${source}: entry ${i}`,
    );
  });
  return checkUniqueLabels(configs, source);
}

/** Fails on two configs with the same label. */
export function checkUniqueLabels(configs: RecipeConfig[], source: string): RecipeConfig[] {
  const seen = new Set<string>();
  for (const c of configs) {
    if (seen.has(c.label)) {
      throw new InputError(`${source}: recipe label "${c.label}" appears twice; labels name rows`);
    }
    seen.add(c.label);
  }
  return configs;
}

function checkConfig(config: RecipeConfig, where: string): RecipeConfig {
  try {
    const def = recipeMethod(config.method);
    if (config.calibrate !== undefined) {
      if (!recipeOptions(config.method).some((o) => o.name === "conf")) {
        throw new InputError(
          `calibrate needs a recipe that takes an offline config (prefixkv, prefixkv-merge); ` +
            `${config.method} does not`,
        );
      }
      if ("conf" in config.options || "online" in config.options) {
        throw new InputError(`give calibrate or conf/online, not both`);
      }
    }
    if (config.importance !== undefined || config.decode !== undefined) {
      if (!def.compresses) throw new InputError(`${config.method} does not compress; no axes`);
    }
    // Build once with a stand-in config so every option is checked now, not mid-run.
    buildRecipe(config, config.calibrate !== undefined ? [0.5] : undefined);
  } catch (e) {
    if (e instanceof InputError) throw new InputError(`${where}: ${e.message}`);
    throw e;
  }
  return config;
}

/** Head-averaged prefill attention divided by the number of queries that could attend. */
function causalMeanImportance(): Scorer {
  return {
    name: "causal-mean-importance",
    needs: "importance",
    layerShared: false,
    score: (info, numLayers) =>
      requireImportance(info, numLayers, "causal-mean-importance").map((v) =>
        Float32Array.from(normalizeByCausalCount(v))
      ),
  };
}

function scorerFor(variant: ImportanceVariant): Scorer | undefined {
  switch (variant) {
    case "sum":
      return undefined; // the recipe's own (PrefixKV's importance)
    case "mean":
      return causalMeanImportance();
    case "window":
      // The last 32 prompt queries' attention, summed, no pooling (SnapKV's window alone).
      return observationWindow({ window: 32, kernel: 1, pooling: "avg" });
  }
}

function decodeFor(variant: DecodeVariant, options: Record<string, unknown>): DecodePolicy {
  switch (variant) {
    case "fixed-distance":
      return fixedDistance(options.distance as number | undefined);
    case "none":
      return noDecodeEviction();
    case "accumulated":
      return accumulatedLayerwise();
  }
}

/** The recipe of `config`; `conf` is the calibrated per-layer eviction config, if it takes one. */
export function buildRecipe(config: RecipeConfig, conf?: readonly number[]): Recipe {
  const options = {
    ...config.options,
    ...(conf ? { conf: [...conf] } : {}),
  };
  const recipe = createRecipe(config.method, options);
  const scorer = config.importance ? scorerFor(config.importance) : undefined;
  const decode = config.decode ? decodeFor(config.decode, config.options) : undefined;
  if (!scorer && !decode) return recipe;
  return recompose(recipe, { ...(scorer && { scorer }), ...(decode && { decode }) });
}

/** The cache policy of one cell. */
export function cellPolicy(
  config: RecipeConfig,
  budget: number,
  conf?: readonly number[],
): CachePolicy {
  return buildRecipe(config, conf).policy({ fraction: budget });
}

/** True for the no-compression row (one cell at 100 %, whatever the budgets). */
export function isFullCache(config: RecipeConfig): boolean {
  return !recipeMethod(config.method).compresses;
}
