import { assert, assertEquals, assertMatch, assertThrows } from "@std/assert";
import { join } from "node:path";
import "../../lib/ort_telemetry.ts"; // before onnxruntime-node
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { float, GraphBuilder, IR_VERSION, OPSET } from "../../lib/graph/onnx_builder.ts";

const { onnx } = onnxProto;

/** The initializers of a serialised model, with external-data entries as a record. */
function initializers(bytes: Uint8Array) {
  return (onnx.ModelProto.decode(bytes).graph?.initializer ?? []).map((t) => ({
    name: t.name ?? "",
    dataLocation: t.dataLocation ?? 0,
    rawBytes: t.rawData?.length ?? 0,
    external: Object.fromEntries((t.externalData ?? []).map((e) => [e.key ?? "", e.value ?? ""])),
  }));
}

/** y = alpha · (x · Wᵀ) + b with a [3, 2] weight, in a graph with a symbolic batch dim. */
function gemmGraph(weight: Float32Array, alpha = 1): GraphBuilder {
  const g = new GraphBuilder("gemm");
  const x = g.input("x", "float32", ["N", 2]);
  const w = g.weight("w", [3, 2], weight);
  const b = g.constF32([0.5, -1, 2]);
  g.op("Gemm", [x, w, b], { transB: 1, alpha: float(alpha) }, { outputs: ["y"] });
  g.output("y", "float32", ["N", 3]);
  return g;
}

const W = Float32Array.from([1, 2, 3, 4, 5, 6]);
const X = Float32Array.from([1, -1, 2, 0.5]);
// Hand computation: rows [1,-1] and [2,0.5] against W rows [1,2], [3,4], [5,6].
const Y = [1 - 2 + 0.5, 3 - 4 - 1, 5 - 6 + 2, 2 + 1 + 0.5, 6 + 2 - 1, 10 + 3 + 2];

async function runGemm(model: string | Uint8Array): Promise<number[]> {
  const s = await ort.InferenceSession.create(model as Uint8Array);
  const out = await s.run({ x: new ort.Tensor("float32", X, [2, 2]) });
  await s.release();
  return [...(out.y.data as Float32Array)];
}

Deno.test("builder: in-memory model runs in onnxruntime with the hand-computed result", async () => {
  const bytes = gemmGraph(W).toBytes();
  assertEquals(await runGemm(bytes), Y);
  const m = onnx.ModelProto.decode(bytes);
  assertEquals(Number(m.irVersion), IR_VERSION);
  assertEquals(Number(m.opsetImport[0].version), OPSET);
  assertEquals(m.graph?.input?.[0].type?.tensorType?.shape?.dim?.[0].dimParam, "N");
});

Deno.test("builder: float() attributes are written as floats", async () => {
  const got = await runGemm(gemmGraph(W, 2).toBytes());
  // alpha scales only x·Wᵀ, not the bias.
  const bias = [0.5, -1, 2, 0.5, -1, 2];
  assertEquals(got, Y.map((y, i) => 2 * (y - bias[i]) + bias[i]));
});

Deno.test("builder: non-integer plain attributes and unknown inputs are refused", () => {
  const g = new GraphBuilder("bad");
  const x = g.input("x", "float32", [2]);
  assertMatch(
    assertThrows(() => g.op("LeakyRelu", [x], { alpha: 0.1 }), Error).message,
    /wrap floats with float\(\)/,
  );
  assertMatch(assertThrows(() => g.op("Relu", ["nope"]), Error).message, /nothing produces/);
  assertMatch(assertThrows(() => g.input("x", "float32", [2]), Error).message, /used twice/);
  assertMatch(
    assertThrows(() => g.output("missing", "float32", [2]), Error).message,
    /never produced/,
  );
});

Deno.test("builder: constants are deduplicated and unused ones are not written", () => {
  const g = new GraphBuilder("consts");
  const x = g.input("x", "int64", [3]);
  const a = g.constI64([1, 2, 3]);
  assertEquals(g.constI64([1, 2, 3]), a);
  g.constI64([9, 9]); // never read
  g.op("Add", [x, a], {}, { outputs: ["y"] });
  g.output("y", "int64", [3]);
  assertEquals(initializers(g.toBytes()).map((t) => t.name), [a]);
});

Deno.test("builder: save() moves large weights to external data that loads via the file path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "onnx_builder_test_" });
  try {
    // 3×2 floats = 24 bytes: over a threshold of 16 it goes external, the 12-byte bias stays.
    const path = join(dir, "gemm.onnx");
    const saved = await gemmGraph(W).save(path, { externalThreshold: 16, alignment: 64 });
    assertEquals(saved.dataPath, `${path}.data`);
    assertEquals(saved.dataBytes, 24);
    const w = initializers(await Deno.readFile(path)).find((t) => t.name === "w")!;
    assertEquals(w.dataLocation, onnx.TensorProto.DataLocation.EXTERNAL);
    assertEquals(w.rawBytes, 0);
    assertEquals(w.external, { location: "gemm.onnx.data", offset: "0", length: "24" });
    const data = new Float32Array((await Deno.readFile(`${path}.data`)).buffer);
    assertEquals([...data], [...W]);
    assertEquals(await runGemm(path), Y);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("builder: external tensors are aligned in the data file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "onnx_builder_test_" });
  try {
    const g = new GraphBuilder("two");
    const x = g.input("x", "float32", [3]);
    const a = g.weight("a", [3], Float32Array.from([1, 2, 3]));
    const b = g.weight("b", [3], Float32Array.from([10, 20, 30]));
    g.op("Add", [g.op("Add", [x, a]), b], {}, { outputs: ["y"] });
    g.output("y", "float32", [3]);
    const path = join(dir, "two.onnx");
    const saved = await g.save(path, { externalThreshold: 1, alignment: 4096 });
    assertEquals(saved.dataBytes, 4096 + 12);
    const offsets = initializers(await Deno.readFile(path)).map((t) => Number(t.external.offset));
    assertEquals(offsets, [0, 4096]);
    const s = await ort.InferenceSession.create(path);
    const out = await s.run({
      x: new ort.Tensor("float32", Float32Array.from([0.5, 0.5, 0.5]), [3]),
    });
    assertEquals([...(out.y.data as Float32Array)], [11.5, 22.5, 33.5]);
    await s.release();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("builder: toBytes refuses graphs past protobuf's 2 GiB limit", () => {
  const g = new GraphBuilder("huge");
  const x = g.input("x", "float32", [1]);
  // 33 initializers sharing one 64 MiB array: 2.06 GiB of weights, but only 64 MiB of memory
  // (the builder references data, it does not copy it).
  const big = new Float32Array(16 * 1024 * 1024);
  let y = x;
  for (let i = 0; i < 33; i++) {
    y = g.op("Add", [
      y,
      g.op("ReduceSum", [g.weight(`w${i}`, [big.length], big)], { keepdims: 1 }),
    ]);
  }
  assert(g.initializerBytes > 2 ** 31);
  assertMatch(assertThrows(() => g.toBytes(), Error).message, /2 GiB limit; use save\(path\)/);
});
