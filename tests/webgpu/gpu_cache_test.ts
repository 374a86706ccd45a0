/**
 * KV caches that stay on the GPU (`webgpu`, `cacheLocation` `"gpu"`): the GPU rows against the
 * CPU rows under keep / evict / merge / growth / sample views; generated ids and final cache
 * contents against `cpu` with the full cache and with compressing recipes (one merging); and
 * the bytes each decode step moves between CPU and GPU, counted at the feed path.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import { GraphBuilder } from "../../lib/graph/onnx_builder.ts";
import { mulberry32 } from "../../lib/random.ts";
import { createRecipe } from "../../lib/recipes/registry.ts";
import { generateBatch } from "../../lib/runtime/generate.ts";
import { GpuKvContext } from "../../lib/runtime/gpu_kv_cache.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";
import { loadModel, type Model } from "../../lib/runtime/model.ts";
import { Session } from "../../lib/runtime/session.ts";
import { webGpuDevice, webGpuTransfers } from "../../lib/runtime/webgpu.ts";
import { makeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { maxAbsDiff } from "../graph/max_abs_diff.ts";
import { noAdapter } from "./_adapter.ts";

/**
 * onnxruntime-web's device, created by a one-node session, which must stay open: releasing
 * the last session gives up the device, and the buffers on it with it.
 */
async function ortDevice(): Promise<{ device: GPUDevice; session: Session }> {
  const g = new GraphBuilder("id");
  g.op("Identity", [g.input("x", "float32", ["N"])], {}, { outputs: ["y"] });
  g.output("y", "float32", ["N"]);
  const session = await Session.create(g.toBytes(), { device: "webgpu" });
  return { device: await webGpuDevice(), session };
}

Deno.test("GPU caches: a GPU cache needs webgpu; a bad location is refused by name", async () => {
  const ck = makeTinyLlama();
  const source = { spec: ck.spec, tensors: ck.store };
  await assertRejects(
    () => loadModel(source, { cacheLocation: "gpu", cacheDir: false }),
    InputError,
    'cacheLocation "gpu" needs device "webgpu"',
  );
  await assertRejects(
    // @ts-expect-error: not a location
    () => loadModel(source, { cacheLocation: "vram", cacheDir: false }),
    InputError,
    'cacheLocation "vram" is not a cache location',
  );
});

Deno.test({
  name: "GPU caches: keep, evict, merge, growth and sample views equal the CPU rows",
  ignore: noAdapter,
  async fn() {
    const gpu = new GpuKvContext();
    const { device, session } = await ortDevice();
    gpu.bind(device);
    const shape = { numLayers: 2, numKvHeads: 2, headDim: 3 };
    const row = 6;
    const u = mulberry32(9);
    for (const batch of [1, 3]) {
      const caches = [
        new KvCache({ ...shape, batch }, 4),
        new KvCache({ ...shape, batch }, 4, gpu.storage),
      ];
      assertEquals(caches.map((c) => c.location), ["cpu", "gpu"]);
      const append = (l: number, n: number, from: number) => {
        const k = Float32Array.from({ length: n * batch * row }, () => u() * 2 - 1);
        const v = Float32Array.from({ length: n * batch * row }, () => u() * 2 - 1);
        for (const c of caches) c.append(l, k, v, Array.from({ length: n }, (_, i) => from + i));
      };
      for (const l of [0, 1]) append(l, 12, 0);
      const views = (c: KvCache) => batch === 1 ? [c] : [0, 1, 2].map((b) => c.sample(b));
      // Per sample: keep (runs and gaps), a merge, evictions at one and at different indices.
      views(caches[0]).forEach((_, b) => {
        for (const c of caches) {
          const view = views(c)[b];
          view.keep(0, [0, 1, 2, 5, 6, 9, 10, 11].filter((i) => i !== b));
          view.merge(
            1,
            [0, 4, 8],
            Int32Array.from({ length: 12 }, (_, i) => i === 11 ? -1 : (i >> 2)),
          );
          view.evict(0, 2);
          view.evict(1, b % 3);
        }
      });
      for (const c of caches) c.fit(2);
      for (const l of [0, 1]) append(l, 5, 20); // past the capacity: a resize on the GPU
      for (const c of caches) views(c).forEach((v) => v.evict(0, 3));
      for (let l = 0; l < 2; l++) {
        const [want, got] = await Promise.all(caches.map((c) => c.read(l)));
        // keep/evict/append are copies (exact); merge sums in float32 on the GPU.
        assert(maxAbsDiff(want.keys, got.keys) < 1e-6, `batch ${batch} layer ${l} keys`);
        assert(maxAbsDiff(want.values, got.values) < 1e-6, `batch ${batch} layer ${l} values`);
        assertEquals(got.keys.length, caches[0].length(l) * batch * row);
        views(caches[0]).forEach((v, b) =>
          assertEquals([...views(caches[1])[b].positions(l)], [...v.positions(l)])
        );
      }
      assertEquals(caches[1].bytesAllocated(), caches[0].bytesAllocated());
      assertThrows(() => caches[1].keys(0), Error, "await cache.read(0)");
      assertThrows(() => KvCache.stack([caches[1]]), Error, "holds its rows on the GPU");
      caches[1].release();
      assertEquals(caches[1].lengths(), [0, 0]);
    }
    gpu.release();
    await session.release();
  },
});

/** A tiny LLaMA big enough that a layer's cache dwarfs one step's inputs and outputs. */
const SHAPE = { hidden: 64, heads: 4, kvHeads: 2, layers: 2, intermediate: 96, seed: 3 };
const IDS = Array.from({ length: 40 }, (_, i) => 5 + ((i * 17 + 3) % 59));

async function models(): Promise<{ cpu: Model; gpu: Model; fedFromCpu: Model }> {
  const ck = makeTinyLlama(SHAPE);
  const source = { spec: ck.spec, tensors: ck.store };
  return {
    cpu: await loadModel(source, { cacheDir: false }),
    gpu: await loadModel(source, { device: "webgpu", cacheDir: false }),
    fedFromCpu: await loadModel(source, {
      device: "webgpu",
      cacheLocation: "cpu",
      cacheDir: false,
    }),
  };
}

Deno.test({
  name: "GPU caches: ids and kept entries equal cpu at 100 % and under prefixkv, h2o, merge",
  ignore: noAdapter,
  async fn() {
    const { cpu, gpu, fedFromCpu } = await models();
    try {
      const prompt = { embeds: cpu.embedTokens(IDS), ids: IDS, length: IDS.length };
      for (
        const [recipe, fraction] of [
          ["full", 1],
          ["prefixkv", 0.5],
          ["h2o", 0.5],
          ["prefixkv-merge", 0.5],
        ] as const
      ) {
        const run = (m: Model) =>
          generateBatch(m, [prompt], {
            maxNewTokens: 8,
            stopAtEos: false,
            policies: [createRecipe(recipe).policy({ fraction })],
          });
        const want = await run(cpu);
        const got = await run(gpu);
        assertEquals(got.cache.location, "gpu");
        assertEquals(got.samples[0].ids, want.samples[0].ids, `${recipe}: ids`);
        assertEquals(got.cacheLengths, want.cacheLengths, `${recipe}: kept per layer`);
        for (let l = 0; l < cpu.spec.text.numLayers; l++) {
          const rows = await got.cache.read(l);
          assert(maxAbsDiff(rows.keys, want.cache.keys(l)) < 1e-4, `${recipe}: layer ${l} keys`);
          assert(maxAbsDiff(rows.values, want.cache.values(l)) < 1e-4, `${recipe}: values`);
          assertEquals([...got.cache.positions(l)], [...want.cache.positions(l)]);
        }
        got.cache.release();
        if (recipe === "prefixkv") {
          const fed = await run(fedFromCpu);
          assertEquals(fed.cache.location, "cpu");
          assertEquals(fed.samples[0].ids, want.samples[0].ids, `${recipe}: ids, cache on cpu`);
        }
      }
      // A batch of two: per-sample evictions, shifted for both samples at once on the GPU.
      const other = IDS.map((id) => 5 + ((id * 7) % 59));
      const two = [prompt, { embeds: cpu.embedTokens(other), ids: other, length: other.length }];
      const batch = (m: Model) =>
        generateBatch(m, two, {
          maxNewTokens: 6,
          stopAtEos: false,
          policies: two.map(() => createRecipe("h2o").policy({ fraction: 0.5 })),
        });
      const [want, got] = [await batch(cpu), await batch(gpu)];
      assertEquals(got.samples.map((x) => x.ids), want.samples.map((x) => x.ids), "batch ids");
      assertEquals(got.cacheLengths, want.cacheLengths);
      got.cache.release();
    } finally {
      await Promise.all([cpu.close(), gpu.close(), fedFromCpu.close()]);
    }
  },
});

Deno.test({
  name: "GPU caches: a decode step moves its inputs, logits and importance, never the cache",
  ignore: noAdapter,
  async fn() {
    const { cpu, gpu, fedFromCpu } = await models();
    try {
      const t = cpu.spec.text;
      const layerBytes = (n: number) => n * t.numKvHeads * t.headDim * 4; // keys of one layer
      for (const [model, onGpu] of [[gpu, true], [fedFromCpu, false]] as const) {
        const pre = await model.prefill(model.embedTokens(IDS), { reserve: 4 });
        for (let s = 0; s < 3; s++) {
          const n = pre.cache.length(0);
          const before = webGpuTransfers();
          await model.step(9 + s, pre.cache, IDS.length + s, { attention: true });
          const after = webGpuTransfers();
          // One submit for every layer's appends, one more for the evictions recorded before.
          assertEquals(
            after.cacheSubmits - before.cacheSubmits,
            onGpu ? (s === 2 ? 2 : 1) : 0,
            `step ${s}: cache submits`,
          );
          const up = after.uploadBytes - before.uploadBytes;
          const down = after.downloadBytes - before.downloadBytes;
          // Uploads: embeddings, one int64 position id, the past bias of every layer.
          const inputs = t.hiddenSize * 4 + 8 + t.numLayers * 4;
          // Downloads: logits, and each layer's importance over its n + 1 entries.
          const outputs = t.vocabSize * 4 + t.numLayers * (n + 1) * 4;
          const cache = 2 * t.numLayers * layerBytes(n);
          if (onGpu) {
            assertEquals([up, down], [inputs, outputs], `step ${s}: bytes up, down`);
            assert(Math.max(up, down) < layerBytes(n), "a cache-sized transfer");
          } else {
            // The former path, for contrast: the whole cache goes up, new entries come back.
            assertEquals(up, inputs + cache, `step ${s}: cpu-held cache fed`);
            assertEquals(down, outputs + 2 * t.numLayers * layerBytes(1));
          }
          if (s === 1) {
            const submits = webGpuTransfers().cacheSubmits;
            for (let l = 0; l < t.numLayers; l++) pre.cache.evict(l, 3); // on the GPU
            assertEquals(webGpuTransfers().cacheSubmits, submits, "evictions are recorded");
          }
        }
        pre.cache.release();
      }
      // A cache made by hand once the sessions exist lives where the model's caches do.
      const made = gpu.newCache();
      await gpu.step(9, made, 0);
      assertEquals([made.location, made.length(0)], ["gpu", 1]);
      made.release();
      await closeKeepsCaches(cpu, gpu, fedFromCpu);
    } finally {
      // A second close of each (gpu and fedFromCpu were closed above) is harmless.
      await Promise.all([cpu.close(), gpu.close(), fedFromCpu.close()]);
    }
  },
});

/**
 * Closing the last webgpu model gives up the GPU device: its live GPU caches come back to the
 * CPU first, equal to what they held, and go on working (keep, stack, a step on another
 * model); what is left on the GPU, new caches and running the closed model are refused naming
 * `model.close()`.
 */
async function closeKeepsCaches(cpu: Model, gpu: Model, fedFromCpu: Model): Promise<void> {
  await fedFromCpu.close(); // so that closing `gpu` releases the device's last session
  const t = cpu.spec.text;
  const [live, released, want] = [
    (await gpu.prefill(gpu.embedTokens(IDS), { reserve: 2 })).cache,
    (await gpu.prefill(gpu.embedTokens(IDS))).cache,
    (await cpu.prefill(cpu.embedTokens(IDS), { reserve: 2 })).cache,
  ];
  for (const c of [live, want]) for (let l = 0; l < t.numLayers; l++) c.evict(l, 2 + l);
  released.release();
  const before = await Promise.all([0, 1].map((l) => live.read(l)));
  const gpuRows = live.storageOf(0).rows;
  const reads = webGpuTransfers().downloadBytes;
  await gpu.close();
  const layerFloats = (IDS.length - 1) * t.numKvHeads * t.headDim;
  assertEquals(webGpuTransfers().downloadBytes - reads, t.numLayers * 2 * layerFloats * 4);
  assertEquals([live.location, released.location], ["cpu", "cpu"]);
  for (let l = 0; l < t.numLayers; l++) {
    assertEquals([...live.keys(l)], [...before[l].keys], `layer ${l}: keys after close`);
    assertEquals([...live.values(l)], [...before[l].values], `layer ${l}: values after close`);
    assertEquals([...live.positions(l)], [...want.positions(l)]);
  }
  // The moved cache is a CPU cache: a step on the cpu model equals one on its own cache.
  const [a, b] = [await cpu.step(9, live, IDS.length), await cpu.step(9, want, IDS.length)];
  assert(maxAbsDiff(a.logits, b.logits) < 1e-4, "step logits on the moved cache");
  for (const c of [live, want]) c.keep(0, [0, 1, 2]);
  assertEquals(live.length(0), 3);
  assertEquals(KvCache.stack([live]).length(1), live.length(1));
  await assertRejects(() => gpuRows.read(0, 4), InputError, "model.close()");
  assertThrows(() => gpu.newCache(), InputError, "model.close()");
  await assertRejects(() => gpu.step(9, live, IDS.length + 1), InputError, "model.close()");
  live.release();
  released.release();
  assertEquals(live.lengths(), [0, 0]);
}
