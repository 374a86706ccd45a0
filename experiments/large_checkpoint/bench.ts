/**
 * The large-checkpoint bench of issue 13: a LLaVA-1.5-7B-shaped random checkpoint (made by
 * make_llava7b_shaped.py) prefills a 626-token image prompt (576 image positions) and decodes 16
 * tokens. Reports load, graph build, prefill and decode times, the peak resident memory of this
 * process (VmHWM, after each phase) and the largest anonymous resident memory seen by a 100 ms
 * sampler (RssAnon: memory the kernel cannot drop, unlike the weight file pages onnxruntime maps,
 * which count in VmHWM), and the graph cache's bytes on disk. A bench, not a test. Run it twice
 * with the same `--cache-dir` for the first (graphs built) and the cached load.
 *
 *     deno run -A experiments/large_checkpoint/bench.ts --model /tmp/llava7b --weights int8 [--link-checkpoint]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { WeightFormat } from "../../lib/checkpoint/quantize.ts";
import { argmax } from "../../lib/runtime/generate.ts";
import { loadModel } from "../../lib/runtime/model.ts";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    weights: { type: "string", default: "int8" },
    "cache-dir": { type: "string" },
    threads: { type: "string" },
    "link-checkpoint": { type: "boolean", default: false },
  },
});
if (!values.model) throw new Error("give --model DIR (made by make_llava7b_shaped.py)");
const cacheDir = values["cache-dir"] ?? await Deno.makeTempDir({ prefix: "bench7b_cache_" });

function statusGiB(field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number((Number(m[1]) / 2 ** 20).toFixed(2)) : NaN;
}
let anonPeak = 0;
const sampler = setInterval(() => {
  anonPeak = Math.max(anonPeak, statusGiB("RssAnon"));
}, 100);
const peaks: Record<string, number> = {};
const phase = (name: string) => {
  peaks[name] = statusGiB("VmHWM");
  console.error(`${new Date().toISOString()} ${name}: peak RSS ${peaks[name]} GiB`);
};

/** Bytes of the files under `dir`; hard links into the checkpoint (`linked-*`) not counted. */
function dirBytes(dir: string): number {
  let total = 0;
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.name.startsWith("linked-")) continue;
    total += e.isDirectory ? dirBytes(p) : Deno.statSync(p).size;
  }
  return total;
}

const t0 = performance.now();
const model = await loadModel(values.model, {
  cacheDir,
  weights: values.weights as WeightFormat,
  threads: values.threads ? Number(values.threads) : undefined,
  linkCheckpoint: values["link-checkpoint"],
});
const loadMs = performance.now() - t0;
// The decoder session (built or fetched from the cache, then loaded), timed on its own.
const tp = performance.now();
await model.prepare("importance", "last");
const decoderLoadMs = performance.now() - tp;
phase("decoder loaded");
const side = model.spec.vision!.imageSize;
const pixels = Float32Array.from({ length: 3 * side * side }, (_, i) => Math.sin(i * 0.01));
// 1 + 24 + <image> (576 positions) + 25 = 626 positions.
const text = Array.from({ length: 49 }, (_, i) => 5 + (i * 7) % 60);
const ids = [2, ...text.slice(0, 24), model.spec.imageTokenId!, ...text.slice(24)];
const t1 = performance.now();
const prompt = await model.buildPrompt({ ids, image: pixels });
const visionMs = performance.now() - t1;
phase("image encoded");
const t2 = performance.now();
// Room for the 16 tokens, so that decoding appends without growing every layer.
const pre = await model.prefill(prompt.embeds, {
  attention: "importance",
  logits: "last",
  reserve: 16,
});
const prefillMs = performance.now() - t2;
phase("prefilled");
const V = model.vocabSize;
let next = argmax(pre.logits.subarray((pre.logitRows - 1) * V));
const stepMs: number[] = [];
for (let k = 0; k < 16; k++) {
  const t = performance.now();
  next = argmax((await model.step(next, pre.cache, prompt.length + k)).logits);
  stepMs.push(performance.now() - t);
}
phase("decoded");
clearInterval(sampler);
const result = {
  model: values.model,
  weights: values.weights,
  linkCheckpoint: values["link-checkpoint"],
  layers: model.spec.text.numLayers,
  promptLength: prompt.length,
  loadMs: Math.round(loadMs),
  decoderLoadMs: Math.round(decoderLoadMs),
  graphLoads: model.graphLoads.map((g) => ({
    graph: g.graph,
    buildMs: Math.round(g.buildMs),
    writeMs: Math.round(g.writeMs),
    sessionMs: Math.round(g.sessionMs),
  })),
  visionMs: Math.round(visionMs),
  prefillMs: Math.round(prefillMs),
  prefillRunMs: Math.round(pre.runMs),
  firstStepMs: Math.round(stepMs[0]),
  decodeMsPerToken: Math.round(stepMs.slice(1).reduce((a, b) => a + b, 0) / 15),
  peakRssGiB: statusGiB("VmHWM"),
  peakRssGiBByPhase: peaks,
  peakRssAnonGiB: anonPeak,
  graphCacheGiB: Number((dirBytes(cacheDir) / 2 ** 30).toFixed(2)),
};
await model.close();
console.log(JSON.stringify(result, null, 2));
