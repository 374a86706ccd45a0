/**
 * `deno task bench`: the paper's latency protocol (§4.2: batch of equal-length prompts, full
 * cache against PrefixKV budgets, generation timed end to end) scaled to this machine, set
 * against the memory roofline and, with `--peer torch`, against Hugging Face transformers.
 *
 * Per budget (full cache, then 80/60/40/20 %): batched prefill, total generation latency,
 * tokens/s, decode ms per step, JavaScript ms per step outside onnxruntime, KV bytes held, peak
 * RSS, and speedup over the full cache next to the roofline's ideal. PrefixKV runs from an
 * offline config (per-layer counts, the same for every sample) calibrated by the prefix search
 * on the batch's own prefill importance, averaged over its samples; each sample keeps its own
 * entries.
 *
 * The default workload is a random LLaMA whose weights (≈137 MB float32) do not fit in the L3
 * cache and whose KV cache at batch 16 × 512 prompt tokens (≈300 MB at the end of generation)
 * outweighs them; `--model DIR` benchmarks a checkpoint instead (its decoder only).
 *
 * Output: a table, `<out>/latency.{csv,svg,json}`, and with `--json` one JSON object on the
 * last line of stdout. Progress goes to stderr. `--quick` is a seconds-long run of a tiny model
 * (what the tests use).
 *
 * @module
 */
import { join, resolve } from "node:path";
import { loadCheckpoint } from "../../lib/checkpoint/checkpoint.ts";
import { UsageError } from "../../lib/cli/command.ts";
import { choiceFlag, numberFlag, parseFlags } from "../../lib/cli/flags.ts";
import { InputError } from "../../lib/errors.ts";
import { peakRssBytes } from "../../lib/metrics/efficiency.ts";
import { prefixSearch } from "../../lib/prefix/search.ts";
import { provenance } from "../../lib/provenance.ts";
import { mulberry32 } from "../../lib/random.ts";
import { createRecipe } from "../../lib/recipes/registry.ts";
import { generateBatch } from "../../lib/runtime/generate.ts";
import type { KvCache } from "../../lib/runtime/kv_cache.ts";
import { loadModel, type Model, type ModelSource } from "../../lib/runtime/model.ts";
import { requireWebGpuAdapter } from "../../lib/runtime/webgpu.ts";
import { ObservedPolicy } from "../../lib/runtime/observed_policy.ts";
import { decodeStepBytes, rooflineMs } from "../../lib/analysis/roofline.ts";
import { type LatencyPoint, latencyVsBudget } from "../../lib/plot/efficiency.ts";
import { renderSvg } from "../../lib/plot/render.ts";
import { measureBandwidth } from "./roofline.ts";
import { type BenchRow, formatTable, toCsv } from "./report.ts";
import { randomLlama, type RandomLlamaConfig } from "./random_llama.ts";

const HELP = `deno task bench [options]: decode latency against the roofline (and PyTorch)

  --quick            a tiny model, batch 2, 128-token prompts, 12 tokens (seconds)
  --json             also print one JSON object with every row on the last line
  --peer torch       also run experiments/bench/torch_peer.py (needs python3, torch, transformers)
  --model DIR        benchmark a checkpoint's decoder instead of the random LLaMA
  --batch N          samples per batch (default 16; quick 2)
  --prompt N         prompt tokens (default 512; quick 128)
  --new N            tokens generated per sample (default 64; quick 12)
  --budgets LIST     comma-separated budgets below 1 (default 0.8,0.6,0.4,0.2)
  --threads N        onnxruntime intra-op threads (default: onnxruntime's choice; cpu only)
  --device DEV       cpu (default) or webgpu (KV caches held on the GPU; the roofline stays
                     the CPU memory's, so its ideal speedups are only a reference there)
  --out DIR          where latency.{csv,svg,json} go (default .cache/prefixkv/bench)`;

const FLAGS = {
  quick: { type: "boolean" },
  json: { type: "boolean" },
  peer: { type: "string" },
  model: { type: "string" },
  batch: { type: "string" },
  prompt: { type: "string" },
  new: { type: "string" },
  budgets: { type: "string" },
  threads: { type: "string" },
  device: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const DEFAULT_MODEL: RandomLlamaConfig = {
  layers: 8,
  hidden: 512,
  intermediate: 1408,
  heads: 8,
  kvHeads: 8,
  vocab: 8192,
  maxPositions: 4096,
  seed: 7,
};
const QUICK_MODEL: RandomLlamaConfig = {
  layers: 2,
  hidden: 128,
  intermediate: 352,
  heads: 4,
  kvHeads: 4,
  vocab: 1024,
  maxPositions: 1024,
  seed: 7,
};

/** Progress on stderr: a redrawn bar on a terminal, one line per phase otherwise. */
class Progress {
  #done = 0;
  readonly #tty = Deno.stderr.isTerminal();
  constructor(readonly total: number) {}
  step(what: string): void {
    this.#done++;
    const width = 24;
    const filled = Math.round((this.#done / this.total) * width);
    const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${this.#done}/${this.total}`;
    const text = `${bar} ${what}`;
    const enc = new TextEncoder();
    Deno.stderr.writeSync(enc.encode(this.#tty ? `\r\x1b[2K${text}` : `${text}\n`));
    if (this.#tty && this.#done === this.total) Deno.stderr.writeSync(enc.encode("\n"));
  }
}

/** Resets the kernel's peak-RSS mark of this process (Linux), so each row reports its own. */
function resetPeakRss(): void {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  } catch {
    // Not Linux or not permitted: the peak then covers the run so far.
  }
}

interface Workload {
  source: ModelSource;
  description: string;
  random: RandomLlamaConfig | null;
  batch: number;
  prompt: number;
  newTokens: number;
  budgets: number[];
}

function parseBudgets(text: string | undefined): number[] {
  if (text === undefined) return [0.8, 0.6, 0.4, 0.2];
  const list = text.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((b) => !(b > 0 && b < 1))) {
    throw new UsageError(`--budgets must be comma-separated numbers in (0, 1), got "${text}"`);
  }
  return list;
}

async function workload(values: ReturnType<typeof parseFlags<typeof FLAGS>>): Promise<Workload> {
  const quick = values.quick ?? false;
  const int = (name: "batch" | "prompt" | "new", fallback: number) =>
    numberFlag(name, values[name], { integer: true, min: 1 }) ?? fallback;
  const batch = int("batch", quick ? 2 : 16);
  const prompt = int("prompt", quick ? 128 : 512);
  const newTokens = int("new", quick ? 12 : 64);
  if (newTokens < 2) throw new UsageError(`--new must be at least 2 (one decode step)`);
  const budgets = parseBudgets(values.budgets);
  if (values.model !== undefined) {
    const ck = await loadCheckpoint(values.model);
    return {
      source: ck,
      description: `checkpoint ${resolve(values.model)}`,
      random: null,
      batch,
      prompt,
      newTokens,
      budgets,
    };
  }
  const random = quick ? QUICK_MODEL : DEFAULT_MODEL;
  if (prompt + newTokens > random.maxPositions) {
    throw new UsageError(`--prompt + --new must be at most ${random.maxPositions}`);
  }
  return {
    source: randomLlama(random),
    description: `random LLaMA ${random.layers} layers, hidden ${random.hidden}, ` +
      `${random.heads}/${random.kvHeads} heads, MLP ${random.intermediate}, vocab ${random.vocab}`,
    random,
    batch,
    prompt,
    newTokens,
    budgets,
  };
}

/** Runs the PyTorch peer on the same config and kept counts; null with a note when absent. */
async function torchPeer(
  w: Workload,
  keptPerRow: { budget: number; kept: number[] }[],
  threads: number | undefined,
): Promise<{ result: TorchResult | null; note: string }> {
  const t = w.source.spec.text;
  if (!w.random) {
    return { result: null, note: "--peer torch runs the random LLaMA only (not --model)" };
  }
  const script = new URL("./torch_peer.py", import.meta.url).pathname;
  const spec = {
    ...w.random,
    maxPositions: t.maxPositionEmbeddings,
    batch: w.batch,
    prompt: w.prompt,
    newTokens: w.newTokens,
    threads: threads ?? navigator.hardwareConcurrency,
    rows: keptPerRow,
  };
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("python3", { args: [script, JSON.stringify(spec)] }).output();
  } catch {
    return { result: null, note: "python3 not found: the PyTorch peer did not run" };
  }
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1);
    return { result: null, note: `the PyTorch peer failed (needs torch and transformers): ${err}` };
  }
  return { result: JSON.parse(text) as TorchResult, note: "" };
}

interface TorchResult {
  torch: string;
  transformers: string;
  attn: string;
  threads: number;
  rows: { budget: number; prefillMs: number; decodeMsPerToken: number }[];
}

/** The prompts: `batch` seeded random id sequences of `prompt` tokens. */
function promptIds(w: Workload): number[][] {
  const u = mulberry32(11);
  const V = w.source.spec.text.vocabSize;
  return Array.from(
    { length: w.batch },
    () => Array.from({ length: w.prompt }, () => 5 + Math.floor(u() * (V - 5))),
  );
}

/** Per-layer eviction fractions at `budget`: the prefix search per sample, averaged. */
function offlineConfig(importance: Float32Array[], batch: number, budget: number): number[] {
  const N = importance[0].length / batch;
  const perSample = Array.from(
    { length: batch },
    (_, b) =>
      prefixSearch(importance.map((x) => x.subarray(b * N, (b + 1) * N)), { budget }).evictRatios,
  );
  return perSample[0].map((_, l) => perSample.reduce((s, r) => s + r[l], 0) / batch);
}

type Measured =
  & Omit<
    BenchRow,
    "stepBytes" | "idealStepMs" | "speedup" | "idealSpeedup" | "fractionOfIdeal" | "stepMs"
  >
  & { cache: KvCache; lastIds: number[] };

async function measureRow(
  model: Model,
  w: Workload,
  ids: number[][],
  budget: number,
  conf: number[] | null,
): Promise<Measured> {
  const prompts = await Promise.all(ids.map((p) => model.buildPrompt({ ids: p })));
  const method = conf === null ? "full" : "prefixkv";
  const policies = prompts.map(() =>
    new ObservedPolicy(
      conf === null
        ? createRecipe("full").policy({ fraction: 1 })
        : createRecipe("prefixkv", { conf }).policy({ fraction: budget }),
    )
  );
  resetPeakRss();
  const t0 = performance.now();
  const out = await generateBatch(model, prompts, {
    maxNewTokens: w.newTokens,
    stopAtEos: false,
    policies,
  });
  const latencyMs = performance.now() - t0;
  const t = out.timings;
  return {
    budget,
    method,
    entriesAfterPrefill: policies.reduce((n, p) => n + p.afterPrefillSnapshot!.entriesHeld, 0),
    prefillMs: t.prefillMs,
    latencyMs,
    tokensPerSecond: (w.batch * 1000) / t.decodeMsPerToken,
    decodeMsPerToken: t.decodeMsPerToken,
    jsMsPerToken: t.decodeMsPerToken - t.decodeRunMsPerToken,
    kvBytes: out.bytesHeld,
    kvBytesAllocated: out.bytesAllocated,
    peakRssBytes: peakRssBytes(),
    cache: out.cache,
    lastIds: out.samples.map((s) => s.ids.at(-1)!),
  };
}

/**
 * Median decode step of every row's final cache, the rows interleaved step by step (each
 * step's entries dropped again), so that a load that comes and goes on a shared machine hits
 * every budget alike. Returns milliseconds per row.
 */
async function interleavedSteps(
  model: Model,
  rows: Measured[],
  position: number,
  rounds: number,
): Promise<number[]> {
  const times = rows.map(() => [] as number[]);
  for (let r = 0; r < rounds + 1; r++) {
    for (const [i, row] of rows.entries()) {
      const t0 = performance.now();
      await model.step(row.cache.batch === 1 ? row.lastIds[0] : row.lastIds, row.cache, position);
      const ms = performance.now() - t0;
      for (let l = 0; l < row.cache.numLayers; l++) row.cache.evict(l, row.cache.length(l) - 1);
      if (r > 0) times[i].push(ms); // the first round warms up
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]);
}

async function main(args: string[]): Promise<void> {
  const values = parseFlags(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return;
  }
  const peer = choiceFlag("peer", values.peer, ["torch"] as const);
  const threads = numberFlag("threads", values.threads, { integer: true, min: 1 });
  const device = choiceFlag("device", values.device, ["cpu", "webgpu"] as const) ?? "cpu";
  const adapter = device === "webgpu" ? await requireWebGpuAdapter() : null;
  const outDir = resolve(values.out ?? join(".cache", "prefixkv", "bench"));
  const w = await workload(values);
  const spec = w.source.spec.text;
  const progress = new Progress(4 + w.budgets.length + (peer ? 1 : 0));

  const bandwidth = await measureBandwidth(values.quick ? 64 * 2 ** 20 : 256 * 2 ** 20, threads);
  progress.step(
    `bandwidth: read ${(bandwidth.read / 1e9).toFixed(1)} GB/s, copy ${
      (bandwidth.copy / 1e9).toFixed(1)
    } GB/s`,
  );
  const model = await loadModel(w.source, {
    cacheDir: false,
    device,
    ...(threads === undefined ? {} : { threads }),
  });
  try {
    const ids = promptIds(w);
    // Calibration: the batch's prefill importance gives every budget's offline config. It also
    // loads both decoder graphs, so that the rows below time computation only.
    await model.prepare("none", "last");
    await model.prepare("importance", "last");
    const embeds = Float32Array.from(ids.flatMap((p) => [...model.embedTokens(p)]));
    const calibration = await model.prefill(embeds, {
      attention: "importance",
      logits: "last",
      batch: w.batch,
    });
    const configs = w.budgets.map((b) => offlineConfig(calibration.importance!, w.batch, b));
    progress.step(
      `calibrated offline configs (${(calibration.runMs / 1000).toFixed(1)} s prefill)`,
    );

    const measured: Measured[] = [];
    measured.push(await measureRow(model, w, ids, 1, null));
    progress.step(`full cache: ${measured[0].decodeMsPerToken.toFixed(2)} ms/step`);
    for (const [i, budget] of w.budgets.entries()) {
      measured.push(await measureRow(model, w, ids, budget, configs[i]));
      progress.step(
        `budget ${budget * 100}%: ${measured.at(-1)!.decodeMsPerToken.toFixed(2)} ms/step`,
      );
    }

    const rounds = values.quick ? 5 : 15;
    const stepMs = await interleavedSteps(model, measured, w.prompt + w.newTokens, rounds);
    const overhead = await importanceOverhead(model, ids[0], values.quick ? 3 : 5);
    progress.step(
      `interleaved steps (${rounds} rounds): full ${stepMs[0].toFixed(2)} ms; ` +
        `importance adds ${(overhead * 100).toFixed(1)}% to a prefill`,
    );

    // The roofline: weights once per step plus the kept entries, averaged over the steps
    // (entries after prefill, growing by what decoding keeps, up to the end).
    const weights = decodeStepBytes(spec, 0).weights;
    const entryBytes = 2 * spec.numKvHeads * spec.headDim * 4 + 4;
    const rows: BenchRow[] = measured.map(({ cache: _, lastIds: __, ...m }, i) => {
      const endEntries = m.kvBytes / entryBytes;
      const meanEntries = (m.entriesAfterPrefill + endEntries) / 2;
      const stepBytes = decodeStepBytes(spec, meanEntries).total;
      return {
        ...m,
        stepMs: stepMs[i],
        stepBytes,
        idealStepMs: rooflineMs(stepBytes, bandwidth.copy),
        speedup: 0,
        idealSpeedup: 0,
        fractionOfIdeal: 0,
      };
    });
    const full = rows[0];
    for (const r of rows) {
      r.speedup = full.stepMs / r.stepMs;
      r.idealSpeedup = full.idealStepMs / r.idealStepMs;
      r.fractionOfIdeal = r.speedup / r.idealSpeedup;
    }

    let peerNote = "";
    let torch: TorchResult | null = null;
    if (peer === "torch") {
      const kept = measured.map((m, i) => ({
        budget: m.budget,
        kept: i === 0
          ? new Array(spec.numLayers).fill(w.prompt)
          : keptCounts(configs[i - 1], w.prompt),
      }));
      const ran = await torchPeer(w, kept, threads);
      torch = ran.result;
      peerNote = ran.note;
      if (torch) {
        torch.rows.forEach((t, i) => {
          rows[i].torchDecodeMsPerToken = t.decodeMsPerToken;
          rows[i].torchPrefillMs = t.prefillMs;
        });
      }
      progress.step(torch ? `PyTorch ${torch.torch} (${torch.attn})` : peerNote);
    }

    const targets = targetsOf(rows, overhead);
    const result = {
      provenance: await provenance({ args }),
      workload: {
        model: w.description,
        batch: w.batch,
        promptTokens: w.prompt,
        newTokens: w.newTokens,
        weightBytes: weights,
        kvBytesFullAtEnd: full.kvBytes,
        threads: threads ?? null,
        device,
        adapter,
        cacheLocation: model.cacheLocation,
      },
      bandwidth: {
        copyBytesPerSecond: bandwidth.copy,
        readBytesPerSecond: bandwidth.read,
        rooflineUses: "copy (read + write bytes of TypedArray.set)",
      },
      calibrationPrefillWithImportanceMs: calibration.runMs,
      rows,
      targets,
      peer: torch
        ? {
          torch: torch.torch,
          transformers: torch.transformers,
          attn: torch.attn,
          threads: torch.threads,
        }
        : peerNote || null,
    };
    await Deno.mkdir(outDir, { recursive: true });
    await Deno.writeTextFile(join(outDir, "latency.csv"), toCsv(rows));
    await Deno.writeTextFile(join(outDir, "latency.svg"), figure(rows) + "\n");
    await Deno.writeTextFile(join(outDir, "latency.json"), JSON.stringify(result, null, 2) + "\n");

    console.log(
      `${w.description}; batch ${w.batch}, prompt ${w.prompt}, ${w.newTokens} new tokens; ` +
        `weights ${(weights / 2 ** 20).toFixed(0)} MiB read per step, full KV at the end ` +
        `${(full.kvBytes / 2 ** 20).toFixed(0)} MiB; bandwidth ${
          (bandwidth.copy / 1e9).toFixed(1)
        } GB/s (copy), ` +
        `${(bandwidth.read / 1e9).toFixed(1)} GB/s (onnxruntime read)`,
    );
    console.log(formatTable(rows));
    console.log(formatTargets(targets));
    if (peerNote) console.log(peerNote);
    console.log(`wrote ${join(outDir, "latency.{csv,svg,json}")}`);
    if (values.json) console.log(JSON.stringify(result));
  } finally {
    await model.close();
  }
}

/** Decode ms per step against the budget: prefixkv, PyTorch (when it ran) and the roofline. */
function figure(rows: BenchRow[]): string {
  const measured: LatencyPoint[] = rows.map((r) => ({
    method: "prefixkv",
    budget: r.budget,
    msPerToken: r.stepMs,
  }));
  for (const r of rows) {
    if (r.torchDecodeMsPerToken !== undefined) {
      measured.push({
        method: "PyTorch sdpa",
        budget: r.budget,
        msPerToken: r.torchDecodeMsPerToken,
      });
    }
  }
  const ideal = rows.map((r) => ({ budget: r.budget, msPerToken: r.idealStepMs }));
  return renderSvg(
    latencyVsBudget(measured, ideal, { logY: measured.some((p) => p.method !== "prefixkv") }),
  );
}

/**
 * What per-layer importance adds to a prefill: the first prompt alone, prefilled without and
 * with importance in turns (`rounds` each, medians), so that both see the same load.
 */
async function importanceOverhead(model: Model, ids: number[], rounds: number): Promise<number> {
  const embeds = model.embedTokens(ids);
  const times = { none: [] as number[], importance: [] as number[] };
  for (let r = 0; r < rounds + 1; r++) {
    for (const attention of ["none", "importance"] as const) {
      const out = await model.prefill(embeds, { attention, logits: "last" });
      if (r > 0) times[attention].push(out.runMs); // the first round warms up
    }
  }
  const median = (t: number[]) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)];
  return median(times.importance) / median(times.none) - 1;
}

/** Per-layer kept counts of an offline config on an N-token prompt (as the allocation does). */
function keptCounts(evictRatios: number[], N: number): number[] {
  return evictRatios.map((r) => N - Math.min(N - 2, Math.round(r * N)));
}

interface Targets {
  speedupAt20: number | null;
  fractionOfIdealAt20: number | null;
  fullStepOverRoofline: number;
  minSpeedupOverTorch: number | null;
  maxJsShareOfStep: number;
  importancePrefillOverhead: number;
  maxKvBytesErrorVsBudget: number;
}

function targetsOf(rows: BenchRow[], importanceOverhead: number): Targets {
  const full = rows[0];
  const at20 = rows.find((r) => Math.abs(r.budget - 0.2) < 1e-9);
  const budgeted = rows.slice(1);
  const torchRatios = rows.filter((r) => r.torchDecodeMsPerToken !== undefined)
    .map((r) => r.torchDecodeMsPerToken! / r.stepMs);
  return {
    speedupAt20: at20?.speedup ?? null,
    fractionOfIdealAt20: at20?.fractionOfIdeal ?? null,
    fullStepOverRoofline: full.stepMs / full.idealStepMs,
    minSpeedupOverTorch: torchRatios.length ? Math.min(...torchRatios) : null,
    maxJsShareOfStep: Math.max(...rows.map((r) => r.jsMsPerToken / r.decodeMsPerToken)),
    importancePrefillOverhead: importanceOverhead,
    maxKvBytesErrorVsBudget: budgeted.length
      ? Math.max(...budgeted.map((r) => Math.abs(r.kvBytes / (r.budget * full.kvBytes) - 1)))
      : 0,
  };
}

function formatTargets(t: Targets): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const mark = (ok: boolean) => (ok ? "met" : "MISSED");
  const lines = [
    t.speedupAt20 === null
      ? null
      : `20% budget: ${t.speedupAt20.toFixed(2)}× the full-cache throughput (target ≥ 1.8×: ${
        mark(t.speedupAt20 >= 1.8)
      }), ${pct(t.fractionOfIdealAt20!)} of the ideal speedup (target ≥ 80%: ${
        mark(t.fractionOfIdealAt20! >= 0.8)
      })`,
    `full-cache step: ${t.fullStepOverRoofline.toFixed(2)}× the roofline time (target ≤ 1.5×: ${
      mark(t.fullStepOverRoofline <= 1.5)
    })`,
    t.minSpeedupOverTorch === null
      ? null
      : `vs PyTorch sdpa: at least ${
        t.minSpeedupOverTorch.toFixed(2)
      }× faster decoding (target ≥ 1.5× at every budget: ${mark(t.minSpeedupOverTorch >= 1.5)})`,
    `JavaScript outside onnxruntime: at most ${pct(t.maxJsShareOfStep)} of a step (target ≤ 10%: ${
      mark(t.maxJsShareOfStep <= 0.1)
    })`,
    `importance adds ${pct(t.importancePrefillOverhead)} to prefill (target ≤ 25%: ${
      mark(t.importancePrefillOverhead <= 0.25)
    })`,
    `KV bytes held at the end within ${
      pct(t.maxKvBytesErrorVsBudget)
    } of budget × full (target ≤ 1%: ${mark(t.maxKvBytesErrorVsBudget <= 0.01)})`,
  ];
  return lines.filter((l) => l !== null).join("\n");
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    if (err instanceof UsageError || err instanceof InputError) {
      console.error(`bench: ${(err as Error).message}`);
      Deno.exit(2);
    }
    throw err;
  }
}
