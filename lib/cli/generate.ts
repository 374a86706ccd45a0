/**
 * `generate`: greedy decoding from a checkpoint, optionally with an image, under a KV retention
 * policy ({@link buildPolicy}; full cache by default).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readReferenceConfig } from "../prefix/config.ts";
import { retentionReport } from "../recipes/report.ts";
import type { CachePolicy } from "../runtime/cache_policy.ts";
import { chatPrompt, imagePixels } from "../runtime/chat_prompt.ts";
import { generate, type PositionMode } from "../runtime/generate.ts";
import { loadModel, type Model, type Prompt } from "../runtime/model.ts";
import { ObservedPolicy } from "../runtime/observed_policy.ts";
import { parseDevice } from "../runtime/session.ts";
import { type Command, UsageError } from "./command.ts";
import {
  POLICY_HELP,
  POLICY_OPTIONS,
  policyArgsFromFlags,
  policyFromArgs,
  recipeFromArgs,
} from "./recipes.ts";
import { modelDirOrBundled } from "../bundled.ts";

const HELP =
  `Usage: deno task prefixkv generate [--model DIR] (--prompt TEXT | --input-ids IDS) [options]

Greedy decoding. The first new token comes from the prompt's prefill; an end-of-sequence token
stops generation.

Options:
  --model DIR                 checkpoint directory (llava-hf, original LLaVA-1.5 or LLaMA
                              layout); default: the bundled tiny LLaVA
  --prompt TEXT               the question; put into the checkpoint's chat format (its template,
                              llava_v1 for LLaVA, or as is) with the image placeholder when --image
                              is given, then tokenized (with BOS)
  --raw                       with --prompt: tokenize TEXT as is, no chat format (write <image>
                              where the image goes)
  --input-ids IDS             comma-separated token ids, fed exactly as given (no BOS, no chat
                              format); with --image, one of them must be the image token id
  --image FILE                PNG or JPEG image (LLaVA models)
  --max-new-tokens N          most tokens to generate (default 32)
  --position-mode MODE        RoPE positions of decoded tokens: absolute (true index, default) or
                              paper (layer 0's cache length, as the PrefixKV code does)
  --device DEV                cpu (default) or cuda (needs onnxruntime's CUDA provider)
  --cache-dir DIR             graph cache directory (default .cache/prefixkv/graphs)
  --threads N                 threads per onnxruntime session (default: one per core)
  --json                      print one JSON object: ids (generated only), text, promptLength,
                              stoppedAtEos, timings {prefillMs, decodeMsPerToken, ...},
                              method, budget, fraction, cacheLengthsAfterPrefill,
                              entriesHeldAfterPrefill, bytesHeldAfterPrefill, cacheLengths,
                              entriesHeld, bytesHeld (at the end), positionMode, prefixkv {mode,
                              p, kept, ...} for PrefixKV allocations, device, graphCachePath,
                              graphLoads
  -h, --help                  this text

${POLICY_HELP}`;

/** Options of the command as parsed (strings until validated). */
export const OPTIONS = {
  model: { type: "string" },
  prompt: { type: "string" },
  raw: { type: "boolean" },
  "input-ids": { type: "string" },
  image: { type: "string" },
  "max-new-tokens": { type: "string" },
  "position-mode": { type: "string" },
  device: { type: "string" },
  "cache-dir": { type: "string" },
  threads: { type: "string" },
  json: { type: "boolean" },
  ...POLICY_OPTIONS,
} as const;

/** Parsed option values (see {@link OPTIONS}). */
export type GenerateArgs = {
  [K in keyof typeof OPTIONS]?: typeof OPTIONS[K]["type"] extends "boolean" ? boolean : string;
};

/**
 * The KV retention policy for a run: the single place where parsed arguments become a
 * {@link CachePolicy} (a registered recipe at its budget; `full` without policy options). An
 * offline `--conf` is checked against the model's layer count here, before any prefill.
 */
export async function buildPolicy(args: GenerateArgs, model: Model): Promise<CachePolicy> {
  const policyArgs = policyArgsFromFlags(args);
  if (typeof policyArgs.conf === "string") {
    await readReferenceConfig(policyArgs.conf, model.spec.text.numLayers);
  }
  return policyFromArgs(policyArgs);
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  }
  return n;
}

/** A numeric flag for reports; validation happened when the recipe was built. */
function optionalNumber(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Number(value);
}

/** Parses `--input-ids` ("1,2,3"). */
export function parseIds(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) {
    throw new UsageError(`--input-ids needs at least one id, e.g. --input-ids 1,2,3`);
  }
  return parts.map((p) => {
    if (!/^-?\d+$/.test(p)) throw new UsageError(`--input-ids: "${p}" is not an integer token id`);
    return Number(p);
  });
}

async function promptOf(model: Model, a: GenerateArgs): Promise<Prompt> {
  if (a["input-ids"] !== undefined) {
    const image = a.image === undefined ? undefined : await imagePixels(model, a.image);
    return model.buildPrompt({ ids: parseIds(a["input-ids"]), image });
  }
  return chatPrompt(model, { question: a.prompt!, image: a.image, raw: a.raw });
}

/** The `generate` command. */
export const command: Command = {
  name: "generate",
  summary: "greedy decoding from a checkpoint (optionally with an image and a KV policy)",
  help: HELP,
  async run(args: string[]): Promise<number> {
    let a: GenerateArgs;
    try {
      a = parseArgs({ args, options: OPTIONS }).values as GenerateArgs;
    } catch (err) {
      throw new UsageError(`${(err as Error).message} (see --help)`);
    }
    if ((a.prompt === undefined) === (a["input-ids"] === undefined)) {
      throw new UsageError("give exactly one of --prompt TEXT and --input-ids IDS (see --help)");
    }
    const positionMode = (a["position-mode"] ?? "absolute") as PositionMode;
    if (positionMode !== "absolute" && positionMode !== "paper") {
      throw new UsageError(`--position-mode must be absolute or paper, got "${positionMode}"`);
    }
    const maxNewTokens = positiveInt("max-new-tokens", a["max-new-tokens"], 32);
    const threads = a.threads === undefined ? undefined : positiveInt("threads", a.threads, 1);
    const device = parseDevice(a.device ?? "cpu");

    const policyArgs = policyArgsFromFlags(a);
    recipeFromArgs(policyArgs); // bad --method/--budget fail before the model loads

    const model = await loadModel(modelDirOrBundled(a.model), {
      device,
      cacheDir: a["cache-dir"],
      threads,
    });
    try {
      const policy = await buildPolicy(a, model);
      const prompt = await promptOf(model, a);
      const observed = new ObservedPolicy(policy);
      const result = await generate(model, prompt, {
        maxNewTokens,
        policy: observed,
        positionMode,
      });
      const prefill = observed.afterPrefillSnapshot;
      const retention = retentionReport(policyArgs.method, policy, prefill, {
        startSize: optionalNumber(a["start-size"]),
        tolerance: optionalNumber(a.tolerance),
        maxIterations: optionalNumber(a["max-iterations"]),
      });
      const entriesHeld = result.cacheLengths.reduce((s, x) => s + x, 0);
      if (a.json) {
        console.log(JSON.stringify({
          ...result,
          method: retention.method,
          budget: retention.budget,
          fraction: retention.fraction,
          cacheLengthsAfterPrefill: prefill?.lengths ?? null,
          entriesHeldAfterPrefill: prefill?.entriesHeld ?? null,
          bytesHeldAfterPrefill: prefill?.bytesHeld ?? null,
          entriesHeld,
          ...(retention.prefixkv && { prefixkv: retention.prefixkv }),
          device,
          graphCachePath: model.graphCachePath,
          graphLoads: model.graphLoads,
        }));
      } else {
        console.log(result.text);
        const t = result.timings;
        const p = retention.prefixkv?.p;
        console.error(
          `[${result.ids.length} tokens, prompt ${result.promptLength}; prefill ` +
            `${t.prefillMs.toFixed(1)} ms, decode ${t.decodeMsPerToken.toFixed(2)} ms/token; ` +
            `${retention.method}@${retention.budget}${p != null ? ` p=${p.toFixed(4)}` : ""}; ` +
            `cache ${entriesHeld} entries, ${result.bytesHeld} bytes; positions ${positionMode}]`,
        );
      }
    } finally {
      await model.close();
    }
    return 0;
  },
};
