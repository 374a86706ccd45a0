/**
 * Built graphs cached on disk, so a checkpoint's graphs are built once.
 *
 * Layout: `<cacheDir>/<kind>-<variant>-<key16>/{model.onnx, model.onnx.data, meta.json}`. An
 * entry is built in a temporary directory and renamed into place when complete, so an
 * interrupted build is never taken for a cached one.
 *
 * Every hit is verified before use: `meta.json` must parse and name the key, and each file
 * must have the size and SHA-256 recorded there (the whole file up to 64 MiB; above that, its
 * size plus 64 KiB samples at 64 evenly spaced offsets, so a checkpoint of many gigabytes is
 * not reread on every load; damage between the samples of such a file goes unnoticed). A
 * damaged entry (truncated, emptied, overwritten, or from a version without checksums) is
 * moved aside and rebuilt, with a warning saying why ({@link CachedGraph.repaired}).
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
import { fileError } from "../errors.ts";
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
  /**
   * Hard-link the files that the graph's file-region weights lie in into the entry, so they are
   * not copied (default false; see `SaveOptions.linkFiles`).
   */
  linkFiles?: boolean;
}

/** A graph on disk, with how it got there. */
export interface CachedGraph {
  /** Why the cached entry was unusable and got rebuilt (absent when it was fine or new). */
  repaired?: string;
  /** Path of the `.onnx` file (load it by path: it may have external data). */
  modelPath: string;
  /** True when the entry already existed and nothing was built. */
  cached: boolean;
  /** Milliseconds spent building the graph's structure (0 on a hit). */
  buildMs: number;
  /**
   * Milliseconds spent writing the files (0 on a hit), which includes reading, fusing and
   * quantizing or rounding the weights: they are made one by one as they are written.
   */
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
  let repaired: string | undefined;
  if (await exists(entry)) {
    repaired = await entryProblem(entry, key);
    if (repaired === undefined) return { modelPath, cached: true, buildMs: 0, writeMs: 0, key };
    console.warn(`prefixkv: graph cache entry ${entry} is damaged (${repaired}); rebuilding it`);
    await discard(cacheDir, entry);
  }

  const t0 = performance.now();
  const graph = request.build();
  const t1 = performance.now();
  let tmp: string;
  try {
    await Deno.mkdir(cacheDir, { recursive: true });
    tmp = await Deno.makeTempDir({ dir: cacheDir, prefix: `.building-${basename(entry)}-` });
  } catch (err) {
    throw fileError(
      cacheDir,
      "write the graph cache",
      err,
      "choose another cache folder (--cache-dir)",
    );
  }
  try {
    const saved = await graph.save(join(tmp, "model.onnx"), { linkFiles: request.linkFiles });
    if (saved.notLinked) console.warn(`prefixkv: graph cache: ${saved.notLinked}; copied instead`);
    const files: Record<string, FileCheck> = {
      "model.onnx": await fileCheck(saved.modelPath),
    };
    if (saved.dataPath) files[basename(saved.dataPath)] = await fileCheck(saved.dataPath);
    for (const link of saved.linkedFiles) files[basename(link)] = await fileCheck(link);
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
      linkedBytes: saved.linkedBytes,
      ...(saved.notLinked !== undefined && { notLinked: saved.notLinked }),
      buildMs: t1 - t0,
      created: new Date().toISOString(),
      files,
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
  return {
    modelPath,
    cached: false,
    buildMs: t1 - t0,
    writeMs: performance.now() - t1,
    key,
    ...(repaired !== undefined && { repaired }),
  };
}

/** A cache file's size and SHA-256 (whole, or sampled for big files: see the module docs). */
interface FileCheck {
  bytes: number;
  sha256: string;
  sampled: boolean;
}

/** Files up to this size are hashed whole. */
const WHOLE_HASH_BYTES = 64 * 1024 * 1024;
/** Samples hashed of a bigger file. */
const HASH_SAMPLES = 64;

async function fileCheck(path: string): Promise<FileCheck> {
  using file = await Deno.open(path, { read: true });
  const bytes = (await file.stat()).size;
  const hash = createHash("sha256");
  const sampled = bytes > WHOLE_HASH_BYTES;
  if (!sampled) hash.update(await readAt(file, 0, bytes));
  else {
    for (let i = 0; i < HASH_SAMPLES; i++) {
      const at = Math.floor(((bytes - SAMPLE_BYTES) * i) / (HASH_SAMPLES - 1));
      hash.update(await readAt(file, at, SAMPLE_BYTES));
    }
  }
  return { bytes, sha256: hash.digest("hex"), sampled };
}

/** Why the entry at `entry` cannot be used for `key`, or undefined when it is sound. */
async function entryProblem(entry: string, key: string): Promise<string | undefined> {
  let meta: { key?: unknown; files?: Record<string, FileCheck> };
  try {
    meta = JSON.parse(await Deno.readTextFile(join(entry, "meta.json")));
  } catch (err) {
    return (err as { code?: string }).code === "ENOENT"
      ? "meta.json is missing"
      : "meta.json is unreadable";
  }
  if (meta?.key !== key) return "meta.json names another key";
  if (!meta.files || typeof meta.files !== "object" || !meta.files["model.onnx"]) {
    return "meta.json has no checksums (an older cache version)";
  }
  for (const [name, want] of Object.entries(meta.files)) {
    let got: FileCheck;
    try {
      got = await fileCheck(join(entry, name));
    } catch {
      return `${name} is missing`;
    }
    if (got.bytes !== want.bytes) {
      return `${name} has ${got.bytes} bytes, meta.json says ${want.bytes}`;
    }
    if (got.sha256 !== want.sha256) return `${name}'s content does not match its checksum`;
  }
  return undefined;
}

/** Moves a damaged entry out of the way (atomically) and deletes it. */
async function discard(cacheDir: string, entry: string): Promise<void> {
  const aside = join(cacheDir, `.damaged-${basename(entry)}-${crypto.randomUUID().slice(0, 8)}`);
  try {
    await Deno.rename(entry, aside);
  } catch (err) {
    // Another process got there first; anything else is a real problem.
    if ((err as { code?: string }).code === "ENOENT") return;
    throw fileError(entry, "replace the damaged graph cache entry", err, `delete ${entry}`);
  }
  await Deno.remove(aside, { recursive: true }).catch(() => {});
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
