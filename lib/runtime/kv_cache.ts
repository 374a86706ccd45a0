/**
 * A key/value cache with one buffer per layer. Layers hold different numbers of entries
 * (PrefixKV keeps a different prefix per layer), so nothing here assumes a common length.
 *
 * Storage is token-major, `[capacity, batch, kvHeads, headDim]` per layer: a row holds one
 * entry of every sample, so the first `length` rows are a contiguous view that the runtime
 * reads without copying, and appending writes rows at the end. Buffers keep spare capacity
 * ({@link KvCache.fit} sets it, e.g. to the tokens still to generate) so that decode steps
 * never reallocate, and `keep`, `evict` and `merge` compact rows in place. Nothing here copies
 * a layer's whole cache except `fit`, `clone` and growing past the capacity.
 *
 * A batch (B > 1, the paper's latency protocol) holds equal-length prompts. Each sample keeps
 * its own entries; a layer must hold the same count in every sample before the runtime reads
 * it. {@link KvCache.sample} is a view of one sample that recipes use like a batch-1 cache.
 *
 * This is the only meeting point of recipes and the runtime: recipes call `keep`, `evict`,
 * `merge` and read lengths and positions; the runtime calls `append` and reads the views.
 *
 * Where the rows live is a {@link KvStorage}: CPU arrays by default, or GPU buffers for a
 * `webgpu` model (`gpu_kv_cache.ts`), where `keep`, `evict` and `merge` are buffer copies and a
 * compute pass on the GPU. Positions and lengths always stay on the CPU, so recipes read them
 * alike; only the synchronous views (`keys`, `values`) need CPU rows ({@link KvCache.read}
 * reads either).
 *
 * @example Keep a prefix, then decode in place
 * ```ts
 * import { KvCache } from "./kv_cache.ts";
 *
 * const cache = new KvCache({ numLayers: 1, numKvHeads: 1, headDim: 2 });
 * cache.append(0, Float32Array.of(1, 1, 2, 2, 3, 3), Float32Array.of(1, 1, 2, 2, 3, 3), [0, 1, 2]);
 * cache.keep(0, [0, 2]); // compacted in place
 * cache.fit(8); // room for 8 more entries: appends no longer reallocate
 * console.log(cache.length(0), [...cache.positions(0)], cache.capacity(0)); // 2 [0, 2] 10
 * ```
 *
 * @module
 */

/** Shape of a cache: layers × KV heads × head dimension, and the batch size. */
export interface KvCacheShape {
  /** Number of decoder layers. */
  numLayers: number;
  /** Key/value heads per layer. */
  numKvHeads: number;
  /** Floats per head of one key or value. */
  headDim: number;
  /** Samples decoded together (default 1). */
  batch?: number;
}

/** Where a cache's keys and values live. */
export type KvLocation = "cpu" | "gpu";

/** Every {@link KvLocation}. */
export const KV_LOCATIONS: readonly KvLocation[] = ["cpu", "gpu"];

/** A run of floats a compaction moves: `count` floats from offset `from` down to `to`. */
export interface RowMove {
  /** First float read. */
  readonly from: number;
  /** First float written (`to` ≤ `from`). */
  readonly to: number;
  /** Floats moved. */
  readonly count: number;
}

/**
 * A mean merge of one sample's entries (see {@link KvCache.merge}): anchor slot `k` becomes the
 * mean of the entries `members[offsets[k]]` … `members[offsets[k + 1] − 1]` (ascending cache
 * indices; every slot has at least one).
 */
export interface RowMerge {
  /** The sample merged. */
  readonly sample: number;
  /** Samples per row. */
  readonly batch: number;
  /** Floats per entry. */
  readonly rowSize: number;
  /** `anchors + 1` offsets into `members`. */
  readonly offsets: Uint32Array;
  /** Cache indices merged into each slot, slot by slot. */
  readonly members: Uint32Array;
}

/** Keys or values of new entries: CPU floats, or a GPU buffer holding them from offset 0. */
export type RowData = Float32Array | { readonly gpuBuffer: GPUBuffer };

/**
 * One layer's keys and values: `floats` floats each, laid out as the cache's rows. The cache
 * keeps positions and lengths itself and asks the storage only to move, write and merge floats.
 */
export interface KvRowStorage {
  /** Where the floats live. */
  readonly location: KvLocation;
  /** Floats held by each of keys and values. */
  readonly floats: number;
  /**
   * Applies compacting moves to keys and values: in order, each `to` ≤ its `from` and past the
   * previous move's destination, so reading every source first or moving one by one agree.
   */
  move(moves: readonly RowMove[]): void;
  /** A storage of `floats` holding this one's first `used` floats; this one is released. */
  resized(floats: number, used: number): KvRowStorage;
  /** Writes `count` floats of keys and of values at float `at`. */
  write(at: number, keys: RowData, values: RowData, count: number): void;
  /** Replaces anchor slots `0 … k` of one sample by the means of their members. */
  merge(plan: RowMerge): void;
  /** A copy of floats `[at, at + count)` of keys and values. */
  read(at: number, count: number): Promise<{ keys: Float32Array; values: Float32Array }>;
  /** Frees what the storage holds (GPU buffers); it is not used afterwards. */
  release(): void;
}

/** Makes the storage of one layer for `floats` floats each of keys and values. */
export type KvStorage = (floats: number) => KvRowStorage;

/** Rows in CPU memory: the default {@link KvStorage}. */
export class CpuRows implements KvRowStorage {
  /** Always `"cpu"`. */
  readonly location: KvLocation = "cpu";
  /** Keys, `floats` long. */
  readonly keys: Float32Array;
  /** Values, `floats` long. */
  readonly values: Float32Array;

  /** Zero-filled rows of `floats` floats each. */
  constructor(readonly floats: number) {
    this.keys = new Float32Array(floats);
    this.values = new Float32Array(floats);
  }

  /** Moves runs in place, one after the other. */
  move(moves: readonly RowMove[]): void {
    for (const { from, to, count } of moves) {
      if (from === to) continue;
      this.keys.copyWithin(to, from, from + count);
      this.values.copyWithin(to, from, from + count);
    }
  }

  /** New arrays holding the first `used` floats. */
  resized(floats: number, used: number): CpuRows {
    const out = new CpuRows(floats);
    out.keys.set(this.keys.subarray(0, used));
    out.values.set(this.values.subarray(0, used));
    return out;
  }

  /** Copies CPU floats in; GPU buffers are refused (read them back first). */
  write(at: number, keys: RowData, values: RowData, count: number): void {
    if (!(keys instanceof Float32Array) || !(values instanceof Float32Array)) {
      throw new Error(
        `KvCache.append: this cache holds its rows on the CPU and was given GPU buffers; ` +
          `download them, or make the cache with GPU storage`,
      );
    }
    this.keys.set(keys.subarray(0, count), at);
    this.values.set(values.subarray(0, count), at);
  }

  /** Means summed in float64, entries in cache order; every sum is taken before any write. */
  merge({ sample: b, batch, rowSize: r, offsets, members }: RowMerge): void {
    const n = offsets.length - 1;
    const sumK = new Float64Array(n * r);
    const sumV = new Float64Array(n * r);
    for (let k = 0; k < n; k++) {
      for (let m = offsets[k]; m < offsets[k + 1]; m++) {
        const at = (members[m] * batch + b) * r;
        for (let j = 0; j < r; j++) {
          sumK[k * r + j] += this.keys[at + j];
          sumV[k * r + j] += this.values[at + j];
        }
      }
    }
    for (let k = 0; k < n; k++) {
      const count = offsets[k + 1] - offsets[k];
      const at = (k * batch + b) * r;
      for (let j = 0; j < r; j++) {
        this.keys[at + j] = sumK[k * r + j] / count;
        this.values[at + j] = sumV[k * r + j] / count;
      }
    }
  }

  /** Copies of a range. */
  read(at: number, count: number): Promise<{ keys: Float32Array; values: Float32Array }> {
    return Promise.resolve({
      keys: this.keys.slice(at, at + count),
      values: this.values.slice(at, at + count),
    });
  }

  /** Nothing to free: the arrays are garbage-collected. */
  release(): void {}
}

/** The default storage: CPU arrays. */
export const cpuStorage: KvStorage = (floats: number): KvRowStorage => new CpuRows(floats);

/** One layer's rows: `[capacity, batch, rowSize]` keys and values, `[capacity, batch]` positions. */
class LayerStore {
  rows: KvRowStorage;
  positions: Int32Array;
  /** Entries held by each sample. */
  readonly lengths: Int32Array;
  /**
   * Per sample, the index of an eviction whose rows are still to be shifted (-1: none). In a
   * batch, every sample's policy evicts on its own view, usually at the same index; deferring
   * the shift lets one contiguous copy move the rows of all samples at once.
   */
  readonly pending: Int32Array;
  capacity: number;

  constructor(
    readonly rowSize: number,
    readonly batch: number,
    capacity: number,
    public storage: KvStorage,
  ) {
    this.capacity = capacity;
    this.pending = new Int32Array(batch).fill(-1);
    this.rows = storage(capacity * batch * rowSize);
    this.positions = new Int32Array(capacity * batch);
    this.lengths = new Int32Array(batch);
  }

  get maxLength(): number {
    return this.lengths.reduce((a, b) => Math.max(a, b), 0);
  }

  /** Carries out the deferred evictions: one shift of whole rows when all samples agree. */
  flush(): void {
    const p = this.pending;
    let any = false;
    let same = true;
    for (let b = 0; b < this.batch; b++) {
      if (p[b] >= 0) any = true;
      if (p[b] < 0 || p[b] !== p[0] || this.lengths[b] !== this.lengths[0]) same = false;
    }
    if (!any) return;
    if (same) {
      const row = this.batch * this.rowSize;
      const [at, end] = [p[0], this.lengths[0] + 1]; // the evicted index, the old length
      this.rows.move([{ from: (at + 1) * row, to: at * row, count: (end - at - 1) * row }]);
      this.positions.copyWithin(at * this.batch, (at + 1) * this.batch, end * this.batch);
    } else {
      const moves: RowMove[] = [];
      for (let b = 0; b < this.batch; b++) {
        if (p[b] < 0) continue;
        for (let i = p[b] + 1; i <= this.lengths[b]; i++) this.move(moves, b, i, i - 1);
      }
      this.rows.move(sortedMoves(moves));
    }
    p.fill(-1);
  }

  resize(capacity: number): void {
    this.flush();
    const used = Math.min(this.maxLength, capacity) * this.batch;
    const positions = new Int32Array(capacity * this.batch);
    positions.set(this.positions.subarray(0, used));
    this.rows = this.rows.resized(capacity * this.batch * this.rowSize, used * this.rowSize);
    this.positions = positions;
    this.capacity = capacity;
  }

  /** Copies the rows to CPU arrays of the same capacity (one read); the old rows are freed. */
  async toCpu(): Promise<void> {
    this.flush();
    const used = this.maxLength * this.batch * this.rowSize;
    const { keys, values } = await this.rows.read(0, used);
    const cpu = new CpuRows(this.rows.floats);
    cpu.write(0, keys, values, used);
    this.rows.release();
    this.rows = cpu;
    this.storage = cpuStorage;
  }

  /** Moves entry `from` of sample `b` to slot `to`: its position now, its floats into `moves`. */
  move(moves: RowMove[], b: number, from: number, to: number): void {
    const r = this.rowSize;
    const src = (from * this.batch + b) * r;
    const dst = (to * this.batch + b) * r;
    const last = moves[moves.length - 1];
    // Consecutive entries of a batch-1 cache are consecutive floats: one run.
    if (last && last.from + last.count === src && last.to + last.count === dst) {
      moves[moves.length - 1] = { from: last.from, to: last.to, count: last.count + r };
    } else {
      moves.push({ from: src, to: dst, count: r });
    }
    this.positions[to * this.batch + b] = this.positions[from * this.batch + b];
  }
}

/** Moves of several samples, in the order of their destinations (each sample's are in order). */
function sortedMoves(moves: RowMove[]): RowMove[] {
  return moves.sort((x, y) => x.to - y.to);
}

/**
 * Per-layer KV storage for a batch of sequences (batch size 1 by default).
 *
 * @example Two layers keep different entries; bytes follow the entries kept
 * ```ts
 * import { KvCache } from "@prefixkv/prefixkv";
 * const cache = new KvCache({ numLayers: 2, numKvHeads: 1, headDim: 2 });
 * const kv = Float32Array.of(1, 1, 2, 2, 3, 3, 4, 4);
 * for (const l of [0, 1]) cache.append(l, kv, kv, [0, 1, 2, 3]);
 * cache.keep(0, [0, 3]);
 * cache.keep(1, [0, 1, 3]);
 * console.log(cache.length(0), cache.length(1), cache.bytesHeld()); // 2 3 100
 * ```
 */
export class KvCache {
  /** Number of decoder layers. */
  readonly numLayers: number;
  /** Key/value heads per layer. */
  readonly numKvHeads: number;
  /** Floats per head of one key or value. */
  readonly headDim: number;
  /** Floats per cached entry (one token of one layer of one sample): `kvHeads · headDim`. */
  readonly rowSize: number;
  /** Samples in the batch; a {@link KvCache.sample} view reports 1. */
  readonly batch: number;
  /** Extra rows allocated when an append finds no spare capacity (default 32). */
  readonly growth: number;
  #storage: KvStorage;
  #stores: LayerStore[];
  /** The sample this view acts on, or -1 for the whole batch. */
  #sample: number;

  /**
   * Creates an empty cache.
   *
   * @param shape layers, KV heads, head dimension and batch size
   * @param growth rows added beyond need whenever an append must grow a layer (default 32)
   * @param storage where each layer's rows live (default CPU arrays, {@link cpuStorage})
   */
  constructor(shape: KvCacheShape, growth = 32, storage: KvStorage = cpuStorage) {
    const batch = shape.batch ?? 1;
    for (const [k, v] of Object.entries({ ...shape, batch })) {
      if (!Number.isInteger(v) || v <= 0) {
        throw new Error(`KvCache: ${k} must be a positive integer, got ${v}`);
      }
    }
    this.numLayers = shape.numLayers;
    this.numKvHeads = shape.numKvHeads;
    this.headDim = shape.headDim;
    this.rowSize = shape.numKvHeads * shape.headDim;
    this.growth = growth;
    this.#storage = storage;
    this.#stores = Array.from(
      { length: shape.numLayers },
      () => new LayerStore(this.rowSize, batch, 0, storage),
    );
    this.#sample = -1;
    this.batch = batch;
  }

  /**
   * A view of sample `b` that acts like a batch-1 cache over the same buffers: `keep`, `evict`
   * and `merge` change that sample only, and lengths and positions are that sample's.
   */
  sample(b: number): KvCache {
    const total = this.#stores[0]?.batch ?? 1;
    if (this.#sample !== -1) throw new Error(`KvCache.sample: this is already a sample view`);
    if (!Number.isInteger(b) || b < 0 || b >= total) {
      throw new Error(`KvCache.sample: sample ${b} out of range [0, ${total})`);
    }
    const view = new KvCache(
      { numLayers: this.numLayers, numKvHeads: this.numKvHeads, headDim: this.headDim },
      this.growth,
      this.storage,
    );
    view.#stores = this.#stores;
    view.#sample = b;
    return view;
  }

  /** What makes each layer's rows (default CPU arrays); CPU arrays after {@link KvCache.moveToCpu}. */
  get storage(): KvStorage {
    return this.#storage;
  }

  /** Where the rows live: `"cpu"`, or `"gpu"` (a `webgpu` model's cache). */
  get location(): KvLocation {
    return this.#stores[0]?.rows.location ?? "cpu";
  }

  /**
   * Moves a GPU cache's rows into CPU arrays (one read of each layer, counted as a download),
   * freeing its GPU buffers; entries, positions and capacity are unchanged, and the cache
   * goes on as a CPU cache (sync views, `stack`, `clone`, any model). A CPU cache is left as
   * it is. `model.close()` does this for every GPU cache the model made, since closing gives
   * up the GPU device the buffers live on.
   *
   * @example A CPU cache is already there
   * ```ts
   * import { KvCache } from "@prefixkv/prefixkv";
   * const cache = new KvCache({ numLayers: 1, numKvHeads: 1, headDim: 2 });
   * cache.append(0, Float32Array.of(1, 2), Float32Array.of(3, 4), [0]);
   * await cache.moveToCpu();
   * console.log(cache.location, [...cache.keys(0)]); // "cpu" [1, 2]
   * ```
   */
  async moveToCpu(): Promise<void> {
    if (this.#sample !== -1) {
      throw new Error(`KvCache.moveToCpu: move the whole cache, not a sample view`);
    }
    await Promise.all(this.#stores.map((s) => s.rows.location === "cpu" ? null : s.toCpu()));
    this.#storage = cpuStorage;
  }

  /** Layer `layer`'s store, its deferred evictions carried out unless only lengths are read. */
  #store(layer: number, flush = true): LayerStore {
    const s = this.#stores[layer];
    if (!s) throw new Error(`KvCache: layer ${layer} out of range [0, ${this.numLayers})`);
    if (flush) s.flush();
    return s;
  }

  /** The samples this cache (or view) acts on. */
  #samples(s: LayerStore): number[] {
    return this.#sample === -1 ? Array.from({ length: s.batch }, (_, b) => b) : [this.#sample];
  }

  /**
   * Number of entries held by `layer` (in every sample; an error when a batch's samples hold
   * different counts).
   */
  length(layer: number): number {
    const s = this.#store(layer, false);
    if (this.#sample !== -1) return s.lengths[this.#sample];
    const n = s.lengths[0];
    if (s.lengths.some((x) => x !== n)) {
      throw new Error(
        `KvCache: the samples of layer ${layer} hold different numbers of entries ` +
          `(${[...s.lengths].join(", ")}); a batch needs the same count per layer in every ` +
          `sample (use an allocation with fixed per-layer counts, such as an offline config)`,
      );
    }
    return n;
  }

  /** Entries held by every layer. */
  lengths(): number[] {
    return this.#stores.map((_, l) => this.length(l));
  }

  /** Total entries held over all layers (and samples). */
  entriesHeld(): number {
    let n = 0;
    for (const s of this.#stores) for (const b of this.#samples(s)) n += s.lengths[b];
    return n;
  }

  /** Bytes of the entries held: keys, values and positions of every held entry. */
  bytesHeld(): number {
    return this.entriesHeld() * (2 * this.rowSize * 4 + 4);
  }

  /**
   * Bytes of the buffers allocated, spare capacity included (whole batch): of `layer`, or of
   * every layer when no layer is given.
   */
  bytesAllocated(layer?: number): number {
    const stores = layer === undefined ? this.#stores : [this.#store(layer, false)];
    return stores.reduce((n, s) => n + 2 * 4 * s.rows.floats + s.positions.byteLength, 0);
  }

  /** Entries `layer` can hold (per sample) before an append reallocates. */
  capacity(layer: number): number {
    return this.#store(layer, false).capacity;
  }

  /**
   * Keys of `layer`, `[length, batch, kvHeads, headDim]`: a view of the buffer (no copy;
   * invalidated by writes), or a copy `[length, kvHeads, headDim]` for a sample of a batch.
   * Needs CPU rows; a GPU cache is read with {@link KvCache.read}.
   */
  keys(layer: number): Float32Array {
    return this.#rows(layer, "keys");
  }

  /** Values of `layer`, laid out like {@link KvCache.keys}. */
  values(layer: number): Float32Array {
    return this.#rows(layer, "values");
  }

  #rows(layer: number, which: "keys" | "values"): Float32Array {
    const s = this.#store(layer);
    if (!(s.rows instanceof CpuRows)) {
      throw new Error(
        `KvCache.${which}: layer ${layer}'s rows live on the ${s.rows.location.toUpperCase()} ` +
          `(a webgpu model's cache); read a copy with await cache.read(${layer}), or move ` +
          `the cache with await cache.moveToCpu()`,
      );
    }
    return this.#ownRows(s, s.rows[which], this.length(layer));
  }

  /** The rows of this cache (or of its sample) among `data`, `[length, batch, rowSize]`. */
  #ownRows(s: LayerStore, data: Float32Array, n: number): Float32Array {
    if (this.#sample === -1 || s.batch === 1) return data.subarray(0, n * s.batch * s.rowSize);
    const r = s.rowSize;
    const out = new Float32Array(n * r);
    for (let i = 0; i < n; i++) {
      const at = (i * s.batch + this.#sample) * r;
      out.set(data.subarray(at, at + r), i * r);
    }
    return out;
  }

  /**
   * A copy of the keys and values of `layer`, laid out like {@link KvCache.keys}, wherever the
   * rows live (a GPU cache is read back: a transfer of the layer's size).
   */
  async read(layer: number): Promise<{ keys: Float32Array; values: Float32Array }> {
    const s = this.#store(layer);
    const n = this.length(layer);
    const { keys, values } = await s.rows.read(0, n * s.batch * s.rowSize);
    return { keys: this.#ownRows(s, keys, n), values: this.#ownRows(s, values, n) };
  }

  /**
   * The storage of `layer`'s rows and the entries it holds, for the runtime to feed them (e.g.
   * as GPU tensors over a prefix of the buffers) without a copy.
   */
  storageOf(layer: number): { rows: KvRowStorage; length: number } {
    const s = this.#store(layer);
    return { rows: s.rows, length: this.length(layer) };
  }

  /**
   * Original token positions of the entries of `layer`, in cache order: a view for a batch-1
   * cache, a copy for a sample of a batch. A whole batch of several samples has no single
   * list; read it per sample.
   */
  positions(layer: number): Int32Array {
    const s = this.#store(layer);
    if (s.batch === 1) return s.positions.subarray(0, s.lengths[0]);
    if (this.#sample === -1) {
      throw new Error(
        `KvCache.positions: a batch of ${s.batch} samples keeps positions per sample; ` +
          `read cache.sample(b).positions(${layer})`,
      );
    }
    const b = this.#sample;
    return Int32Array.from({ length: s.lengths[b] }, (_, i) => s.positions[i * s.batch + b]);
  }

  /**
   * Appends `count` entries to `layer` of every sample. `keys` and `values` are
   * `[count, batch, kvHeads, headDim]` (the cache's row layout), as CPU floats or (GPU storage)
   * GPU buffers; `positions` gives each new entry's original token position (the same in every
   * sample). Writes into spare capacity; only a layer without room reallocates (by `growth`
   * rows beyond need).
   */
  append(
    layer: number,
    keys: RowData,
    values: RowData,
    positions: ArrayLike<number>,
  ): void {
    if (this.#sample !== -1) {
      throw new Error(`KvCache.append: append through the whole cache, not a sample view`);
    }
    const s = this.#store(layer);
    const count = positions.length;
    const floats = count * s.batch * this.rowSize;
    const [kn, vn] = [keys, values].map((d) =>
      d instanceof Float32Array ? d.length : d.gpuBuffer.size / 4
    );
    const gpu = !(keys instanceof Float32Array);
    if (gpu ? kn < floats || vn < floats : kn !== floats || vn !== floats) {
      throw new Error(
        `KvCache.append: layer ${layer} expects ${count}×${s.batch}×${this.numKvHeads}×` +
          `${this.headDim} floats for keys and values, got ${kn} and ${vn}`,
      );
    }
    const n = this.length(layer);
    if (n + count > s.capacity) {
      // The first fill (the prefill) is sized exactly; later appends grow by `growth` rows.
      s.resize(n + count + (n === 0 ? 0 : this.growth));
    }
    s.rows.write(n * s.batch * this.rowSize, keys, values, floats);
    for (let i = 0; i < count; i++) {
      s.positions.fill(positions[i], (n + i) * s.batch, (n + i + 1) * s.batch);
    }
    s.lengths.fill(n + count);
  }

  /**
   * Keeps only the entries at `indices` (strictly increasing cache indices) in `layer`, in
   * that order, compacting in place. Memory is kept for later appends; {@link KvCache.fit}
   * releases it.
   */
  keep(layer: number, indices: ArrayLike<number>): void {
    const s = this.#store(layer);
    for (const b of this.#samples(s)) {
      checkSortedIndices(indices, s.lengths[b], `KvCache.keep(layer ${layer})`);
    }
    const moves: RowMove[] = [];
    for (const b of this.#samples(s)) {
      // indices[i] ≥ i, so moving forward never overwrites an entry still to be read.
      for (let i = 0; i < indices.length; i++) {
        if (indices[i] !== i) s.move(moves, b, indices[i], i);
      }
      s.lengths[b] = indices.length;
    }
    s.rows.move(sortedMoves(moves));
  }

  /** Removes the single entry at cache index `index` of `layer`, shifting later entries down. */
  evict(layer: number, index: number): void {
    const s = this.#store(layer, false);
    for (const b of this.#samples(s)) if (s.pending[b] >= 0) s.flush();
    for (const b of this.#samples(s)) {
      const n = s.lengths[b];
      if (!Number.isInteger(index) || index < 0 || index >= n) {
        throw new Error(
          `KvCache.evict: index ${index} out of range [0, ${n}) in layer ${layer}`,
        );
      }
    }
    for (const b of this.#samples(s)) {
      const n = s.lengths[b];
      if (s.batch === 1) {
        const r = s.rowSize;
        s.rows.move([{ from: (index + 1) * r, to: index * r, count: (n - index - 1) * r }]);
        s.positions.copyWithin(index, index + 1, n);
      } else {
        s.pending[b] = index; // shifted by the next read (see LayerStore.flush)
      }
      s.lengths[b] = n - 1;
    }
  }

  /**
   * Merges entries into anchors (Elastic Cache style), in place. `anchors` are strictly
   * increasing cache indices that survive; `assignment[i]` is the anchor slot (index into
   * `anchors`) that entry `i` merges into, or -1 to drop it. Each anchor's key and value become
   * the mean over the entries assigned to it (the anchor itself must be assigned to its own
   * slot); its position stays the anchor's.
   */
  merge(layer: number, anchors: ArrayLike<number>, assignment: Int32Array): void {
    const s = this.#store(layer);
    const n = anchors.length;
    const r = s.rowSize;
    for (const b of this.#samples(s)) {
      const len = s.lengths[b];
      checkSortedIndices(anchors, len, `KvCache.merge(layer ${layer})`);
      if (assignment.length !== len) {
        throw new Error(
          `KvCache.merge: assignment has ${assignment.length} entries, layer ${layer} has ${len}`,
        );
      }
      for (let i = 0; i < len; i++) {
        const slot = assignment[i];
        if (slot !== -1 && (slot < 0 || slot >= n)) {
          throw new Error(`KvCache.merge: entry ${i} assigned to slot ${slot} of ${n}`);
        }
      }
      for (let k = 0; k < n; k++) {
        if (assignment[anchors[k]] !== k) {
          throw new Error(
            `KvCache.merge: anchor ${anchors[k]} must be assigned to its own slot ${k}`,
          );
        }
      }
    }
    for (const b of this.#samples(s)) {
      const len = s.lengths[b];
      const offsets = new Uint32Array(n + 1);
      for (let i = 0; i < len; i++) if (assignment[i] !== -1) offsets[assignment[i] + 1]++;
      for (let k = 0; k < n; k++) offsets[k + 1] += offsets[k];
      const members = new Uint32Array(offsets[n]);
      const fill = offsets.slice(0, n);
      for (let i = 0; i < len; i++) if (assignment[i] !== -1) members[fill[assignment[i]]++] = i;
      s.rows.merge({ sample: b, batch: s.batch, rowSize: r, offsets, members });
      for (let k = 0; k < n; k++) {
        s.positions[k * s.batch + b] = s.positions[anchors[k] * s.batch + b];
      }
      s.lengths[b] = n;
    }
  }

  /**
   * Reallocates every layer to hold exactly its entries plus `spare` more (per sample), e.g.
   * after the prefill's compaction with `spare` = tokens still to generate, so memory is
   * released and decode steps never reallocate. A layer already of that capacity is left
   * alone. Acts on the whole batch.
   */
  fit(spare = 0): void {
    if (!Number.isInteger(spare) || spare < 0) {
      throw new Error(`KvCache.fit: spare must be a non-negative integer, got ${spare}`);
    }
    for (const s of this.#stores) {
      s.flush();
      const want = s.maxLength + spare;
      if (s.capacity !== want) s.resize(want);
    }
  }

  /**
   * Frees every layer's buffers now (a GPU cache's device memory; CPU arrays are left to the
   * garbage collector) and leaves the cache empty, with no capacity.
   */
  release(): void {
    if (this.#sample !== -1) throw new Error(`KvCache.release: release the whole cache`);
    this.#stores = this.#stores.map((s) => {
      s.rows.release();
      return new LayerStore(this.rowSize, s.batch, 0, this.#storage);
    });
  }

  /** A deep copy of the whole batch (capacity = entries), on the CPU; CPU caches only. */
  clone(): KvCache {
    return KvCache.stack([this]);
  }

  /**
   * Stacks caches (or sample views) into one batch on the CPU, samples in order. Each layer
   * must hold the same number of entries in every cache; GPU caches are refused.
   */
  static stack(caches: readonly KvCache[]): KvCache {
    const first = caches[0];
    if (!first) throw new Error(`KvCache.stack: no caches given`);
    for (const c of caches) {
      if (
        c.numLayers !== first.numLayers || c.numKvHeads !== first.numKvHeads ||
        c.headDim !== first.headDim
      ) {
        throw new Error(`KvCache.stack: caches of different shapes`);
      }
      if (c.location !== "cpu") {
        throw new Error(
          `KvCache.stack: stacking copies rows on the CPU, and a cache here holds its rows on ` +
            `the ${c.location.toUpperCase()}; move it first (await cache.moveToCpu()), or make ` +
            `CPU caches (a webgpu model made with cacheLocation "cpu" keeps them there)`,
        );
      }
    }
    const parts = caches.flatMap((c) =>
      c.#sample === -1
        ? Array.from({ length: c.#stores[0].batch }, (_, b) => ({ c, b }))
        : [{ c, b: c.#sample }]
    );
    const batch = parts.length;
    const out = new KvCache(
      { numLayers: first.numLayers, numKvHeads: first.numKvHeads, headDim: first.headDim, batch },
      first.growth,
    );
    for (let l = 0; l < first.numLayers; l++) {
      const n = parts[0].c.#stores[l].lengths[parts[0].b];
      if (parts.some(({ c, b }) => c.#stores[l].lengths[b] !== n)) {
        throw new Error(
          `KvCache.stack: layer ${l} holds ${
            parts.map(({ c, b }) => c.#stores[l].lengths[b]).join(", ")
          } entries in the samples; a batch needs the same count per layer in every sample ` +
            `(use an allocation with fixed per-layer counts, such as an offline config)`,
        );
      }
      for (const { c } of parts) c.#stores[l].flush();
      const dst = out.#stores[l];
      dst.resize(n);
      const r = dst.rowSize;
      const into = dst.rows as CpuRows;
      parts.forEach(({ c, b: from }, to) => {
        const src = c.#stores[l];
        const rows = src.rows as CpuRows;
        for (let i = 0; i < n; i++) {
          const s = (i * src.batch + from) * r;
          const d = (i * batch + to) * r;
          into.keys.set(rows.keys.subarray(s, s + r), d);
          into.values.set(rows.values.subarray(s, s + r), d);
          dst.positions[i * batch + to] = src.positions[i * src.batch + from];
        }
      });
      dst.lengths.fill(n);
    }
    return out;
  }
}

function checkSortedIndices(indices: ArrayLike<number>, length: number, where: string): void {
  let prev = -1;
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (!Number.isInteger(v) || v <= prev || v >= length) {
      throw new Error(
        `${where}: indices must be strictly increasing integers in [0, ${length}); ` +
          `got ${v} at ${i}${prev >= 0 ? ` after ${prev}` : ""}`,
      );
    }
    prev = v;
  }
}
