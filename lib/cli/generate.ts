/**
 * `generate`: greedy decoding from a checkpoint, optionally with an image, under a KV retention
 * policy ({@link buildPolicy}; full cache by default).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatPrompt } from "../checkpoint/chat.ts";
import { loadImage, preprocessImage } from "../checkpoint/image.ts";
import { type CachePolicy, keepAll } from "../runtime/cache_policy.ts";
import { generate, type PositionMode } from "../runtime/generate.ts";
import { loadModel, type Model, type Prompt } from "../runtime/model.ts";
import { parseDevice } from "../runtime/session.ts";
import { type Command, UsageError } from "./command.ts";

const HELP =
  `Usage: deno task prefixkv generate --model DIR (--prompt TEXT | --input-ids IDS) [options]

Greedy decoding. The first new token comes from the prompt's prefill; an end-of-sequence token
stops generation.

Options:
  --model DIR                 checkpoint directory (llava-hf, original LLaVA-1.5 or LLaMA layout)
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
                              cacheLengths, bytesHeld, positionMode, device, graphCachePath,
                              graphLoads
  -h, --help                  this text`;

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
} as const;

/** Parsed option values (see {@link OPTIONS}). */
export type GenerateArgs = {
  [K in keyof typeof OPTIONS]?: typeof OPTIONS[K]["type"] extends "boolean" ? boolean : string;
};

/**
 * The KV retention policy for a run: the single place where parsed arguments become a
 * {@link CachePolicy}. Without policy options this is the full cache.
 */
export function buildPolicy(_args: GenerateArgs, _model: Model): CachePolicy {
  return keepAll;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`--${name} must be a positive integer, got "${value}"`);
  }
  return n;
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
  const ckpt = model.source;
  let image: Float32Array | undefined;
  if (a.image !== undefined) {
    if (!ckpt.imageProcessor) throw new UsageError(`--image: this model takes no images`);
    image = preprocessImage(await loadImage(a.image), ckpt.imageProcessor);
  }
  if (a["input-ids"] !== undefined) {
    return model.buildPrompt({ ids: parseIds(a["input-ids"]), image });
  }
  const question = a.prompt!;
  const text = a.raw || !ckpt.chatFormat
    ? question
    : formatPrompt(ckpt.chatFormat, question, { image: image !== undefined });
  return model.buildPrompt({ text, image });
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
    if (!a.model) throw new UsageError("--model DIR is required (see --help)");
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

    const model = await loadModel(a.model, { device, cacheDir: a["cache-dir"], threads });
    try {
      const prompt = await promptOf(model, a);
      const policy = buildPolicy(a, model);
      const result = await generate(model, prompt, { maxNewTokens, policy, positionMode });
      if (a.json) {
        console.log(JSON.stringify({
          ...result,
          device,
          graphCachePath: model.graphCachePath,
          graphLoads: model.graphLoads,
        }));
      } else {
        console.log(result.text);
        const t = result.timings;
        console.error(
          `[${result.ids.length} tokens, prompt ${result.promptLength}; prefill ` +
            `${t.prefillMs.toFixed(1)} ms, decode ${t.decodeMsPerToken.toFixed(2)} ms/token; ` +
            `cache ${result.bytesHeld} bytes; positions ${positionMode}]`,
        );
      }
    } finally {
      await model.close();
    }
    return 0;
  },
};
