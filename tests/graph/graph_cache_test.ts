import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { join } from "node:path";
import { MemoryTensorStore } from "../../lib/checkpoint/tensor_store.ts";
import { loadCheckpoint } from "../../lib/checkpoint/checkpoint.ts";
import {
  checkpointFingerprint,
  type GraphRequest,
  loadOrBuildGraph,
} from "../../lib/graph/graph_cache.ts";
import { GraphBuilder } from "../../lib/graph/onnx_builder.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { makeTinyLlama, writeTinyLlama } from "../fixtures/tiny_checkpoint.ts";

function addOne(): GraphBuilder {
  const g = new GraphBuilder("add-one");
  const x = g.input("x", "float32", [2]);
  g.op("Add", [x, g.weight("w", [2], Float32Array.from([1, 1]))], {}, { outputs: ["y"] });
  g.output("y", "float32", [2]);
  return g;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "graph_cache_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("graph cache: a miss builds and stores, a hit builds nothing", () =>
  withTempDir(async (dir) => {
    let builds = 0;
    const request = (variant: string): GraphRequest => ({
      kind: "test",
      variant,
      builderVersion: 1,
      fingerprint: "abc",
      build: () => (builds++, addOne()),
    });
    const first = await loadOrBuildGraph(dir, request("v"));
    assertEquals([first.cached, builds], [false, 1]);
    assert((await Deno.stat(first.modelPath)).isFile);
    const second = await loadOrBuildGraph(dir, request("v"));
    assertEquals([second.cached, builds, second.modelPath], [true, 1, first.modelPath]);
    // Another variant or builder version is another entry.
    const other = await loadOrBuildGraph(dir, request("w"));
    assertEquals([other.cached, builds], [false, 2]);
    const newer = await loadOrBuildGraph(dir, { ...request("v"), builderVersion: 2 });
    assertEquals([newer.cached, builds], [false, 3]);
    // No temporary build directories are left behind.
    const entries = [...Deno.readDirSync(dir)].map((e) => e.name);
    assertEquals(entries.filter((n) => n.startsWith(".building")), []);
    assertEquals(entries.length, 3);
  }));

Deno.test("graph cache: a failed build leaves no entry", () =>
  withTempDir(async (dir) => {
    const failing: GraphRequest = {
      kind: "test",
      variant: "v",
      builderVersion: 1,
      fingerprint: "abc",
      build: () => {
        throw new Error("boom");
      },
    };
    await loadOrBuildGraph(dir, failing).then(() => assert(false), (e) =>
      assertEquals(e.message, "boom"));
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  }));

Deno.test("graph cache: the in-memory fingerprint follows tensor values, shapes and the spec", async () => {
  const { spec, store } = makeTinyLlama();
  const base = await checkpointFingerprint({ spec, tensors: store });
  assertEquals(await checkpointFingerprint({ spec, tensors: store }), base);
  const copy = new MemoryTensorStore();
  for (const n of store.names()) copy.set(n, store.info(n)!.shape, store.getF32(n).slice());
  assertEquals(await checkpointFingerprint({ spec, tensors: copy }), base);
  const name = `${spec.text.prefix}layers.1.mlp.down_proj.weight`;
  copy.getF32(name)[123] += 1e-3;
  assertNotEquals(await checkpointFingerprint({ spec, tensors: copy }), base);
  const spec2 = { ...spec, text: { ...spec.text, rmsNormEps: 1e-6 } };
  assertNotEquals(await checkpointFingerprint({ spec: spec2, tensors: store }), base);
});

Deno.test("graph cache: the on-disk fingerprint follows weight file changes", () =>
  withTempDir(async (dir) => {
    const ckDir = join(dir, "ckpt");
    await writeTinyLlama(ckDir);
    const fp = async () => {
      const ck = await loadCheckpoint(ckDir);
      try {
        return await checkpointFingerprint(ck);
      } finally {
        ck.tensors.close();
      }
    };
    const base = await fp();
    assertEquals(await fp(), base);
    // Rewrite one byte in the middle of a large tensor: the file's mtime changes.
    const path = join(ckDir, "model.safetensors");
    const bytes = await Deno.readFile(path);
    bytes[bytes.length >> 1] ^= 1;
    await Deno.writeFile(path, bytes);
    await Deno.utime(path, new Date(), new Date(Date.now() + 5000));
    assertNotEquals(await fp(), base);
  }));

Deno.test("graph cache: a second loadModel on the same checkpoint skips building", () =>
  withTempDir(async (dir) => {
    const ckDir = join(dir, "ckpt");
    const cacheDir = join(dir, "graphs");
    await writeTinyLlama(ckDir, { heads: 4, kvHeads: 2 });
    const run = async () => {
      const model = await loadModel(ckDir, { cacheDir });
      try {
        const out = await model.prefill(model.embedTokens([1, 7, 9, 11]), { logits: "all" });
        return { logits: out.logits, loads: model.graphLoads, path: model.graphCachePath };
      } finally {
        await model.close();
      }
    };
    const first = await run();
    const second = await run();
    assertEquals(first.path, cacheDir);
    assertEquals(first.loads.map((l) => [l.graph, l.cached]), [["decoder:none-all", false]]);
    assertEquals(second.loads.map((l) => [l.graph, l.cached, l.buildMs]), [[
      "decoder:none-all",
      true,
      0,
    ]]);
    assertEquals([...second.logits], [...first.logits]);
  }));
