/**
 * A device-neutral wrapper over an onnxruntime-node inference session.
 *
 * `cpu` runs on the CPU execution provider. `cuda` selects the CUDA execution provider only —
 * when its libraries are missing (the npm package ships CPU binaries only, and Deno does not run
 * the package's install script that downloads them) session creation fails with an
 * {@link InputError} saying so and how to install them. `webgpu` runs the same graphs through
 * onnxruntime-web's WebGPU provider (see `webgpu.ts`). No device ever falls back to the CPU.
 *
 * @module
 */
import "../ort_telemetry.ts"; // first: before onnxruntime-node loads its native library
import * as ort from "onnxruntime-node";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../errors.ts";
import { checkLimit, LIMITS } from "../limits.ts";
import {
  checkWebGpuFeeds,
  createWebGpuInferenceSession,
  type Precision,
  recordWebGpuTransfer,
  tensorBytes,
} from "./webgpu.ts";

/** Where a model runs. */
export type Device = "cpu" | "cuda" | "webgpu";

/** Every supported {@link Device}. */
export const DEVICES: readonly Device[] = ["cpu", "cuda", "webgpu"];

/** Options of {@link Session.create}. */
export interface SessionOptions {
  /** Execution device (default `"cpu"`). */
  device?: Device;
  /** Intra-op threads (default: onnxruntime's choice, one per core); not for `webgpu`. */
  threads?: number;
  /** Weights and activations: `"float32"` (default), or `"float16"` on `webgpu` only. */
  precision?: Precision;
  /** `webgpu`: outputs left on the GPU (`gpu-buffer`), e.g. cache entries fed back. */
  gpuOutputs?: readonly string[];
}

/** A tensor as the runtime passes it: onnxruntime's own type. */
export type RuntimeTensor = ort.Tensor;

/** Creates a float32 runtime tensor over `data` (no copy). */
export function floatTensor(data: Float32Array, dims: readonly number[]): RuntimeTensor {
  return new ort.Tensor("float32", data, dims);
}

/** Creates an int64 runtime tensor from integers. */
export function int64Tensor(values: ArrayLike<number>, dims: readonly number[]): RuntimeTensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor("int64", data, dims);
}

/** Checks that `device` names a supported device; throws an {@link InputError} otherwise. */
export function parseDevice(device: string): Device {
  if ((DEVICES as readonly string[]).includes(device)) return device as Device;
  throw new InputError(`unknown device "${device}"; use one of: ${DEVICES.join(", ")}`);
}

/** The shared libraries the CUDA execution provider needs next to onnxruntime-node's binding. */
export function cudaProviderLibraries(): {
  dir: string | null;
  required: string[];
  missing: string[];
} {
  const isWindows = Deno.build.os === "windows";
  const required = isWindows
    ? ["onnxruntime_providers_shared.dll", "onnxruntime_providers_cuda.dll"]
    : ["libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"];
  const dir = ortBinaryDir();
  if (dir === null) return { dir, required, missing: required };
  const missing = required.filter((f) => !existsSync(join(dir, f)));
  return { dir, required, missing };
}

function ortBinaryDir(): string | null {
  if (Deno.build.os !== "linux" && Deno.build.os !== "windows") return null;
  const arch = Deno.build.arch === "x86_64" ? "x64" : "arm64";
  try {
    // …/onnxruntime-node/dist/index.js → …/onnxruntime-node/bin/napi-v6/<os>/<arch>
    const pkg = dirname(dirname(fileURLToPath(import.meta.resolve("onnxruntime-node"))));
    const os = Deno.build.os === "windows" ? "win32" : "linux";
    return join(pkg, "bin", "napi-v6", os, arch);
  } catch {
    return null;
  }
}

/**
 * Throws an {@link InputError} explaining how to get CUDA support when `device` is `cuda` and the
 * CUDA execution provider is not installed.
 */
export function assertDeviceAvailable(device: Device): void {
  if (device !== "cuda") return;
  if (Deno.build.os !== "linux" && Deno.build.os !== "windows") {
    throw new InputError(
      `device "cuda" is not available on ${Deno.build.os}: onnxruntime-node has CUDA support on ` +
        `Linux and Windows x64 only; use --device cpu`,
    );
  }
  const { dir, missing } = cudaProviderLibraries();
  if (missing.length === 0) return;
  throw new InputError(
    `device "cuda" needs onnxruntime-node's CUDA execution provider, but ${
      missing.join(" and ")
    } ` +
      `${missing.length > 1 ? "are" : "is"} missing from ${
        dir ?? "the onnxruntime-node package"
      }. ` +
      `The npm package ships CPU binaries only; its install script downloads the CUDA 12 provider, ` +
      `and Deno skips install scripts unless allowed. To get it (needs network access to the NuGet ` +
      `feed): ONNXRUNTIME_NODE_INSTALL=cuda12 deno install --allow-scripts=npm:onnxruntime-node, ` +
      `with CUDA 12 and cuDNN 9 libraries on LD_LIBRARY_PATH. Or run with --device cpu.`,
  );
}

/** Refuses options the device cannot honour (rather than ignoring them). */
export function checkDeviceOptions(
  device: Device,
  options: Pick<SessionOptions, "threads" | "precision">,
): void {
  if (device === "webgpu" && options.threads !== undefined) {
    throw new InputError(
      `threads does not apply to device "webgpu" (the GPU runs the graph; onnxruntime-web's ` +
        `CPU part runs on one wasm thread); leave --threads out`,
    );
  }
  if (device !== "webgpu" && (options.precision ?? "float32") !== "float32") {
    // cuda could compute in half precision too, but these graphs have never run on
    // onnxruntime's CUDA provider (no machine here has it), so it is refused, not guessed.
    const why = device === "cuda"
      ? "the half-precision graphs are untested on onnxruntime's CUDA provider, so cuda runs " +
        "float32 only for now; use --weights int8|int4 to save memory on cuda"
      : `${device} runs float32 only (the CPU provider would keep float32 copies of half ` +
        "weights); use --weights int8|int4 to save memory";
    throw new InputError(
      `precision "${options.precision}" needs device "webgpu" (with shader-f16): ${why}`,
    );
  }
}

/** One loaded graph, ready to run. */
export class Session {
  readonly #session: ort.InferenceSession;

  private constructor(session: ort.InferenceSession, readonly device: Device) {
    this.#session = session;
  }

  /**
   * Loads a graph from a file path (required when it has external data, which is resolved
   * next to the file) or from serialised bytes.
   */
  static async create(model: string | Uint8Array, options: SessionOptions = {}): Promise<Session> {
    const device = options.device ?? "cpu";
    assertDeviceAvailable(device);
    checkDeviceOptions(device, options);
    if (device === "webgpu") {
      return new Session(await createWebGpuInferenceSession(model, options), device);
    }
    const opts: ort.InferenceSession.SessionOptions = {
      executionProviders: [device],
      graphOptimizationLevel: "all",
      logSeverityLevel: 3,
    };
    if (options.threads !== undefined) checkLimit("threads", options.threads, LIMITS.threads);
    if (options.threads !== undefined) opts.intraOpNumThreads = options.threads;
    let session: ort.InferenceSession;
    try {
      session = typeof model === "string"
        ? await ort.InferenceSession.create(model, opts)
        : await ort.InferenceSession.create(model, opts);
    } catch (err) {
      if (device === "cuda") {
        const first = String((err as Error)?.message ?? err).split("\n")[0];
        throw new InputError(
          `device "cuda": onnxruntime could not start the CUDA execution provider (${first}). ` +
            `Check that CUDA 12 and cuDNN 9 libraries are on LD_LIBRARY_PATH and a GPU is ` +
            `visible, or run with --device cpu.`,
        );
      }
      throw err;
    }
    return new Session(session, device);
  }

  /** Names of the graph's inputs. */
  get inputNames(): readonly string[] {
    return this.#session.inputNames;
  }

  /** Names of the graph's outputs. */
  get outputNames(): readonly string[] {
    return this.#session.outputNames;
  }

  /**
   * Runs the graph; `fetches` limits the outputs copied back (default: all). On `webgpu`, the
   * bytes of CPU-side inputs and outputs are added to `webGpuTransfers` (GPU-side ones,
   * `gpu-buffer` tensors, cross nothing).
   */
  async run(
    feeds: Record<string, RuntimeTensor>,
    fetches?: readonly string[],
  ): Promise<Record<string, RuntimeTensor>> {
    if (this.device !== "webgpu") {
      return fetches ? this.#session.run(feeds, [...fetches]) : this.#session.run(feeds);
    }
    checkWebGpuFeeds(feeds);
    for (const t of Object.values(feeds)) {
      if (t.location !== "gpu-buffer") recordWebGpuTransfer("upload", tensorBytes(t));
    }
    const out = fetches
      ? await this.#session.run(feeds, [...fetches])
      : await this.#session.run(feeds);
    for (const t of Object.values(out)) {
      if (t.location !== "gpu-buffer") recordWebGpuTransfer("download", tensorBytes(t));
    }
    return out;
  }

  /** Frees the native session. */
  async release(): Promise<void> {
    await this.#session.release();
  }
}
