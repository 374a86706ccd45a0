import { assert, assertEquals, assertMatch, assertRejects, assertThrows } from "@std/assert";
import { InputError } from "../../lib/errors.ts";
import { GraphBuilder } from "../../lib/graph/onnx_builder.ts";
import { loadModel } from "../../lib/runtime/model.ts";
import { floatTensor, parseDevice, Session } from "../../lib/runtime/session.ts";
import { checkWebGpuFeeds, requireWebGpuAdapter } from "../../lib/runtime/webgpu.ts";
import { makeTinyLlama } from "../fixtures/tiny_checkpoint.ts";
import { adapter, noAdapter } from "./_adapter.ts";

function scaler(): Uint8Array {
  const g = new GraphBuilder("scale");
  const x = g.input("x", "float32", ["N"]);
  g.op("Mul", [g.op("Add", [x, x]), g.constF32(0.25, [])], {}, { outputs: ["y"] });
  g.output("y", "float32", ["N"]);
  return g.toBytes();
}

Deno.test("webgpu: the device is named beside cpu and cuda", () => {
  assertEquals(parseDevice("webgpu"), "webgpu");
});

Deno.test("webgpu: no adapter is an error saying what to install, never a CPU fallback", async () => {
  const none = { requestAdapter: () => Promise.resolve(null) };
  for (const gpu of [none, null]) {
    const e = await assertRejects(() => requireWebGpuAdapter(gpu), InputError);
    assertMatch(e.message, /device "webgpu"/);
    assertMatch(e.message, /apt-get install mesa-vulkan-drivers libvulkan1/);
    assertMatch(e.message, /--device cpu/);
  }
});

Deno.test("webgpu: options the device cannot honour are refused by name", async () => {
  const ck = makeTinyLlama();
  const source = { spec: ck.spec, tensors: ck.store };
  await assertRejects(
    () => loadModel(source, { device: "webgpu", threads: 2, cacheDir: false }),
    InputError,
    'threads does not apply to device "webgpu"',
  );
  await assertRejects(
    () => loadModel(source, { device: "cpu", precision: "float16", cacheDir: false }),
    InputError,
    'precision "float16" needs device "webgpu"',
  );
  await assertRejects(
    () => loadModel(source, { device: "cuda", precision: "float16", cacheDir: false }),
    InputError,
    "untested on onnxruntime's CUDA provider",
  );
});

Deno.test("webgpu: inputs over the 2 GiB a run can pass through wasm32 are refused by name", () => {
  const GiB = 1024 ** 3;
  const cache = (bytes: number) => ({ type: "float32", dims: [1, bytes / 4 / 1024, 8, 128] });
  // Measured: 2 × 1.0 GiB of inputs ran; 2 × 1.5 GiB failed.
  checkWebGpuFeeds({ past_key_0: cache(GiB), past_value_0: cache(GiB) });
  const e = assertThrows(
    () => checkWebGpuFeeds({ past_key_0: cache(1.5 * GiB), past_value_0: cache(GiB) }),
    InputError,
  );
  assertMatch(e.message, /feeds 2560 MiB from the CPU \(largest: past_key_0, 1536 MiB\)/);
  assertMatch(e.message, /--device cpu/);
  // A cache held on the GPU is not fed from the CPU: only the CPU-side inputs count.
  const onGpu = (bytes: number) => ({ ...cache(bytes), location: "gpu-buffer" });
  checkWebGpuFeeds({
    past_key_0: onGpu(1.5 * GiB),
    past_value_0: onGpu(1.5 * GiB),
    inputs_embeds: cache(GiB),
  });
});

Deno.test({
  name: "webgpu: a graph runs on the adapter, fed from views, empty tensors included",
  ignore: noAdapter,
  async fn() {
    console.log(`  adapter: ${adapter?.description}`);
    const s = await Session.create(scaler(), { device: "webgpu" });
    try {
      assertEquals(s.device, "webgpu");
      const buffer = Float32Array.from([1, 2, 3, 99]);
      const out = await s.run({ x: floatTensor(buffer.subarray(0, 3), [3]) });
      assertEquals([...(out.y.data as Float32Array)], [0.5, 1, 1.5]);
      const empty = await s.run({ x: floatTensor(new Float32Array(0), [0]) });
      assertEquals(empty.y.dims, [0]);
    } finally {
      await s.release();
    }
  },
});

Deno.test({
  name: "webgpu: the adapter reports its limits",
  ignore: noAdapter,
  fn() {
    assert(adapter!.maxStorageBufferBindingSize > 0 && adapter!.maxBufferSize > 0);
  },
});
