/**
 * Half-precision graphs built straight from the checkpoint (`precision: "float16"`), checked on
 * the graph itself (no GPU): float16 weights read from an F16 checkpoint without float32 copies,
 * about half the bytes, and the same graph as converting the float32 one after the fact
 * (`toFloat16Model`, which the webgpu numerics tests measured against cpu float32).
 */
import { assert, assertEquals } from "@std/assert";
import { join } from "node:path";
import onnxProto from "onnx-proto";
import { loadCheckpoint } from "../../lib/checkpoint/checkpoint.ts";
import type { TensorStore } from "../../lib/checkpoint/tensor_store.ts";
import { buildClipGraph } from "../../lib/graph/clip_graph.ts";
import { PRECISION_METADATA_KEY } from "../../lib/graph/half_precision.ts";
import { buildLlamaGraph } from "../../lib/graph/llama_graph.ts";
import type { GraphBuilder } from "../../lib/graph/onnx_builder.ts";
import { toFloat16Model } from "../../lib/runtime/float16_model.ts";
import { type ModelFiles, modelFilesBytes, readModelFiles } from "../../lib/runtime/model_files.ts";
import { writeTinyLlava } from "../fixtures/tiny_checkpoint.ts";

const { onnx } = onnxProto;
const { FLOAT, FLOAT16 } = onnx.TensorProto.DataType;

/** `store`, counting float32 reads of matrices (anything of two or more dimensions). */
function countingFloat32Reads(store: TensorStore): { store: TensorStore; matrixReads: string[] } {
  const matrixReads: string[] = [];
  const counted: TensorStore = {
    names: () => store.names(),
    info: (name) => store.info(name),
    getF32: (name, shape) => {
      if ((store.info(name)?.shape.length ?? 0) >= 2) matrixReads.push(name);
      return store.getF32(name, shape);
    },
    getF16: (name, shape) => store.getF16!(name, shape),
    close: () => store.close(),
  };
  return { store: counted, matrixReads };
}

async function saved(dir: string, name: string, graph: GraphBuilder): Promise<ModelFiles> {
  await Deno.mkdir(join(dir, name));
  return readModelFiles((await graph.save(join(dir, name, "model.onnx"))).modelPath);
}

/** Each initializer's bytes (inline or external), by element type. */
function initializerBytes(files: ModelFiles, type: number): string[] {
  const proto = onnx.ModelProto.decode(files.model);
  const data = new Map(files.external.map((e) => [e.path, e.data]));
  return proto.graph!.initializer!.filter((t) => t.dataType === type).map((t) => {
    const ext = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    const bytes = ext.location === undefined ? t.rawData! : data.get(ext.location)!.subarray(
      Number(ext.offset),
      Number(ext.offset) + Number(ext.length),
    );
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }).sort();
}

const graph = (files: ModelFiles) => onnx.ModelProto.decode(files.model).graph!;

Deno.test("half-precision graphs: float16 weights straight from an F16 checkpoint, half the bytes, same graph as converting float32", async () => {
  const root = await Deno.makeTempDir();
  try {
    const { dir } = await writeTinyLlava(join(root, "ck"), {
      dtype: "F16",
      hidden: 64,
      intermediate: 128,
      heads: 4,
      kvHeads: 2,
      layers: 2,
      seed: 4,
    });
    const ck = await loadCheckpoint(dir);
    const { store, matrixReads } = countingFloat32Reads(ck.tensors);
    const builds = {
      decoder: (precision: "float32" | "float16") =>
        buildLlamaGraph(ck.spec.text, store, { attention: "importance", precision }),
      vision: (precision: "float32" | "float16") =>
        buildClipGraph(ck.spec.vision!, ck.spec.projector!, store, { precision }),
    };
    for (const [name, build] of Object.entries(builds)) {
      const single = await saved(root, `${name}-f32`, build("float32"));
      matrixReads.length = 0;
      const half = await saved(root, `${name}-f16`, build("float16"));
      assertEquals(matrixReads, [], `${name}: float32 reads of matrices in the half build`);
      const ratio = modelFilesBytes(half) / modelFilesBytes(single);
      assert(ratio > 0.45 && ratio < 0.56, `${name}: half / float32 bytes = ${ratio}`);
      // Inputs and outputs keep their float32 types; every matrix is float16; marked as half.
      const io = (g: ReturnType<typeof graph>) =>
        [...g.input!, ...g.output!].map((v) => [v.name, v.type!.tensorType!.elemType]);
      assertEquals(io(graph(half)), io(graph(single)));
      for (const t of graph(half).initializer!) {
        if ((t.dims ?? []).length >= 2) assertEquals(t.dataType, FLOAT16, `${name}: ${t.name}`);
      }
      const meta = onnx.ModelProto.decode(half.model).metadataProps!;
      assertEquals(meta.map((p) => [p.key, p.value]), [[PRECISION_METADATA_KEY, "float16"]]);
      // The same as the float32 graph converted at load: nodes, and weights bit for bit.
      const converted = toFloat16Model(single);
      const ops = (f: ModelFiles) => graph(f).node!.map((n) => n.opType);
      assertEquals(ops(half), ops(converted), `${name}: node types`);
      assertEquals(initializerBytes(half, FLOAT16), initializerBytes(converted, FLOAT16));
      assertEquals(initializerBytes(half, FLOAT), initializerBytes(converted, FLOAT));
      // Converting a graph built in half precision again changes nothing.
      assertEquals(toFloat16Model(half), half);
    }
    ck.tensors.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
