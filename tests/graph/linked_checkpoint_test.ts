/**
 * `linkCheckpoint`: graphs whose weights point into the checkpoint's safetensors (hard links in
 * the graph cache, external data by offset and length) compute exactly what the copying graphs
 * compute, for F32, F16 and BF16 checkpoints, while the cache stores a fraction of the bytes.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { InputError } from "../../lib/errors.ts";
import { openSafetensors } from "../../lib/checkpoint/safetensors.ts";
import { GraphBuilder } from "../../lib/graph/onnx_builder.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";

const { onnx } = onnxProto;
const SHAPE = { hidden: 64, intermediate: 128, layers: 2, heads: 4, kvHeads: 2, seed: 3 } as const;

interface Entry {
  dir: string;
  meta: { dataBytes: number; linkedBytes: number; notLinked?: string };
}

async function entries(cacheDir: string): Promise<Entry[]> {
  const out: Entry[] = [];
  for await (const e of Deno.readDir(cacheDir)) {
    if (!e.isDirectory || e.name.startsWith(".")) continue;
    const dir = join(cacheDir, e.name);
    out.push({ dir, meta: JSON.parse(await Deno.readTextFile(join(dir, "meta.json"))) });
  }
  return out.sort((a, b) => a.dir.localeCompare(b.dir));
}

/** Prefill (importance) and one step of the same prompt: every output value. */
async function run(dir: string, cacheDir: string, linkCheckpoint: boolean) {
  const model = await loadModel(dir, { cacheDir, linkCheckpoint });
  try {
    const side = model.spec.vision!.imageSize;
    const image = Float32Array.from({ length: 3 * side * side }, (_, i) => Math.sin(i) * 0.5);
    const prompt = await model.buildPrompt({ ids: [1, 3, 5, 6, 7], image });
    const pre = await model.prefill(prompt.embeds, { attention: "importance" });
    const step = await model.step(9, pre.cache, prompt.length);
    return [pre.logits, ...pre.importance!, step.logits];
  } finally {
    await model.close();
  }
}

for (const dtype of ["F32", "F16", "BF16"] as const) {
  Deno.test(`linkCheckpoint (${dtype} checkpoint): the same outputs bit for bit, the weights not copied`, async () => {
    const root = await Deno.makeTempDir();
    try {
      const { dir } = await writeTinyLlava(join(root, "ck"), { ...SHAPE, dtype });
      const copied = await run(dir, join(root, "copy"), false);
      const linked = await run(dir, join(root, "link"), true);
      assertEquals(linked, copied);
      const checkpoint = join(dir, "model.safetensors");
      const [copyDecoder] = await entries(join(root, "copy"));
      const [linkDecoder, linkVision] = await entries(join(root, "link"));
      assert(linkDecoder.dir.includes("-linked-") && linkVision.dir.includes("-linked-"));
      for (const e of [linkDecoder, linkVision]) {
        // The link is the checkpoint file itself (same inode), listed with its checksum.
        const link = join(e.dir, "linked-0-model.safetensors");
        assertEquals(Deno.statSync(link).ino, Deno.statSync(checkpoint).ino);
        assert(
          Object.keys(JSON.parse(Deno.readTextFileSync(join(e.dir, "meta.json"))).files)
            .includes("linked-0-model.safetensors"),
        );
        assert(e.meta.linkedBytes > 0 && e.meta.notLinked === undefined);
      }
      // Nothing is copied: q, k and v (apart in the file: k, o, q, v) are three projections
      // that each point in, gate and up (back to back) one.
      assertEquals([linkVision.meta.dataBytes, linkDecoder.meta.dataBytes], [0, 0]);
      assert(copyDecoder.meta.dataBytes > 100_000);
      // gate and up: one external entry at gate's offset in the checkpoint.
      const model = onnx.ModelProto.decode(
        await Deno.readFile(join(linkDecoder.dir, "model.onnx")),
      );
      const names = model.graph!.initializer!.map((t) => t.name!);
      for (const p of ["q", "k", "v"]) assert(names.some((n) => n.startsWith(`layer0.${p}`)), p);
      assert(!names.some((n) => n.startsWith("layer0.qkv")));
      const gateUp = model.graph!.initializer!.find((t) => t.name!.startsWith("layer0.gate_up"))!;
      const ext = Object.fromEntries(gateUp.externalData!.map((x) => [x.key, x.value]));
      const st = openSafetensors(checkpoint);
      const gate = st.region(`language_model.model.layers.0.mlp.gate_proj.weight`)!;
      st.close();
      assertEquals([ext.location, Number(ext.offset)], ["linked-0-model.safetensors", gate.offset]);
      assertEquals(Number(ext.length), 2 * gate.length);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}

Deno.test({
  name: "linkCheckpoint: a cache on another file system copies instead, saying why",
  // /dev/shm is a tmpfs on Linux: a hard link from there into the temp folder fails (EXDEV).
  ignore: !isOtherFileSystem("/dev/shm"),
  async fn() {
    const root = await Deno.makeTempDir({ dir: "/dev/shm" });
    const cache = await Deno.makeTempDir();
    try {
      const { dir } = await writeTinyLlava(join(root, "ck"), { ...SHAPE, dtype: "F16" });
      const warnings: string[] = [];
      const warn = console.warn;
      console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
      let linked;
      try {
        linked = await run(dir, cache, true);
      } finally {
        console.warn = warn;
      }
      const copyCache = await Deno.makeTempDir();
      assertEquals(linked, await run(dir, copyCache, false));
      await Deno.remove(copyCache, { recursive: true });
      const [decoder] = await entries(cache);
      assertStringIncludes(decoder.meta.notLinked!, "cannot hard-link");
      assertEquals(decoder.meta.linkedBytes, 0);
      assert(warnings.some((w) => w.includes("copied instead")));
    } finally {
      await Deno.remove(root, { recursive: true });
      await Deno.remove(cache, { recursive: true });
    }
  },
});

function isOtherFileSystem(path: string): boolean {
  try {
    return Deno.statSync(path).dev !== Deno.statSync(Deno.makeTempDirSync()).dev;
  } catch {
    return false;
  }
}

Deno.test("linkCheckpoint: refused without a graph cache, on webgpu, and when not a boolean", async () => {
  const root = await Deno.makeTempDir();
  try {
    const { dir } = await writeTinyLlava(join(root, "ck"), SHAPE);
    await assertRejects(
      () => loadModel(dir, { cacheDir: false, linkCheckpoint: true }),
      InputError,
      "linkCheckpoint needs a graph cache",
    );
    await assertRejects(
      () => loadModel(dir, { cacheDir: root, device: "webgpu", linkCheckpoint: true }),
      InputError,
      'device "webgpu" reads every external data file whole',
    );
    await assertRejects(
      () => loadModel(dir, { cacheDir: root, linkCheckpoint: "yes" as unknown as boolean }),
      InputError,
      'linkCheckpoint = "yes" is not a boolean',
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("save linkFiles: a file the graph reads less than 1/64 of is copied from, not linked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A [16, 16] float32 weight (1 KiB) at offset 8 of a file of 8 + 1024 + `tail` bytes.
    const w = Float32Array.from({ length: 256 }, (_, i) => i / 7);
    const save = async (tail: number, name: string) => {
      const file = join(dir, `${name}.bin`);
      const bytes = new Uint8Array(8 + 1024 + tail);
      bytes.set(new Uint8Array(w.buffer), 8);
      await Deno.writeFile(file, bytes);
      const part = Object.assign(() => w, {
        region: { path: file, offset: 8, length: 1024, dtype: "float32" as const },
      });
      const g = new GraphBuilder(name, { referenceFiles: true });
      const x = g.input("x", "float32", ["N", 16]);
      g.output(g.op("MatMul", [x, g.weight("w", [16, 16], [part])]), "float32", ["N", 16]);
      await Deno.mkdir(join(dir, name));
      return await g.save(join(dir, name, "model.onnx"), { linkFiles: true });
    };
    const small = await save(1024, "mostly-used");
    assertEquals([small.linkedBytes, small.dataBytes, small.linkedFiles.length], [1024, 0, 1]);
    const sliver = await save(64 * 1024, "sliver");
    assertEquals([sliver.linkedBytes, sliver.dataBytes, sliver.linkedFiles.length], [0, 1024, 0]);
    const data = await Deno.readFile(sliver.dataPath!);
    assertEquals(new Float32Array(data.buffer, 0, 256), w);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
