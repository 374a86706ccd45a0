/**
 * Built graphs cached on disk, so a checkpoint's graphs are built once.
 *
 * Layout: `<cacheDir>/<kind>-<variant>-<key16>/{model.onnx, model.onnx.data, meta.json}`. An
 * entry is built in a temporary directory and renamed into place when complete, so an
 * interrupted build is never taken for a cached one.
 *
 * The key hashes the builder version, the graph kind and variant, and a fingerprint of the
 * checkpoint ({@link checkpointFingerprint}). The fingerprint is cheap but content-sensitive:
 * - the whole {@link ModelSpec} and every tensor's name, dtype and shape;
 * - for checkpoints on disk, each weight file's name, size and mtime plus a SHA-256 of its first
 *   and last 64 KiB (the safetensors header with all offsets, and the tail bytes), so a rewritten
 *   or replaced file changes the key without reading gigabytes;
 * - the values of every small tensor (at most 16 Ki elements: norms, biases, class embeddings),
 *   which any fine-tune changes; this also covers weights mounted from outside the checkpoint
 *   directory (the original LLaVA's separate vision tower);
 * - for in-memory stores (no files), the values of every tensor.
 * A change that keeps a file's size, mtime, header, both ends and all small tensors identical
 * goes unnoticed; delete the cache directory after such surgery.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { basename, join, resolve } from "node:path";
import type { ModelSpec } from "../checkpoint/spec.ts";
import type { TensorStore } from "../checkpoint/tensor_store.ts";
import type { GraphBuilder } from "./onnx_builder.ts";

/** Bumped when the cache layout or key changes. */
export const GRAPH_CACHE_VERSION = 1;

/** Bytes hashed at each end of a weight file. */
const SAMPLE_BYTES = 64 * 1024;
/** Tensors up to this many elements are hashed by value even when files are fingerprinted. */
const SMALL_TENSOR = 16 * 1024;

/** What the fingerprint reads from a checkpoint. */
export interface FingerprintSource {
  /** The model description (hashed whole). */
  spec: ModelSpec;
  /** The weights: names, dtypes and shapes are hashed, and values of small tensors. */
  tensors: TensorStore;
  /** Checkpoint directory; its weight files are fingerprinted when `files` is absent. */
  dir?: string;
  /** Weight files backing `tensors` (takes precedence over scanning `dir`). */
  files?: readonly string[];
}

/** The default cache directory: `.cache/prefixkv/graphs` under the working directory. */
export function defaultGraphCacheDir(): string {
  return resolve(Deno.cwd(), ".cache", "prefixkv", "graphs");
}

/** A hex SHA-256 fingerprint of a checkpoint; see the module documentation. */
export async function checkpointFingerprint(src: FingerprintSource): Promise<string> {
  const hash = createHash("sha256");
  hash.update(JSON.stringify(src.spec));
  for (const name of src.tensors.names()) {
    const info = src.tensors.info(name);
    hash.update(`\n${name}:${info?.dtype}:${info?.shape.join("x")}`);
  }
  const files = src.files ?? (src.dir ? await weightFiles(src.dir) : []);
  for (const file of [...files].sort()) await hashFileSample(hash, file);
  for (const name of src.tensors.names()) {
    const info = src.tensors.info(name);
    const size = info?.shape.reduce((a, b) => a * b, 1) ?? 0;
    const isFloat = info && ["F32", "F16", "BF16", "F64"].includes(info.dtype);
    if (!isFloat || (files.length > 0 && size > SMALL_TENSOR)) continue;
    const data = src.tensors.getF32(name);
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest("hex");
}

async function weightFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && /\.(safetensors|bin|pt|pth)$/.test(e.name)) out.push(join(dir, e.name));
  }
  return out;
}

async function hashFileSample(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  const stat = await Deno.stat(path);
  hash.update(`\nfile ${basename(path)} ${stat.size} ${stat.mtime?.getTime() ?? 0}`);
  using file = await Deno.open(path, { read: true });
  const head = await readAt(file, 0, Math.min(SAMPLE_BYTES, stat.size));
  const tailStart = Math.max(0, stat.size - SAMPLE_BYTES);
  const tail = await readAt(file, tailStart, stat.size - tailStart);
  hash.update(head);
  hash.update(tail);
}

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  await file.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(length);
  let at = 0;
  while (at < length) {
    const n = await file.read(buf.subarray(at));
    if (n === null) break;
    at += n;
  }
  return buf.subarray(0, at);
}

/** Which graph to fetch or build. */
export interface GraphRequest {
  /** Graph family, e.g. `"llama"` or `"vision"`. */
  kind: string;
  /** Variant within the family, e.g. `"importance-last"`. */
  variant: string;
  /** The builder's version constant (a new version invalidates old entries). */
  builderVersion: number;
  /** {@link checkpointFingerprint} of the checkpoint. */
  fingerprint: string;
  /** Builds the graph on a miss. */
  build: () => GraphBuilder;
}

/** A graph on disk, with how it got there. */
export interface CachedGraph {
  /** Path of the `.onnx` file (load it by path: it may have external data). */
  modelPath: string;
  /** True when the entry already existed and nothing was built. */
  cached: boolean;
  /** Milliseconds spent building the graph in memory (0 on a hit). */
  buildMs: number;
  /** Milliseconds spent writing the files (0 on a hit). */
  writeMs: number;
  /** The full cache key. */
  key: string;
}

/** Returns the cached graph for `request` under `cacheDir`, building and storing it on a miss. */
export async function loadOrBuildGraph(
  cacheDir: string,
  request: GraphRequest,
): Promise<CachedGraph> {
  const key = createHash("sha256").update(JSON.stringify({
    cache: GRAPH_CACHE_VERSION,
    kind: request.kind,
    variant: request.variant,
    builder: request.builderVersion,
    checkpoint: request.fingerprint,
  })).digest("hex");
  const entry = join(cacheDir, `${request.kind}-${request.variant}-${key.slice(0, 16)}`);
  const modelPath = join(entry, "model.onnx");
  if (await isFile(join(entry, "meta.json"))) {
    return { modelPath, cached: true, buildMs: 0, writeMs: 0, key };
  }

  const t0 = performance.now();
  const graph = request.build();
  const t1 = performance.now();
  await Deno.mkdir(cacheDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: cacheDir, prefix: `.building-${basename(entry)}-` });
  try {
    const saved = await graph.save(join(tmp, "model.onnx"));
    const meta = {
      key,
      kind: request.kind,
      variant: request.variant,
      builderVersion: request.builderVersion,
      cacheVersion: GRAPH_CACHE_VERSION,
      fingerprint: request.fingerprint,
      nodes: graph.nodeCount,
      modelBytes: saved.modelBytes,
      dataBytes: saved.dataBytes,
      buildMs: t1 - t0,
      created: new Date().toISOString(),
    };
    await Deno.writeTextFile(join(tmp, "meta.json"), JSON.stringify(meta, null, 2) + "\n");
    try {
      await Deno.rename(tmp, entry);
    } catch (err) {
      // Another process finished the same entry first: keep theirs.
      if (!(await isFile(join(entry, "meta.json")))) throw err;
      await Deno.remove(tmp, { recursive: true });
    }
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
  return { modelPath, cached: false, buildMs: t1 - t0, writeMs: performance.now() - t1, key };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
