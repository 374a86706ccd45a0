/**
 * KV-cache rows in GPU buffers, for `webgpu` models: a {@link KvStorage} whose layers are two
 * GPU buffers (keys, values) with spare capacity, laid out like the CPU rows
 * (`[capacity, batch, kvHeads, headDim]`), so a layer's first `length` rows are the prefix the
 * decoder reads as a GPU tensor, and new entries (the decoder's GPU outputs) are appended with
 * a buffer-to-buffer copy. Nothing of a layer crosses to the CPU on a decode step.
 *
 * Retention runs on the GPU too: `keep` and `evict` are buffer copies (through one scratch
 * buffer per device, since WebGPU copies never read and write the same buffer), and `merge`
 * is one compute pass per buffer that averages each anchor's members (float32 sums; the CPU
 * storage sums in float64). Only index lists (4 bytes per merged entry) are uploaded. Reading a
 * layer back ({@link KvCache.read}) is the one cache-sized transfer, and it is counted.
 *
 * Copies and merge passes are not submitted one by one: they are recorded into the context's
 * one pending command encoder, and {@link GpuKvContext.flush} submits them all at once. Reads,
 * CPU writes and closing flush first; the model flushes before each run (the decoder must see
 * the retention pass) and after a step's appends (before the decoder's outputs are disposed),
 * so a decode step makes one submit for its appends and one for its retention pass. Buffers
 * freed while work is pending are destroyed after that work is submitted.
 *
 * Every CPU↔GPU transfer made here or by a `webgpu` session is added to the process-wide
 * counts of {@link webGpuTransfers}, so tests and benchmarks can show what a step moves; the
 * submits made here are counted there too (`cacheSubmits`).
 *
 * @example Make GPU storage once the decoder has created onnxruntime-web's device
 * ```ts
 * import { GpuKvContext } from "./gpu_kv_cache.ts";
 * import { KvCache } from "./kv_cache.ts";
 * import { webGpuDevice } from "./webgpu.ts";
 *
 * const gpu = new GpuKvContext();
 * gpu.bind(await webGpuDevice());
 * const cache = new KvCache({ numLayers: 2, numKvHeads: 1, headDim: 4 }, 32, gpu.storage);
 * console.log(cache.location); // "gpu"
 * gpu.flush(); // submit what is recorded (reads and the model's runs do this themselves)
 * ```
 *
 * @module
 */
import { InputError } from "../errors.ts";
import type { KvRowStorage, KvStorage, RowData, RowMerge, RowMove } from "./kv_cache.ts";
import { recordWebGpuSubmit, recordWebGpuTransfer } from "./webgpu.ts";

const F32 = 4;

/** Averages each anchor slot's members; one invocation per output float (grid-stride loop). */
const MERGE_SHADER = /* wgsl */ `
struct Params { slots: u32, batch: u32, row: u32, sample: u32 }
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read> offsets: array<u32>;
@group(0) @binding(3) var<storage, read> members: array<u32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>,
        @builtin(num_workgroups) groups: vec3<u32>) {
  let total = p.slots * p.row;
  for (var i = gid.x; i < total; i += groups.x * 64u) {
    let k = i / p.row;
    let j = i % p.row;
    let first = offsets[k];
    let last = offsets[k + 1u];
    var sum = 0.0;
    for (var m = first; m < last; m++) {
      sum += src[(members[m] * p.batch + p.sample) * p.row + j];
    }
    dst[(k * p.batch + p.sample) * p.row + j] = sum / f32(last - first);
  }
}`;

/**
 * The GPU side that a model's caches share: the device (onnxruntime-web's, bound once its
 * first session exists), one scratch buffer, and the merge pipeline.
 */
export class GpuKvContext {
  #device: GPUDevice | null = null;
  #scratch: GPUBuffer | null = null;
  #merge: GPUComputePipeline | null = null;
  #closed = false;
  #pending: GPUCommandEncoder | null = null;
  /** Buffers freed while recorded work may still use them: destroyed after the next submit. */
  #freed: GPUBuffer[] = [];

  /** GPU storage for {@link KvCache}: every layer in two buffers on this context's device. */
  readonly storage: KvStorage = (floats) => new GpuRows(this, floats);

  /** Uses `device` (the one the sessions run on: buffers cannot cross devices). */
  bind(device: GPUDevice): void {
    if (this.#closed) throw closedError();
    if (this.#device && this.#device !== device) {
      throw new Error("GpuKvContext.bind: already bound to another GPU device");
    }
    this.#device = device;
  }

  /** Whether {@link GpuKvContext.release} closed this context (its model was closed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** The bound device; an error before the model's first session created it. */
  get device(): GPUDevice {
    if (this.#closed) throw closedError();
    if (!this.#device) {
      throw new Error(
        `a GPU KV cache needs onnxruntime-web's GPU device, which exists once the model's ` +
          `first session is loaded: await model.prepare(...) (or run a prefill) before ` +
          `model.newCache() on a webgpu model`,
      );
    }
    return this.#device;
  }

  /** The pending command encoder, which {@link GpuKvContext.flush} submits; opened on demand. */
  encoder(): GPUCommandEncoder {
    this.#pending ??= this.device.createCommandEncoder({ label: "prefixkv kv work" });
    return this.#pending;
  }

  /** Whether recorded work awaits {@link GpuKvContext.flush}. */
  get pending(): boolean {
    return this.#pending !== null;
  }

  /**
   * Submits everything recorded since the last flush in one `queue.submit`, then destroys the
   * buffers freed meanwhile. Nothing to do when nothing is recorded.
   */
  flush(): void {
    const pending = this.#pending;
    this.#pending = null;
    if (pending) {
      this.device.queue.submit([pending.finish()]);
      recordWebGpuSubmit();
    }
    for (const b of this.#freed.splice(0)) b.destroy();
  }

  /** Destroys `buffer`, after the pending work (which may use it) is submitted. */
  free(buffer: GPUBuffer): void {
    if (this.#pending) this.#freed.push(buffer);
    else buffer.destroy();
  }

  /** A buffer of at least `bytes` for rearranging a layer (grown on demand, then kept). */
  scratch(bytes: number): GPUBuffer {
    if (!this.#scratch || this.#scratch.size < bytes) {
      if (this.#scratch) this.free(this.#scratch);
      this.#scratch = this.createBuffer(bytes, "prefixkv kv scratch");
    }
    return this.#scratch;
  }

  /** A storage/copy buffer of `bytes` (at least 4), refused by name above the device's limits. */
  createBuffer(bytes: number, label: string): GPUBuffer {
    const limits = this.device.limits;
    const limit = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
    if (bytes > limit) {
      throw new InputError(
        `device "webgpu": a KV-cache layer of ${mib(bytes)} exceeds this GPU's largest ` +
          `bindable buffer (${mib(limit)}); keep fewer entries (a smaller budget or shorter ` +
          `output), or hold the cache on the CPU (cacheLocation "cpu")`,
      );
    }
    const U = GPUBufferUsage;
    return this.device.createBuffer({
      label,
      size: Math.max(F32, bytes),
      usage: U.STORAGE | U.COPY_SRC | U.COPY_DST,
    });
  }

  /** The merge compute pipeline (compiled on first use). */
  get mergePipeline(): GPUComputePipeline {
    this.#merge ??= this.device.createComputePipeline({
      label: "prefixkv kv merge",
      layout: "auto",
      compute: {
        module: this.device.createShaderModule({ code: MERGE_SHADER }),
        entryPoint: "main",
      },
    });
    return this.#merge;
  }

  /**
   * Frees the scratch buffer and closes the context, as `model.close()` does once it has
   * moved its caches to the CPU (closing gives up the device): GPU rows still on it are then
   * refused with an {@link InputError} naming `model.close()`, rather than failing WebGPU's
   * validation.
   */
  release(): void {
    if (!this.#closed && this.#device) this.flush();
    this.#scratch?.destroy();
    this.#scratch = null;
    this.#merge = null;
    this.#closed = true;
  }
}

/** One layer's keys and values in two GPU buffers. */
export class GpuRows implements KvRowStorage {
  /** Always `"gpu"`. */
  readonly location = "gpu" as const;
  /** The keys buffer (`floats` floats used of its size). */
  readonly keys: GPUBuffer;
  /** The values buffer. */
  readonly values: GPUBuffer;

  /** Two buffers of `floats` floats on `context`'s device. */
  constructor(readonly context: GpuKvContext, readonly floats: number) {
    this.keys = context.createBuffer(floats * F32, "prefixkv kv keys");
    this.values = context.createBuffer(floats * F32, "prefixkv kv values");
  }

  /** Sources to scratch at their destinations, then back: a snapshot, as compaction needs. */
  move(moves: readonly RowMove[]): void {
    const real = moves.filter((m) => m.from !== m.to && m.count > 0);
    if (real.length === 0) return;
    const end = real.reduce((e, m) => Math.max(e, m.to + m.count), 0);
    const scratch = this.context.scratch(end * F32);
    const back = coalesce(real.map((m) => ({ at: m.to, count: m.count })));
    const encoder = this.context.encoder();
    for (const buffer of [this.keys, this.values]) {
      for (const m of real) {
        encoder.copyBufferToBuffer(buffer, m.from * F32, scratch, m.to * F32, m.count * F32);
      }
      for (const r of back) {
        encoder.copyBufferToBuffer(scratch, r.at * F32, buffer, r.at * F32, r.count * F32);
      }
    }
  }

  /** New buffers holding the first `used` floats (a GPU copy); these buffers are destroyed. */
  resized(floats: number, used: number): GpuRows {
    const out = new GpuRows(this.context, floats);
    if (used > 0) {
      const encoder = this.context.encoder();
      encoder.copyBufferToBuffer(this.keys, 0, out.keys, 0, used * F32);
      encoder.copyBufferToBuffer(this.values, 0, out.values, 0, used * F32);
    }
    this.release();
    return out;
  }

  /**
   * A GPU copy from GPU buffers (recorded); an upload (counted) from CPU floats, after the
   * recorded work is submitted (queue writes run before any later submit).
   */
  write(at: number, keys: RowData, values: RowData, count: number): void {
    if (count === 0) return;
    const device = this.context.device;
    if (keys instanceof Float32Array && values instanceof Float32Array) {
      this.context.flush();
      device.queue.writeBuffer(this.keys, at * F32, keys as Float32Array<ArrayBuffer>, 0, count);
      device.queue.writeBuffer(
        this.values,
        at * F32,
        values as Float32Array<ArrayBuffer>,
        0,
        count,
      );
      recordWebGpuTransfer("upload", 2 * count * F32);
      return;
    }
    if (keys instanceof Float32Array || values instanceof Float32Array) {
      throw new Error("GpuRows.write: keys and values must both be CPU floats or both GPU buffers");
    }
    const encoder = this.context.encoder();
    encoder.copyBufferToBuffer(keys.gpuBuffer, 0, this.keys, at * F32, count * F32);
    encoder.copyBufferToBuffer(values.gpuBuffer, 0, this.values, at * F32, count * F32);
  }

  /** The layer's rows to scratch, then one compute pass writing the means back, per buffer. */
  merge(plan: RowMerge): void {
    const { device } = this.context;
    const slots = plan.offsets.length - 1;
    if (slots === 0) return;
    const used = rowsUsed(plan);
    const scratch = this.context.scratch(used * F32);
    const offsets = this.#upload(plan.offsets, GPUBufferUsage.STORAGE);
    const members = this.#upload(plan.members, GPUBufferUsage.STORAGE);
    const params = this.#upload(
      Uint32Array.of(slots, plan.batch, plan.rowSize, plan.sample),
      GPUBufferUsage.UNIFORM,
    );
    const pipeline = this.context.mergePipeline;
    const groups = Math.min(65535, Math.ceil((slots * plan.rowSize) / 64));
    const encoder = this.context.encoder();
    for (const buffer of [this.keys, this.values]) {
      encoder.copyBufferToBuffer(buffer, 0, scratch, 0, used * F32);
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(
        0,
        device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: [scratch, buffer, offsets, members, params].map((b, binding) => ({
            binding,
            resource: { buffer: b },
          })),
        }),
      );
      pass.dispatchWorkgroups(groups);
      pass.end();
    }
    for (const b of [offsets, members, params]) this.context.free(b);
  }

  /** Floats `[at, at + count)` of keys and values read back to the CPU (counted). */
  async read(at: number, count: number): Promise<{ keys: Float32Array; values: Float32Array }> {
    const device = this.context.device;
    const bytes = count * F32;
    if (bytes === 0) return { keys: new Float32Array(0), values: new Float32Array(0) };
    const staging = [0, 1].map(() =>
      device.createBuffer({
        label: "prefixkv kv read",
        size: bytes,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      })
    );
    // After what is recorded, in the same submit.
    const encoder = this.context.encoder();
    encoder.copyBufferToBuffer(this.keys, at * F32, staging[0], 0, bytes);
    encoder.copyBufferToBuffer(this.values, at * F32, staging[1], 0, bytes);
    this.context.flush();
    const [keys, values] = await Promise.all(staging.map(async (b) => {
      await b.mapAsync(GPUMapMode.READ);
      const copy = new Float32Array(b.getMappedRange().slice(0));
      b.unmap();
      b.destroy();
      return copy;
    }));
    recordWebGpuTransfer("download", 2 * bytes);
    return { keys, values };
  }

  /** Destroys both buffers (once recorded work that uses them is submitted). */
  release(): void {
    this.context.free(this.keys);
    this.context.free(this.values);
  }

  /** A small buffer holding `data` (counted as an upload). */
  #upload(data: Uint32Array, usage: number): GPUBuffer {
    const buffer = this.context.device.createBuffer({
      size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
      usage: usage | GPUBufferUsage.COPY_DST,
    });
    this.context.device.queue.writeBuffer(buffer, 0, data as Uint32Array<ArrayBuffer>);
    recordWebGpuTransfer("upload", data.byteLength);
    return buffer;
  }
}

/** Floats a merge reads: up to the last member's row (all samples of a row). */
function rowsUsed(plan: RowMerge): number {
  let last = 0;
  for (const m of plan.members) last = Math.max(last, m);
  const slots = plan.offsets.length - 1;
  return (Math.max(last, slots - 1) + 1) * plan.batch * plan.rowSize;
}

/** Adjacent ranges joined into one (ranges sorted by `at`). */
function coalesce(ranges: { at: number; count: number }[]): { at: number; count: number }[] {
  const out: { at: number; count: number }[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && last.at + last.count === r.at) last.count += r.count;
    else out.push({ ...r });
  }
  return out;
}

function closedError(): InputError {
  return new InputError(
    `this GPU KV cache's model was closed (model.close()), which gives up the GPU device its ` +
      `buffers lived on; the caches the model made were moved to the CPU then, but this GPU ` +
      `storage was not one of them. Read what you need before closing (await cache.read(l), ` +
      `or await cache.moveToCpu()), or hold caches on the CPU (cacheLocation "cpu", ` +
      `--kv-location cpu); a model's new caches need a model that is not closed (loadModel)`,
  );
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}
