import { assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import { GraphBuilder } from "../../lib/graph/onnx_builder.ts";
import {
  cudaProviderLibraries,
  floatTensor,
  parseDevice,
  Session,
} from "../../lib/runtime/session.ts";

function doubler(): Uint8Array {
  const g = new GraphBuilder("double");
  const x = g.input("x", "float32", ["N"]);
  g.op("Add", [x, x], {}, { outputs: ["y"] });
  g.output("y", "float32", ["N"]);
  return g.toBytes();
}

Deno.test("session: cpu runs a graph, reading only the view it is given", async () => {
  const s = await Session.create(doubler(), { device: "cpu", threads: 1 });
  try {
    assertEquals([s.inputNames, s.outputNames], [["x"], ["y"]]);
    // A view into a larger buffer, like KvCache.keys(): only its 3 values are read.
    const buffer = Float32Array.from([1, 2, 3, 99, 99]);
    const out = await s.run({ x: floatTensor(buffer.subarray(0, 3), [3]) });
    assertEquals([...(out.y.data as Float32Array)], [2, 4, 6]);
    const empty = await s.run({ x: floatTensor(new Float32Array(0), [0]) });
    assertEquals(empty.y.dims, [0]);
  } finally {
    await s.release();
  }
});

Deno.test("session: unknown devices are refused by name", () => {
  assertEquals(parseDevice("cuda"), "cuda");
  assertMatch(
    assertThrows(
      () => parseDevice("tpu"),
      InputError,
    ).message,
    /unknown device "tpu"; use one of: cpu, cuda/,
  );
});

Deno.test({
  name: "session: cuda without the CUDA provider fails with instructions, never falls back",
  ignore: cudaProviderLibraries().missing.length === 0,
  async fn() {
    const e = await assertRejects(
      () => Session.create(doubler(), { device: "cuda" }),
      InputError,
      `device "cuda" needs onnxruntime-node's CUDA execution provider`,
    );
    assertMatch(e.message, /libonnxruntime_providers_cuda\.so/);
    assertMatch(e.message, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
    assertMatch(e.message, /--device cpu/);
  },
});
