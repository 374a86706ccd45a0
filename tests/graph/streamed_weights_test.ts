/**
 * Initializers made on demand (`TensorParts`): written one part at a time by `save`, with files
 * byte-identical to the same initializers given whole, and decoder graphs whose saved weights are
 * exactly the checkpoint's (fused q/k/v and gate/up rows, block-quantized codes and scales of the
 * stacked weight, as the whole-array builder computed them).
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { quantizeBlockwise } from "../../lib/checkpoint/quantize.ts";
import { buildLlamaGraph, llamaLayerWeights } from "../../lib/graph/llama_graph.ts";
import { GraphBuilder, type TensorData } from "../../lib/graph/onnx_builder.ts";
import { makeTinyLlava } from "../fixtures/tiny_checkpoint.ts";

const { onnx } = onnxProto;

const ramp = (n: number, at = 0) => Float32Array.from({ length: n }, (_, i) => (i + at) * 0.25);

/** A two-weight graph; `parts` gives each weight as row blocks made on demand. */
function twoWeights(parts: boolean, made: string[] = []): GraphBuilder {
  const g = new GraphBuilder("two");
  const x = g.input("x", "float32", ["N", 300]);
  const whole = ramp(400 * 300);
  const block = (name: string, from: number, to: number) => () => {
    made.push(name);
    return whole.slice(from * 300, to * 300);
  };
  const w1 = g.weight(
    "w1",
    [400, 300],
    parts ? [block("w1a", 0, 100), block("w1b", 100, 400)] : whole,
  );
  const w2 = g.weight(
    "w2",
    [2, 300],
    parts ? [() => (made.push("w2"), ramp(600, 7))] : ramp(600, 7),
  );
  const y = g.op("Gemm", [x, w1], { transB: 1 });
  g.op("Gemm", [g.op("Slice", [y, g.constI64([0]), g.constI64([300]), g.constI64([1])]), w2], {
    transB: 1,
  }, { outputs: ["z"] });
  g.output("z", "float32", ["N", 2]);
  return g;
}

Deno.test("streamed initializers: parts are made only when written, in order, each once", async () => {
  const made: string[] = [];
  const g = twoWeights(true, made);
  assertEquals(made, []);
  assertEquals(g.initializerBytes, (400 * 300 + 600) * 4 + 3 * 8); // the weights + 3 int64 constants
  const dir = await Deno.makeTempDir();
  try {
    await g.save(join(dir, "model.onnx"));
    assertEquals(made, ["w1a", "w1b", "w2"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("streamed initializers: files byte-identical to whole arrays (save and toBytes)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "a"));
    await Deno.mkdir(join(dir, "b"));
    const a = await twoWeights(false).save(join(dir, "a", "model.onnx"));
    const b = await twoWeights(true).save(join(dir, "b", "model.onnx"));
    assertEquals(a.dataBytes, b.dataBytes);
    assertEquals(await Deno.readFile(a.dataPath!), await Deno.readFile(b.dataPath!));
    assertEquals(await Deno.readFile(a.modelPath), await Deno.readFile(b.modelPath));
    assertEquals(twoWeights(false).toBytes(), twoWeights(true).toBytes());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("streamed initializers: a part of the wrong type or size is an error naming it", async () => {
  const dir = await Deno.makeTempDir();
  const graph = (make: () => TensorData) => {
    const g = new GraphBuilder("bad");
    const x = g.input("x", "float32", ["N", 4]);
    g.output(g.op("Gemm", [x, g.weight("w", [300, 4], [make])], { transB: 1 }), "float32", [
      "N",
      300,
    ]);
    return g;
  };
  try {
    await assertRejects(
      () => graph(() => ramp(1199)).save(join(dir, "m.onnx")),
      Error,
      "initializer w [300,4] needs 1200 values, its parts made 1199",
    );
    await assertRejects(
      () => graph(() => new Int32Array(1200)).save(join(dir, "m.onnx")),
      Error,
      "initializer w is float32, but its values are a Int32Array",
    );
    assertThrows(() => graph(() => ramp(1201)).toBytes(), Error, "its parts made 1201");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Each saved initializer's bytes, from the model and its data file. */
async function savedInitializers(dir: string): Promise<Map<string, Uint8Array>> {
  const model = onnx.ModelProto.decode(await Deno.readFile(join(dir, "model.onnx")));
  const data = await Deno.readFile(join(dir, "model.onnx.data"));
  const out = new Map<string, Uint8Array>();
  for (const t of model.graph!.initializer!) {
    const ext = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    if (ext.offset === undefined) out.set(t.name!, t.rawData!);
    else {
      assertEquals(Number(ext.offset) % 4096, 0, `${t.name} is aligned`);
      out.set(t.name!, data.subarray(Number(ext.offset), Number(ext.offset) + Number(ext.length)));
    }
  }
  return out;
}

const bytes = (a: TensorData) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

for (const weights of ["f32", "int8", "int4"] as const) {
  Deno.test(`streamed decoder graph (${weights}): saved weights are the checkpoint's, fused and quantized whole`, async () => {
    const ck = makeTinyLlava({ layers: 2, heads: 4, kvHeads: 2, hidden: 64, seed: 9 });
    const spec = ck.spec.text;
    const dir = await Deno.makeTempDir();
    try {
      await buildLlamaGraph(spec, ck.store, { weights }).save(join(dir, "model.onnx"));
      const saved = await savedInitializers(dir);
      const w = llamaLayerWeights(spec, 1);
      const get = (n: string) => ck.store.getF32(n);
      const qkv = concat([get(w.q), get(w.k), get(w.v)]);
      const gateUp = concat([get(w.gate), get(w.up)]);
      const D = spec.hiddenSize;
      for (const [name, value] of [["layer1.qkv", qkv], ["layer1.gate_up", gateUp]] as const) {
        if (weights === "f32") assertEquals(saved.get(name), bytes(value));
        else {
          const q = quantizeBlockwise(value, value.length / D, D, weights === "int8" ? 8 : 4);
          assertEquals(saved.get(`${name}.codes`), q.codes);
          assertEquals(saved.get(`${name}.scales`), bytes(q.scales));
        }
      }
      assertEquals(saved.get("layer1.input_norm"), bytes(get(w.inputNorm)));
      assert(saved.size > 10);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
