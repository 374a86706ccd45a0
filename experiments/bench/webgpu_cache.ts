/**
 * `deno task bench:webgpu`: what one decode step moves between CPU and GPU on `webgpu`, and how
 * long it takes, with the KV cache held on the GPU (`cacheLocation: "gpu"`, the default) and on
 * the CPU (`"cpu"`: the whole cache is fed at every step), measured in one run on the same
 * adapter. Bytes are counted where they cross (`webGpuTransfers`: session inputs and outputs
 * on the CPU side, cache writes and reads), not estimated.
 *
 * Workloads: the bundled tiny LLaVA on its example scene, and a larger random LLaMA whose cache
 * (tens of MiB) dwarfs a step's inputs and outputs. From the CPU-held run's upload rate it
 * also prints what a LLaMA-7B cache of 1 000 tokens would cost per step if fed from the CPU.
 *
 * Each row also gives the median time inside the decoder's `session.run` (the rest of a step is
 * feeding and appending) and the cache's own `queue.submit` calls per step (`cacheSubmits`).
 *
 * Output: a table, and with `--json` one JSON object (rows, adapter, provenance) on the last
 * line of stdout. Progress goes to stderr.
 *
 * @module
 */
import { BUNDLED_EXAMPLE_IMAGE, BUNDLED_MODEL_DIR } from "../../lib/bundled.ts";
import { UsageError } from "../../lib/cli/command.ts";
import { numberFlag, parseFlags } from "../../lib/cli/flags.ts";
import { InputError } from "../../lib/errors.ts";
import { provenance } from "../../lib/provenance.ts";
import { chatPrompt } from "../../lib/runtime/chat_prompt.ts";
import { argmax } from "../../lib/runtime/generate.ts";
import type { KvCache, KvLocation } from "../../lib/runtime/kv_cache.ts";
import { loadModel, type Model, type ModelSource } from "../../lib/runtime/model.ts";
import { floatTensor, type RuntimeTensor, Session } from "../../lib/runtime/session.ts";
import {
  adapterLabel,
  gpuTensorMaker,
  requireWebGpuAdapter,
  webGpuDevice,
  webGpuTransfers,
} from "../../lib/runtime/webgpu.ts";
import { GraphBuilder } from "../../lib/graph/onnx_builder.ts";
import { randomLlama, type RandomLlamaConfig } from "./random_llama.ts";

const HELP = `deno task bench:webgpu [options]: CPU<->GPU bytes and time per decode step on webgpu,
KV cache held on the GPU against held on the CPU

  --steps N      decode steps measured per run (default 6)
  --prompt N     prompt tokens of the random LLaMA (default 1024)
  --only NAME    one workload: bundled or random
  --json         also print one JSON object with every row on the last line`;

const FLAGS = {
  steps: { type: "string" },
  prompt: { type: "string" },
  only: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** A LLaMA whose cache, not its weights, dominates what a CPU-held step moves. */
const LARGE: RandomLlamaConfig = {
  layers: 4,
  hidden: 1024,
  intermediate: 1024,
  heads: 16,
  kvHeads: 16,
  vocab: 4096,
  maxPositions: 4096,
  seed: 11,
};

/** LLaVA-1.5-7B's decoder (LLaMA-2-7B): what the per-step estimates are made for. */
const LLAVA_7B = { layers: 32, hidden: 4096, kvHeads: 32, headDim: 128, vocab: 32064 };

/** One measured run: a workload with its cache in one place. */
export interface CacheRow {
  /** Workload name. */
  workload: string;
  /** Where the cache lived. */
  cacheLocation: KvLocation;
  /** Prompt length. */
  promptTokens: number;
  /** Decode steps measured. */
  steps: number;
  /** Median ms per decode step (forward, appends), wall clock. */
  stepMs: number;
  /** Median ms of those inside the decoder's `session.run` (the rest: feeds, appends). */
  runMs: number;
  /** Mean `queue.submit` calls of the cache's own work per step (appends). */
  cacheSubmitsPerStep: number;
  /** Mean bytes uploaded (CPU → GPU) per step. */
  uploadBytesPerStep: number;
  /** Mean bytes downloaded (GPU → CPU) per step. */
  downloadBytesPerStep: number;
  /** Largest single upload or download of a step, bytes. */
  largestTransferBytes: number;
  /** Bytes the cache held at the last step (keys, values, positions). */
  cacheBytes: number;
  /** Ids generated (the same in both placements, or the bench says so). */
  ids: number[];
}

/** One placement of a workload, prefilled and stepped in turn with the other. */
class Run {
  ids: number[] = [];
  ms: number[] = [];
  runMs: number[] = [];
  submits = 0;
  up = 0;
  down = 0;
  largest = 0;
  promptTokens = 0;
  constructor(readonly model: Model, readonly cache: KvCache) {}

  /** One measured decode step: wall time and the bytes counted while it ran. */
  async step(): Promise<void> {
    const before = webGpuTransfers();
    const t0 = performance.now();
    const out = await this.model.step(
      this.ids[this.ids.length - 1],
      this.cache,
      this.promptTokens + this.ids.length - 1,
    );
    this.ms.push(performance.now() - t0);
    this.runMs.push(out.runMs);
    const after = webGpuTransfers();
    this.submits += after.cacheSubmits - before.cacheSubmits;
    const up = after.uploadBytes - before.uploadBytes;
    const down = after.downloadBytes - before.downloadBytes;
    this.up += up;
    this.down += down;
    this.largest = Math.max(this.largest, up, down);
    this.ids.push(argmax(out.logits));
  }
}

/**
 * Both placements of a workload, their steps interleaved (the build machine is shared, so
 * load changes hit both alike); step times are medians.
 */
async function measure(
  workload: string,
  source: string | ModelSource,
  prompt: (m: Model) => Promise<Float32Array>,
  steps: number,
): Promise<CacheRow[]> {
  const runs: Run[] = [];
  try {
    for (const cacheLocation of ["cpu", "gpu"] as const) {
      const model = await loadModel(source, { device: "webgpu", cacheLocation, cacheDir: false });
      const embeds = await prompt(model);
      await model.prepare("none", "last");
      const pre = await model.prefill(embeds, { logits: "last", reserve: steps + 1 });
      const run = new Run(model, pre.cache);
      run.promptTokens = embeds.length / model.hiddenSize;
      run.ids.push(argmax(pre.logits));
      await run.step(); // unmeasured: shaders compile, buffers settle
      [run.ms, run.runMs] = [[], []];
      [run.up, run.down, run.largest, run.submits] = [0, 0, 0, 0];
      runs.push(run);
    }
    for (let s = 0; s < steps; s++) for (const run of runs) await run.step();
    return runs.map((r) => ({
      workload,
      cacheLocation: r.cache.location,
      promptTokens: r.promptTokens,
      steps,
      stepMs: median(r.ms),
      runMs: median(r.runMs),
      cacheSubmitsPerStep: r.submits / steps,
      uploadBytesPerStep: r.up / steps,
      downloadBytesPerStep: r.down / steps,
      largestTransferBytes: r.largest,
      cacheBytes: r.cache.bytesHeld(),
      ids: r.ids,
    }));
  } finally {
    for (const r of runs) {
      r.cache.release();
      await r.model.close();
    }
  }
}

/**
 * The rate at which a run's CPU-side input reaches the GPU: one graph (a sum of a `mib`-MiB
 * input) run with the input on the CPU and with it already in a GPU buffer, interleaved; the
 * difference of the median times is the feed.
 */
async function measureFeedRate(mib: number, repeats: number): Promise<number> {
  const g = new GraphBuilder("feed");
  const x = g.input("x", "float32", ["N"]);
  g.op("ReduceSum", [x], { keepdims: 0 }, { outputs: ["y"] });
  g.output("y", "float32", []);
  const session = await Session.create(g.toBytes(), { device: "webgpu" });
  try {
    const floats = (mib * 1024 ** 2) / 4;
    const data = Float32Array.from({ length: floats }, (_, i) => (i % 7) * 0.1);
    const device = await webGpuDevice();
    const buffer = device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(buffer, 0, data);
    const onGpu = (await gpuTensorMaker())(buffer, [floats]) as unknown as RuntimeTensor;
    const times = { cpu: [] as number[], gpu: [] as number[] };
    for (let r = 0; r <= repeats; r++) {
      for (const where of ["cpu", "gpu"] as const) {
        const t0 = performance.now();
        await session.run({ x: where === "cpu" ? floatTensor(data, [floats]) : onGpu });
        if (r > 0) times[where].push(performance.now() - t0); // the first run warms up
      }
    }
    buffer.destroy();
    const fedMs = median(times.cpu) - median(times.gpu);
    return fedMs > 0 ? mib / 1024 / (fedMs / 1000) : Infinity;
  } finally {
    await session.release();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function kib(bytes: number): string {
  return bytes >= 1024 ** 2
    ? `${(bytes / 1024 ** 2).toFixed(2)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** The table printed to stdout. */
export function formatRows(rows: readonly CacheRow[]): string {
  const head = [
    "workload",
    "cache on",
    "prompt",
    "cache",
    "up/step",
    "down/step",
    "ms/step",
    "in run",
    "submits/step",
  ];
  const body = rows.map((r) => [
    r.workload,
    r.cacheLocation,
    String(r.promptTokens),
    kib(r.cacheBytes),
    kib(r.uploadBytesPerStep),
    kib(r.downloadBytesPerStep),
    r.stepMs.toFixed(1),
    r.runMs.toFixed(1),
    r.cacheSubmitsPerStep.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

async function main(args: string[]): Promise<void> {
  const flags = parseFlags(args, FLAGS);
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const steps = numberFlag("--steps", flags.steps, { integer: true, min: 1 }) ?? 6;
  const promptTokens = numberFlag("--prompt", flags.prompt, { integer: true, min: 1 }) ?? 1024;
  if (flags.only !== undefined && !["bundled", "random"].includes(flags.only)) {
    throw new UsageError(`--only takes bundled or random, got "${flags.only}"`);
  }
  const adapter = await requireWebGpuAdapter();
  console.error(`adapter: ${adapterLabel(adapter)}`);
  const workloads: [string, string | ModelSource, (m: Model) => Promise<Float32Array>][] = [];
  if (flags.only !== "random") {
    workloads.push(["bundled tiny LLaVA", BUNDLED_MODEL_DIR, async (m) =>
      (await chatPrompt(m, {
        question: "Describe the image in detail.",
        image: BUNDLED_EXAMPLE_IMAGE,
      })).embeds]);
  }
  if (flags.only !== "bundled") {
    const ids = Array.from(
      { length: promptTokens },
      (_, i) => 3 + ((i * 7919) % (LARGE.vocab - 3)),
    );
    workloads.push([
      `random LLaMA ${LARGE.layers}×${LARGE.hidden}`,
      randomLlama(LARGE),
      (m) => Promise.resolve(m.embedTokens(ids)),
    ]);
  }
  const rows: CacheRow[] = [];
  for (const [name, source, prompt] of workloads) {
    console.error(`${name}: cache on the CPU and on the GPU, steps interleaved …`);
    rows.push(...await measure(name, source, prompt, steps));
    const [cpu, gpu] = rows.slice(-2);
    if (cpu.ids.join() !== gpu.ids.join()) {
      console.error(`${name}: ids differ between placements: ${cpu.ids} vs ${gpu.ids}`);
    }
  }
  console.log(formatRows(rows));
  const gibPerS = await measureFeedRate(64, 5);
  const s7 = 1000;
  const cache7b = 2 * LLAVA_7B.layers * s7 * LLAVA_7B.kvHeads * LLAVA_7B.headDim * 4;
  const up7b = LLAVA_7B.hidden * 4 + 8 + LLAVA_7B.layers * 4;
  const down7b = LLAVA_7B.vocab * 4;
  const estimate = {
    cacheBytes: cache7b,
    gpuUploadBytesPerStep: up7b,
    gpuDownloadBytesPerStep: down7b,
    gpuImportanceBytesPerStep: LLAVA_7B.layers * (s7 + 1) * 4,
    cpuFedUploadBytesPerStep: up7b + cache7b,
    cpuFedMsPerStep: (cache7b / 1024 ** 3 / gibPerS) * 1000,
  };
  console.log(
    `\nA run's CPU-side input reaches the GPU at ${gibPerS.toFixed(2)} GiB/s (64 MiB, median). ` +
      `LLaVA-7B, 1 000 tokens (${kib(cache7b)} of cache): cache on the GPU moves ` +
      `${kib(up7b)} up and ${kib(down7b)} down per step (+${
        kib(estimate.gpuImportanceBytesPerStep)
      } importance when a recipe asks); fed from the CPU it would upload ${
        kib(estimate.cpuFedUploadBytesPerStep)
      }, ≈${estimate.cpuFedMsPerStep.toFixed(0)} ms per step at that rate.`,
  );
  if (flags.json) {
    console.log(JSON.stringify({
      rows,
      estimate7b: estimate,
      uploadGiBPerS: gibPerS,
      adapter,
      provenance: await provenance({ args }),
    }));
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    if (err instanceof InputError || err instanceof UsageError) {
      console.error(`bench:webgpu: ${err.message}`);
      Deno.exit(2);
    }
    throw err;
  }
}
