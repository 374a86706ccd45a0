/**
 * Block-wise int8 / int4 weights: the codes and scales of a hand-computed block, the bound on
 * the rounding error, padding of a partial last block, onnxruntime's `MatMulNBits` multiplying
 * by exactly the dequantized weight (up to its int8 activations), and `loadModel`'s `weights`
 * option end to end (distinct graphs, close logits, bad values refused).
 */
import "../../lib/ort_telemetry.ts"; // before onnxruntime-node
import "../../lib/ort_telemetry.ts"; // before onnxruntime-node loads its native library
import * as ort from "onnxruntime-node";
import { join } from "node:path";
import {
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertLessOrEqual,
  assertRejects,
} from "@std/assert";
import { loadCheckpoint, type LoadedCheckpoint } from "../../lib/checkpoint/checkpoint.ts";
import {
  dequantizeBlockwise,
  quantizeBlockwise,
  type WeightFormat,
} from "../../lib/checkpoint/quantize.ts";
import { MemoryTensorStore } from "../../lib/checkpoint/tensor_store.ts";
import { GraphBuilder } from "../../lib/graph/onnx_builder.ts";
import { projection } from "../../lib/graph/projection.ts";
import { InputError } from "../../lib/errors.ts";
import { mulberry32 } from "../../lib/random.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";

Deno.test("quantizeBlockwise: one 16-column block by hand, 4 and 8 bits", () => {
  // amax 7 → 4-bit scale 1, codes w + 8; 8-bit scale 7/127.
  const w = Float32Array.from([7, -7, 0.4, 0.6, -0.5, 1.5, 2.5, 3, -3, 0, 0, 0, 0, 0, 0, 1]);
  const q4 = quantizeBlockwise(w, 1, 16, 4, 16);
  assertEquals([...q4.scales], [1]);
  // Codes 15, 1, 8, 9, 8 (−0.5 rounds to −0 → 8), 10 (1.5 → 2), 11 (2.5 → 3), 11, 5, 8 × 6, 9;
  // packed low nibble first.
  assertEquals([...q4.codes], [0x1f, 0x98, 0xa8, 0xbb, 0x85, 0x88, 0x88, 0x98]);
  assertEquals([...dequantizeBlockwise(q4)], [7, -7, 0, 1, 0, 2, 3, 3, -3, 0, 0, 0, 0, 0, 0, 1]);
  const q8 = quantizeBlockwise(w, 1, 16, 8, 16);
  assertEquals(q8.scales[0], Math.fround(7 / 127));
  assertEquals([q8.codes[0], q8.codes[1], q8.codes[2]], [255, 1, 128 + 7]); // 0.4·127/7 = 7.26
});

Deno.test("quantizeBlockwise: error ≤ half a step, partial last block zero-padded", () => {
  const rng = mulberry32(3);
  const n = 5, k = 40; // two blocks of 32, the second with 8 columns
  const w = Float32Array.from({ length: n * k }, () => (rng() - 0.5) * 4);
  for (const bits of [4, 8] as const) {
    const q = quantizeBlockwise(w, n, k, bits);
    assertEquals([q.blocksPerRow, q.codes.length], [2, n * 2 * 32 * bits / 8]);
    const back = dequantizeBlockwise(q);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < k; c++) {
        const scale = q.scales[r * 2 + Math.floor(c / 32)];
        assertLessOrEqual(Math.abs(back[r * k + c] - w[r * k + c]), scale / 2 + 1e-7);
      }
    }
    // Padding columns 40…63 of block 1 hold the zero code.
    const zero = 1 << (bits - 1);
    const blob = (32 * bits) / 8, last = q.codes.subarray(blob, 2 * blob);
    const code = (j: number) => bits === 8 ? last[j] : (last[j >> 1] >> ((j & 1) * 4)) & 15;
    for (let j = 8; j < 32; j++) assertEquals(code(j), zero);
  }
});

Deno.test("projection: MatMulNBits multiplies by the dequantized weight (int8 activations)", async () => {
  const rng = mulberry32(9);
  const T = 3, n = 24, k = 96;
  const w = Float32Array.from({ length: n * k }, () => (rng() - 0.5) * 2);
  const x = Float32Array.from({ length: T * k }, () => (rng() - 0.5) * 2);
  for (const format of ["f32", "int8", "int4"] as const) {
    const g = new GraphBuilder(`proj-${format}`);
    const xin = g.input("x", "float32", ["T", k]);
    const y = projection(g, xin, "w", [n, k], w, format);
    g.output(g.op("Identity", [y], {}, { outputs: ["y"] }), "float32", ["T", n]);
    const s = await ort.InferenceSession.create(g.toBytes());
    const out = (await s.run({ x: new ort.Tensor("float32", x, [T, k]) })).y.data as Float32Array;
    await s.release();
    const wq = format === "f32" ? w : dequantizeBlockwise(
      quantizeBlockwise(w, n, k, format === "int8" ? 8 : 4),
    );
    let worst = 0, scale = 0;
    for (let t = 0; t < T; t++) {
      for (let r = 0; r < n; r++) {
        let want = 0, mass = 0;
        for (let c = 0; c < k; c++) {
          want += x[t * k + c] * wq[r * k + c];
          mass += Math.abs(x[t * k + c] * wq[r * k + c]);
        }
        worst = Math.max(worst, Math.abs(out[t * n + r] - want));
        scale = Math.max(scale, mass);
      }
    }
    // f32 and int4: float32 rounding only; int8: also int8 activations (accuracy level 4).
    assertLessOrEqual(worst, (format === "int8" ? 2e-2 : 1e-6) * scale, format);
  }
});

/** `ckpt` with every decoder projection replaced by its dequantized `bits`-bit version. */
function dequantizedSource(ckpt: LoadedCheckpoint, bits: 4 | 8): LoadedCheckpoint {
  const t = ckpt.spec.text;
  const store = new MemoryTensorStore();
  for (const name of ckpt.tensors.names()) {
    const { shape } = ckpt.tensors.info(name)!;
    const data = ckpt.tensors.getF32(name);
    const isProjection = shape.length === 2 &&
      (name === t.lmHead ||
        (name.startsWith(`${t.prefix}layers.`) && name.endsWith("_proj.weight")));
    store.set(
      name,
      shape,
      isProjection ? dequantizeBlockwise(quantizeBlockwise(data, shape[0], shape[1], bits)) : data,
    );
  }
  return { ...ckpt, tensors: store };
}

Deno.test("loadModel weights option: int8 / int4 graphs compute with the dequantized weights", async () => {
  const root = await Deno.makeTempDir({ prefix: "weights_" });
  try {
    const src = await writeTinyLlava(join(root, "m"), {
      hidden: 64,
      intermediate: 96,
      heads: 4,
      kvHeads: 2,
      layers: 2,
    });
    const ids = [1, 15, 16, 17, 18, 19, 47, 20, 21, 22, 45];
    const run = async (source: string | LoadedCheckpoint, weights: WeightFormat) => {
      const model = await loadModel(source, { cacheDir: join(root, "cache"), weights });
      try {
        return (await model.prefill((await model.buildPrompt({ ids })).embeds)).logits;
      } finally {
        await model.close();
      }
    };
    const diff = (a: Float32Array, b: Float32Array) =>
      a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    const f32 = await run(src.dir, "f32");
    const range = f32.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    for (const [weights, bits] of [["int8", 8], ["int4", 4]] as const) {
      const quantized = await run(src.dir, weights);
      const ckpt = await loadCheckpoint(src.dir);
      const oracle = await run(dequantizedSource(ckpt, bits), "f32");
      ckpt.tensors.close();
      // int4 computes with float32 activations: exactly the dequantized model. int8 rounds the
      // activations to 8 bits per block too (accuracy level 4), which costs as much as its
      // weights' rounding.
      const fromOracle = diff(quantized, oracle), fromF32 = diff(quantized, f32);
      if (weights === "int4") {
        assertLessOrEqual(fromOracle, 1e-5 * range, "int4 vs dequantized f32");
        assertGreater(fromF32, 1e-3 * range, "int4 vs f32");
      } else {
        assertLessOrEqual(fromOracle, 0.1 * range, "int8 vs dequantized f32");
        assertGreater(fromF32, 1e-4 * range, "int8 vs f32");
      }
    }
    // Three cache entries for one checkpoint: f32, int8 and int4 decoder graphs.
    const entries = [...Deno.readDirSync(join(root, "cache"))].map((e) => e.name);
    assertEquals(entries.filter((e) => e.startsWith("llama-")).length >= 3, true, `${entries}`);
    assertEquals(
      entries.some((e) => e.includes("int8")) && entries.some((e) => e.includes("int4")),
      true,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  const e = await assertRejects(() =>
    loadModel("/nonexistent", { weights: "int3" as unknown as "int8" })
  );
  assertInstanceOf(e, InputError);
  assertEquals(
    e.message.includes('weights = "int3"') && e.message.includes("f32, int8, int4"),
    true,
  );
});
