/**
 * A lazy reader for the safetensors format: only the 8-byte length and the JSON header are read
 * when a file is opened; each tensor's bytes are read on demand with seek + read, so a 14 GB
 * checkpoint costs a few megabytes until tensors are asked for.
 *
 * Layout (little-endian): `u64 n`, then `n` bytes of JSON `{name: {dtype, shape, data_offsets},
 * "__metadata__"?: {string: string}}`, then the data section; `data_offsets` are relative to the
 * start of the data section.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { CheckpointError, fileProblem } from "../errors.ts";
import { toFloat16 } from "./float16.ts";
import {
  checkShape,
  type StoredRegion,
  type TensorDtype,
  type TensorInfo,
  type TensorStore,
} from "./tensor_store.ts";

/** Bytes per element of every dtype this reader accepts. */
export const DTYPE_BYTES: Readonly<Record<TensorDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Element types {@link SafetensorsFile.getF32} converts to float32. */
export const FLOAT_DTYPES: readonly TensorDtype[] = ["F32", "F16", "BF16", "F64"];

/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's entry in the header, with offsets made absolute within the file. */
interface Entry {
  dtype: TensorDtype;
  shape: number[];
  /** Absolute byte offsets in the file, `[begin, end)`. */
  begin: number;
  end: number;
}

/** An open safetensors file; implements {@link TensorStore}. Call `close()` when done. */
export class SafetensorsFile implements TensorStore {
  /** The file's path, as given to {@link openSafetensors}. */
  readonly path: string;
  /** The header's `__metadata__` (string → string), empty when absent. */
  readonly metadata: Readonly<Record<string, string>>;
  #file: Deno.FsFile | null;
  #entries: Map<string, Entry>;

  /** Use {@link openSafetensors}. */
  constructor(
    path: string,
    file: Deno.FsFile,
    entries: Map<string, Entry>,
    metadata: Record<string, string>,
  ) {
    this.path = path;
    this.#file = file;
    this.#entries = entries;
    this.metadata = metadata;
  }

  /** All tensor names, sorted. */
  names(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /** Info for `name`, or `undefined` when absent. */
  info(name: string): TensorInfo | undefined {
    const e = this.#entries.get(name);
    return e && { name, dtype: e.dtype, shape: [...e.shape] };
  }

  /** Reads a tensor's raw little-endian bytes. */
  readBytes(name: string): Uint8Array {
    const e = this.#entry(name);
    const file = this.#file;
    if (!file) throw new CheckpointError(`${this.path}: read of tensor ${name} after close()`);
    const out = new Uint8Array(e.end - e.begin);
    file.seekSync(e.begin, Deno.SeekMode.Start);
    let done = 0;
    while (done < out.length) {
      const n = file.readSync(out.subarray(done));
      if (n === null || n === 0) {
        throw new CheckpointError(
          `${this.path}: file ended while reading tensor ${name} (got ${done} of ${out.length} ` +
            `bytes); the file is truncated — download or convert it again`,
        );
      }
      done += n;
    }
    return out;
  }

  /** Reads a floating-point tensor as float32; throws when absent or of another shape. */
  getF32(name: string, expectedShape?: readonly number[]): Float32Array {
    const e = this.#entry(name);
    checkShape(name, this.path, e.shape, expectedShape);
    if (!FLOAT_DTYPES.includes(e.dtype)) {
      throw new CheckpointError(
        `${this.path}: tensor ${name} has dtype ${e.dtype}, which cannot be read as float ` +
          `(supported: ${FLOAT_DTYPES.join(", ")})`,
      );
    }
    return toFloat32(e.dtype, this.readBytes(name));
  }

  /**
   * Reads a floating-point tensor as float16: F16 as stored (no float32 copy), other float
   * types through one float32 copy, rounded to nearest (BF16 → float32 is exact, so BF16 is
   * rounded once); a value beyond float16's range is an error naming the tensor and the file.
   */
  getF16(name: string, expectedShape?: readonly number[]): Float16Array {
    const e = this.#entry(name);
    checkShape(name, this.path, e.shape, expectedShape);
    if (e.dtype === "F16") return new Float16Array(this.readBytes(name).buffer as ArrayBuffer);
    return toFloat16(this.getF32(name), `${this.path}: tensor ${name} (${e.dtype})`);
  }

  /** Where the tensor's bytes lie in this file (absolute path), or undefined when absent. */
  region(name: string): StoredRegion | undefined {
    const e = this.#entries.get(name);
    return e &&
      { path: resolve(this.path), offset: e.begin, length: e.end - e.begin, dtype: e.dtype };
  }

  /** Releases open files. */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }

  #entry(name: string): Entry {
    const e = this.#entries.get(name);
    if (!e) throw new CheckpointError(`${this.path}: tensor ${name} is missing`);
    return e;
  }
}

/**
 * Opens a safetensors file and validates its header: sane length, JSON object, every entry with
 * a known dtype, an integer shape and `data_offsets` that lie inside the data section, match
 * dtype size × element count and do not overlap. Throws {@link CheckpointError} naming the file.
 */
export function openSafetensors(path: string): SafetensorsFile {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new CheckpointError(`${path}: weights file not found`);
    }
    throw new CheckpointError(`${path}: cannot open weights file: ${(err as Error).message}`);
  }
  try {
    const { entries, metadata } = readHeader(path, file);
    return new SafetensorsFile(path, file, entries, metadata);
  } catch (err) {
    file.close();
    throw err;
  }
}

function readExactly(file: Deno.FsFile, buf: Uint8Array): number {
  let done = 0;
  while (done < buf.length) {
    const n = file.readSync(buf.subarray(done));
    if (n === null || n === 0) break;
    done += n;
  }
  return done;
}

function readHeader(
  path: string,
  file: Deno.FsFile,
): { entries: Map<string, Entry>; metadata: Record<string, string> } {
  const fileSize = file.statSync().size;
  const bad = (problem: string) =>
    new CheckpointError(`${path}: not a valid safetensors file: ${problem}`);
  const lenBytes = new Uint8Array(8);
  if (readExactly(file, lenBytes) < 8) {
    throw bad(`truncated header: the file has ${fileSize} bytes, fewer than the 8-byte length`);
  }
  const headerLen64 = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (headerLen64 > BigInt(MAX_HEADER_BYTES)) {
    throw bad(`header length ${headerLen64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const headerLen = Number(headerLen64);
  if (8 + headerLen > fileSize) {
    throw bad(
      `truncated header: it declares ${headerLen} header bytes but the file has only ` +
        `${fileSize - 8} after the length`,
    );
  }
  const headerBytes = new Uint8Array(headerLen);
  if (readExactly(file, headerBytes) < headerLen) throw bad("truncated header");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw bad(`malformed JSON header (${(err as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw bad("malformed JSON header: expected an object of tensor entries");
  }
  const dataStart = 8 + headerLen;
  const dataSize = fileSize - dataStart;
  const entries = new Map<string, Entry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
        metadata = Object.fromEntries(
          Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
        );
      }
      continue;
    }
    entries.set(name, parseEntry(name, raw, dataStart, dataSize, bad));
  }
  // Sorted by start, a tensor overlaps an earlier one iff it starts before the furthest end so far.
  const sorted = [...entries.entries()].filter(([, e]) => e.end > e.begin)
    .sort((a, b) => a[1].begin - b[1].begin);
  let furthest = { name: "", end: -1 };
  for (const [name, cur] of sorted) {
    if (cur.begin < furthest.end) {
      throw bad(`tensors ${furthest.name} and ${name} overlap in the data section`);
    }
    if (cur.end > furthest.end) furthest = { name, end: cur.end };
  }
  return { entries, metadata };
}

function isIntArray(v: unknown, len?: number): v is number[] {
  return Array.isArray(v) && (len === undefined || v.length === len) &&
    v.every((x) => Number.isSafeInteger(x) && x >= 0);
}

function parseEntry(
  name: string,
  raw: unknown,
  dataStart: number,
  dataSize: number,
  bad: (problem: string) => CheckpointError,
): Entry {
  if (typeof raw !== "object" || raw === null) throw bad(`entry ${name} is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== "string") throw bad(`entry ${name} has no dtype`);
  if (!(dtype in DTYPE_BYTES)) {
    throw bad(
      `tensor ${name} has unsupported dtype ${dtype} ` +
        `(supported: ${Object.keys(DTYPE_BYTES).join(", ")})`,
    );
  }
  if (!isIntArray(shape)) throw bad(`tensor ${name} has no valid shape (${JSON.stringify(shape)})`);
  if (!isIntArray(offsets, 2) || offsets[0] > offsets[1]) {
    throw bad(`tensor ${name} has no valid data_offsets (${JSON.stringify(offsets)})`);
  }
  const [b, e] = offsets;
  if (e > dataSize) {
    throw bad(
      `offsets out of range: tensor ${name} ends at data byte ${e}, but the data section has ` +
        `only ${dataSize} bytes (file truncated?)`,
    );
  }
  const numel = shape.reduce((a, d) => a * d, 1);
  const want = numel * DTYPE_BYTES[dtype as TensorDtype];
  if (e - b !== want) {
    throw bad(
      `tensor ${name} (${dtype} [${shape}]) needs ${want} bytes but its data_offsets span ` +
        `${e - b}; the header's dtype or shape is wrong — convert or download the file again`,
    );
  }
  return { dtype: dtype as TensorDtype, shape, begin: dataStart + b, end: dataStart + e };
}

/** Converts little-endian float bytes of `dtype` to a fresh Float32Array. */
export function toFloat32(dtype: TensorDtype, bytes: Uint8Array): Float32Array {
  // `bytes` owns a fresh, 0-offset buffer when it comes from readBytes; copy otherwise so the
  // typed-array views below are aligned.
  const buf = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer as ArrayBuffer
    : bytes.slice().buffer as ArrayBuffer;
  switch (dtype) {
    case "F32":
      return new Float32Array(buf);
    case "F64":
      return Float32Array.from(new Float64Array(buf));
    case "BF16": {
      const src = new Uint16Array(buf);
      const out = new Float32Array(src.length);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return out;
    }
    case "F16":
      // The built-in conversion (subnormals, infinities and NaN included), ~5× a JS loop.
      return new Float32Array(new Float16Array(buf));
    default:
      throw new CheckpointError(`dtype ${dtype} cannot be converted to float32`);
  }
}

/** One {@link TensorStore} over several stores, each optionally mounted under a name prefix. */
export class CompositeTensorStore implements TensorStore {
  #owner = new Map<string, { store: TensorStore; inner: string }>();
  #stores: TensorStore[] = [];

  /** Tensors of `store` appear as `prefix + name`; later stores may not redefine a name. */
  add(store: TensorStore, prefix = ""): this {
    this.#stores.push(store);
    for (const inner of store.names()) {
      const name = prefix + inner;
      if (this.#owner.has(name)) {
        throw new CheckpointError(`tensor ${name} is defined twice across the checkpoint files`);
      }
      this.#owner.set(name, { store, inner });
    }
    return this;
  }

  /** All tensor names, sorted. */
  names(): string[] {
    return [...this.#owner.keys()].sort();
  }

  /** Info for `name`, or `undefined` when absent. */
  info(name: string): TensorInfo | undefined {
    const o = this.#owner.get(name);
    const i = o?.store.info(o.inner);
    return i && { ...i, name };
  }

  /** Reads a floating-point tensor as float32; throws when absent or of another shape. */
  getF32(name: string, expectedShape?: readonly number[]): Float32Array {
    const o = this.#owner.get(name);
    if (!o) throw new CheckpointError(`tensor ${name} is missing from the checkpoint`);
    return o.store.getF32(o.inner, expectedShape);
  }

  /** Where the tensor's bytes lie in its file (see {@link SafetensorsFile.region}). */
  region(name: string): StoredRegion | undefined {
    const o = this.#owner.get(name);
    return o?.store.region?.(o.inner);
  }

  /** Reads a floating-point tensor as float16 (see {@link SafetensorsFile.getF16}). */
  getF16(name: string, expectedShape?: readonly number[]): Float16Array {
    const o = this.#owner.get(name);
    if (!o) throw new CheckpointError(`tensor ${name} is missing from the checkpoint`);
    if (o.store.getF16) return o.store.getF16(o.inner, expectedShape);
    return toFloat16(o.store.getF32(o.inner, expectedShape), `tensor ${name}`);
  }

  /** Releases open files. */
  close(): void {
    for (const s of this.#stores) s.close();
  }
}

/**
 * Opens the weights of a Hugging Face model directory: `model.safetensors`, or the shards named
 * by `model.safetensors.index.json` (`weight_map`: tensor name → shard file), as one store.
 * PyTorch `.bin` weights are refused with a hint to convert them.
 */
export function openCheckpointTensors(dir: string): TensorStore {
  const single = join(dir, "model.safetensors");
  const indexPath = join(dir, "model.safetensors.index.json");
  if (existsSync(single)) return openSafetensors(single);
  if (existsSync(indexPath)) return openSharded(dir, indexPath);
  if (
    existsSync(join(dir, "pytorch_model.bin")) ||
    existsSync(join(dir, "pytorch_model.bin.index.json"))
  ) {
    throw new CheckpointError(
      `${dir}: only PyTorch .bin weights found; only safetensors is supported — convert them ` +
        `(e.g. load with transformers and save_pretrained(..., safe_serialization=True))`,
    );
  }
  throw new CheckpointError(
    `${dir}: no weights file: expected model.safetensors or model.safetensors.index.json`,
  );
}

function openSharded(dir: string, indexPath: string): TensorStore {
  let index: unknown;
  try {
    index = JSON.parse(Deno.readTextFileSync(indexPath));
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new CheckpointError(`${indexPath}: the shard index is not valid JSON (${err.message})`);
    }
    throw new CheckpointError(`${indexPath}: cannot read the shard index: ${fileProblem(err)}`);
  }
  const weightMap = (index as { weight_map?: unknown })?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null) {
    throw new CheckpointError(`${indexPath}: field weight_map (tensor name → shard) is missing`);
  }
  const shards = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== "string" || shard.includes("/") || shard.includes("\\")) {
      throw new CheckpointError(`${indexPath}: weight_map.${name} is not a shard file name`);
    }
    shards.set(shard, [...(shards.get(shard) ?? []), name]);
  }
  const store = new CompositeTensorStore();
  try {
    for (const [shard, names] of shards) {
      const file = openSafetensors(join(dir, shard));
      store.add(file);
      const missing = names.filter((n) => !file.info(n));
      if (missing.length) {
        throw new CheckpointError(
          `${indexPath}: weight_map places ${missing.length} tensor(s) in ${shard} that it ` +
            `lacks, e.g. ${missing.slice(0, 3).join(", ")}`,
        );
      }
    }
  } catch (err) {
    store.close();
    throw err;
  }
  return store;
}
