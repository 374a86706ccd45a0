/**
 * The `webgpu` device: onnxruntime-web's WebGPU execution provider on Deno's `navigator.gpu`.
 *
 * The same ONNX graphs as `cpu` run here. onnxruntime-web is loaded on first use, from its
 * `onnxruntime-web/webgpu` entry point (the bare specifier resolves to its Node build, which has
 * no WebGPU backend), with its CPU-side (wasm) part on one thread. Finding no adapter is an
 * {@link InputError} that says what to install; nothing ever falls back to the CPU.
 *
 * onnxruntime-web runs in 32-bit WebAssembly: no single tensor may reach 2 GiB, and the inputs and
 * outputs of one run that live on the CPU pass through its 4 GiB memory; see {@link WEBGPU_LIMITS}.
 * Inputs and outputs that stay on the GPU (the KV cache of `gpu_kv_cache.ts`) do not pass through
 * it. {@link webGpuTransfers} counts every byte that does cross.
 *
 * @example Which adapter would run a model
 * ```ts
 * import { findWebGpuAdapter } from "./webgpu.ts";
 *
 * const adapter = await findWebGpuAdapter();
 * console.log(adapter ? adapter.description : "no WebGPU adapter");
 * ```
 *
 * @module
 */
import type * as ort from "onnxruntime-web/webgpu";
import { InputError } from "../errors.ts";
import { toFloat16Model } from "./float16_model.ts";
import { initializerSizes, type ModelFiles, readModelFiles } from "./model_files.ts";

/** What the runtime knows about the WebGPU adapter sessions run on. */
export interface WebGpuAdapterInfo {
  /** Vendor (e.g. `"mesa"`, `"nvidia"`); may be empty. */
  vendor: string;
  /** Architecture (e.g. `"llvmpipe"`); may be empty. */
  architecture: string;
  /** Device name; may be empty. */
  device: string;
  /** Driver description (e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"`); may be empty. */
  description: string;
  /** True for a software adapter such as Mesa's llvmpipe (slow; for testing). */
  isFallbackAdapter: boolean;
  /** True when the adapter supports half-precision shaders (`shader-f16`). */
  shaderF16: boolean;
  /** Largest single GPU buffer in bytes. */
  maxBufferSize: number;
  /** Largest buffer one shader may bind, in bytes: the cap on any one weight or activation. */
  maxStorageBufferBindingSize: number;
}

/**
 * Size limits of onnxruntime-web 1.30 that hold on every adapter, whatever its memory (measured
 * on llvmpipe; see the README's device section).
 */
export const WEBGPU_LIMITS: {
  readonly tensorBytes: number;
  readonly wasmMemoryBytes: number;
  readonly runInputBytes: number;
} = {
  /**
   * Largest single tensor (a weight, an input, an output): sizes are 32-bit in wasm32, so a
   * 2.15 GiB weight fails with "Integer overflow" while a 2.00 GiB one loads. The weights in
   * all are not bounded by this: external data is uploaded tensor by tensor (4.5 GiB loaded).
   */
  tensorBytes: 2 ** 31 - 1,
  /**
   * onnxruntime-web's WebAssembly memory, through which the CPU-side inputs and outputs of each
   * run pass (a KV cache held on the CPU is fed at every step; one held on the GPU is not):
   * 2 × 1.0 GiB of inputs ran, 2 × 1.5 GiB failed.
   */
  wasmMemoryBytes: 4 * 1024 ** 3,
  /** The CPU-side inputs one run may take in all: the largest total measured to run. */
  runInputBytes: 2 * 1024 ** 3,
};

const TENSOR_ELEMENT_BYTES: Record<string, number> = {
  float32: 4,
  float16: 2,
  int64: 8,
  int32: 4,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** A tensor as far as sizes go: element type, dims and (onnxruntime) location. */
export interface TensorShapeInfo {
  /** Element type, e.g. `"float32"`. */
  readonly type: string;
  /** Dimensions. */
  readonly dims: readonly number[];
  /** `"gpu-buffer"` for a tensor on the GPU; CPU otherwise (also when absent). */
  readonly location?: string;
}

/** Bytes of a tensor's elements. */
export function tensorBytes(t: TensorShapeInfo): number {
  return t.dims.reduce((n, d) => n * d, 1) * (TENSOR_ELEMENT_BYTES[t.type] ?? 4);
}

/** Bytes moved between the CPU and the GPU, in each direction, since the process started. */
export interface WebGpuTransfers {
  /** CPU → GPU bytes: CPU-side run inputs and buffer writes. */
  uploadBytes: number;
  /** GPU → CPU bytes: CPU-side run outputs and buffer reads. */
  downloadBytes: number;
  /** Number of uploads (tensors or writes). */
  uploads: number;
  /** Number of downloads. */
  downloads: number;
  /** `queue.submit` calls made by GPU KV caches (copies, merges, reads), not by sessions. */
  cacheSubmits: number;
}

const transfers: WebGpuTransfers = {
  uploadBytes: 0,
  downloadBytes: 0,
  uploads: 0,
  downloads: 0,
  cacheSubmits: 0,
};

/**
 * A snapshot of the bytes moved between CPU and GPU so far (webgpu sessions and GPU caches);
 * subtract two snapshots to get what a step moved.
 *
 * @example What a span of work moved
 * ```ts
 * import { webGpuTransfers } from "./webgpu.ts";
 * const before = webGpuTransfers();
 * // … prefill, steps …
 * const after = webGpuTransfers();
 * console.log(after.uploadBytes - before.uploadBytes, after.downloadBytes - before.downloadBytes);
 * ```
 */
export function webGpuTransfers(): WebGpuTransfers {
  return { ...transfers };
}

/** Counts one `queue.submit` of GPU KV-cache work in {@link webGpuTransfers}. */
export function recordWebGpuSubmit(): void {
  transfers.cacheSubmits++;
}

/** Adds one transfer of `bytes` to {@link webGpuTransfers}. */
export function recordWebGpuTransfer(direction: "upload" | "download", bytes: number): void {
  if (direction === "upload") {
    transfers.uploadBytes += bytes;
    transfers.uploads++;
  } else {
    transfers.downloadBytes += bytes;
    transfers.downloads++;
  }
}

/**
 * Refuses, before a run, CPU-side inputs that onnxruntime-web cannot pass through its wasm32
 * memory (over {@link WEBGPU_LIMITS}.runInputBytes in all): an {@link InputError} naming the
 * largest input, instead of a run that fails obscurely or hangs. Inputs already on the GPU
 * (`gpu-buffer`) do not count.
 */
export function checkWebGpuFeeds(feeds: Record<string, TensorShapeInfo>): void {
  let total = 0;
  let largest = { name: "", bytes: 0 };
  for (const [name, t] of Object.entries(feeds)) {
    if (t.location === "gpu-buffer") continue;
    const bytes = tensorBytes(t);
    total += bytes;
    if (bytes > largest.bytes) largest = { name, bytes };
  }
  if (total <= WEBGPU_LIMITS.runInputBytes) return;
  throw new InputError(
    `device "webgpu": this run feeds ${mib(total)} from the CPU (largest: ${largest.name}, ${
      mib(largest.bytes)
    }), more than the ${mib(WEBGPU_LIMITS.runInputBytes)} onnxruntime-web passes through its ` +
      `32-bit WebAssembly memory; a KV cache held on the CPU (cacheLocation "cpu") is fed at ` +
      `every step: hold it on the GPU (the default on webgpu), keep fewer entries, or use ` +
      `--device cpu.`,
  );
}

/** The part of `navigator.gpu` the runtime uses (a parameter, so tests can pass their own). */
export interface GpuEntryPoint {
  /** `navigator.gpu.requestAdapter`. */
  requestAdapter(options?: GPURequestAdapterOptions): Promise<GPUAdapter | null>;
}

/** What to install when no adapter is found: printed in the error. */
export const WEBGPU_INSTALL_HINT: string =
  "On Debian or Ubuntu install a Vulkan loader and driver: apt-get install mesa-vulkan-drivers " +
  "libvulkan1 (Mesa's software adapter, llvmpipe, runs anywhere but slowly; on a GPU machine use " +
  "its vendor's Vulkan driver). Or run with --device cpu.";

let adapterPromise: Promise<GPUAdapter | null> | undefined;
let ortPromise: Promise<typeof ort> | undefined;

/**
 * The WebGPU adapter (found once per process), or `null` when there is none.
 *
 * @param gpu where to ask (default `navigator.gpu`; `null`: there is none); tests pass stand-ins
 */
export async function findWebGpuAdapter(
  gpu: GpuEntryPoint | null = globalThis.navigator?.gpu ?? null,
): Promise<WebGpuAdapterInfo | null> {
  const adapter = await requestAdapter(gpu);
  return adapter ? describeAdapter(adapter) : null;
}

/**
 * The WebGPU adapter, or an {@link InputError} saying what to install when there is none.
 *
 * @param gpu where to ask (default `navigator.gpu`; `null`: there is none); tests pass stand-ins
 */
export async function requireWebGpuAdapter(
  gpu: GpuEntryPoint | null = globalThis.navigator?.gpu ?? null,
): Promise<WebGpuAdapterInfo> {
  if (!gpu) {
    throw new InputError(
      `device "webgpu" needs WebGPU, but this runtime has no navigator.gpu (Deno 2 on Linux, ` +
        `macOS or Windows has it). ${WEBGPU_INSTALL_HINT}`,
    );
  }
  const info = await findWebGpuAdapter(gpu);
  if (info) return info;
  throw new InputError(
    `device "webgpu" found no WebGPU adapter (navigator.gpu.requestAdapter() returned none). ` +
      WEBGPU_INSTALL_HINT,
  );
}

function requestAdapter(gpu: GpuEntryPoint | null): Promise<GPUAdapter | null> {
  if (!gpu) return Promise.resolve(null);
  // Only the real entry point is cached: stand-ins get a fresh answer each call.
  if (gpu !== globalThis.navigator?.gpu) return gpu.requestAdapter();
  quietVulkanLoader();
  adapterPromise ??= gpu.requestAdapter().catch(() => null);
  return adapterPromise;
}

/**
 * Mesa's Vulkan driver prints "XDG_RUNTIME_DIR is invalid or not set" when the variable is
 * unset (headless machines, CI). It only needs a private directory to exist; nothing of this
 * process uses it, so pointing an unset variable at a fresh private temporary one is harmless.
 */
function quietVulkanLoader(): void {
  try {
    if (Deno.env.get("XDG_RUNTIME_DIR")) return;
    Deno.env.set("XDG_RUNTIME_DIR", Deno.makeTempDirSync({ prefix: "prefixkv-xdg-" }));
  } catch {
    // Without env or write permission the warning stays; it changes nothing else.
  }
}

function describeAdapter(adapter: GPUAdapter): WebGpuAdapterInfo {
  const info = adapter.info;
  return {
    vendor: info?.vendor ?? "",
    architecture: info?.architecture ?? "",
    device: info?.device ?? "",
    description: info?.description ?? "",
    isFallbackAdapter: Boolean(
      (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ??
        (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
    ),
    shaderF16: adapter.features.has("shader-f16"),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

/** One line naming the adapter, for test output and provenance. */
export function adapterLabel(info: WebGpuAdapterInfo): string {
  const name = info.description || [info.vendor, info.architecture, info.device]
    .filter((s) => s !== "").join(" ") ||
    "unnamed adapter";
  return `${name}${info.isFallbackAdapter ? " (software fallback adapter)" : ""}${
    info.shaderF16 ? ", shader-f16" : ""
  }`;
}

/**
 * onnxruntime-web's WebGPU build, configured for Deno: one wasm thread, and the adapter
 * {@link requireWebGpuAdapter} found (so a missing one is reported with what to install).
 */
export async function webGpuRuntime(): Promise<typeof ort> {
  await requireWebGpuAdapter();
  ortPromise ??= (async () => {
    const runtime = await import("onnxruntime-web/webgpu");
    runtime.env.wasm.numThreads = 1; // Deno has no cross-origin-isolated workers for wasm threads
    runtime.env.logLevel = "error";
    const adapter = await requestAdapter(globalThis.navigator.gpu);
    if (adapter) runtime.env.webgpu.adapter = adapter;
    return runtime;
  })();
  return ortPromise;
}

/** The GPU device onnxruntime-web created (after the first session), for buffer work. */
export async function webGpuDevice(): Promise<GPUDevice> {
  const runtime = await webGpuRuntime();
  const device = (await runtime.env.webgpu.device) as GPUDevice | undefined;
  if (!device) {
    throw new Error("webGpuDevice: onnxruntime-web has no GPU device before its first session");
  }
  return device;
}

/**
 * Makes float32 onnxruntime-web tensors over the first elements of GPU buffers (no copy), to
 * feed a session inputs that already live on the GPU.
 */
export async function gpuTensorMaker(): Promise<
  (buffer: GPUBuffer, dims: readonly number[]) => ort.Tensor
> {
  const runtime = await webGpuRuntime();
  return (buffer, dims) => runtime.Tensor.fromGpuBuffer(buffer, { dataType: "float32", dims });
}

/** Numeric precision of a `webgpu` session's weights and activations. */
export type Precision = "float32" | "float16";

/** Every {@link Precision}. */
export const PRECISIONS: readonly Precision[] = ["float32", "float16"];

/** Options of {@link createWebGpuInferenceSession}. */
export interface WebGpuSessionOptions {
  /**
   * `"float32"` (default) runs the graph as built; `"float16"` converts weights and activations
   * to half precision (see `toFloat16Model`) and needs an adapter with `shader-f16`.
   */
  precision?: Precision;
  /** Outputs left on the GPU (`preferredOutputLocation: "gpu-buffer"`); the rest come back. */
  gpuOutputs?: readonly string[];
}

/**
 * An onnxruntime-web inference session on the WebGPU execution provider, from serialised bytes
 * or from a model path whose external data files (ONNX `location` entries) lie next to it.
 */
export async function createWebGpuInferenceSession(
  model: string | Uint8Array,
  options: WebGpuSessionOptions = {},
): Promise<ort.InferenceSession> {
  const precision = options.precision ?? "float32";
  const runtime = await webGpuRuntime();
  const adapter = (await findWebGpuAdapter())!;
  if (precision === "float16" && !adapter.shaderF16) {
    throw new InputError(
      `precision "float16" needs an adapter with shader-f16; ${adapterLabel(adapter)} has none. ` +
        `Use precision "float32".`,
    );
  }
  let loaded = typeof model === "string" ? await readModelFiles(model) : { model, external: [] };
  if (precision === "float16") loaded = toFloat16Model(loaded);
  checkTensorSizes(loaded);
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: ["webgpu"],
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    externalData: loaded.external.map((e) => ({ path: e.path, data: e.data })),
  };
  if (options.gpuOutputs && options.gpuOutputs.length > 0) {
    sessionOptions.preferredOutputLocation = Object.fromEntries(
      options.gpuOutputs.map((name) => [name, "gpu-buffer" as const]),
    );
  }
  try {
    return await runtime.InferenceSession.create(loaded.model, sessionOptions);
  } catch (err) {
    const first = String((err as Error)?.message ?? err).split("\n")[0];
    throw new InputError(
      `device "webgpu": onnxruntime-web could not create the session on ${
        adapterLabel(adapter)
      } (${first}). A weight or activation larger than the adapter's ` +
        `maxStorageBufferBindingSize (${
          mib(adapter.maxStorageBufferBindingSize)
        }) cannot be bound; see the README's device section for the size limits.`,
    );
  }
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 1024 ** 2)} MiB`;
}

/** Refuses, before loading, a model with a weight too large for onnxruntime-web's wasm32. */
function checkTensorSizes(files: ModelFiles): void {
  for (const { name, bytes } of initializerSizes(files.model)) {
    if (bytes <= WEBGPU_LIMITS.tensorBytes) continue;
    throw new InputError(
      `device "webgpu": weight ${name} takes ${mib(bytes)}; onnxruntime-web (32-bit ` +
        `WebAssembly) cannot hold a tensor of 2 GiB or more. Use precision "float16" to halve ` +
        `it, or --device cpu.`,
    );
  }
}
