/**
 * A key/value cache with one buffer per layer. Layers hold different numbers of entries
 * (PrefixKV keeps a different prefix per layer), so nothing here assumes a common length.
 *
 * Storage is token-major, `[capacity, kvHeads, headDim]` per layer, so the first `length` rows
 * are a contiguous view that can be handed to the runtime without copying, appending writes
 * rows at the end, and keeping a sorted index set compacts rows in place. `keep` and `merge`
 * reallocate to the kept size, so memory is really released; {@link KvCache.bytesHeld} reports
 * the bytes of the buffers actually allocated.
 *
 * This is the only meeting point of recipes and the runtime: recipes call `keep`, `evict`,
 * `merge` and read lengths and positions; the runtime calls `append` and reads the views.
 *
 * @module
 */

/** Shape of a cache: layers × KV heads × head dimension. */
export interface KvCacheShape {
  /** Number of decoder layers. */
  numLayers: number;
  /** Key/value heads per layer. */
  numKvHeads: number;
  /** Floats per head of one key or value. */
  headDim: number;
}

class LayerBuffer {
  keys: Float32Array;
  values: Float32Array;
  positions: Int32Array;
  length = 0;

  constructor(readonly rowSize: number, capacity: number) {
    this.keys = new Float32Array(capacity * rowSize);
    this.values = new Float32Array(capacity * rowSize);
    this.positions = new Int32Array(capacity);
  }

  get capacity(): number {
    return this.positions.length;
  }

  resize(capacity: number): void {
    const n = this.length * this.rowSize;
    const keys = new Float32Array(capacity * this.rowSize);
    const values = new Float32Array(capacity * this.rowSize);
    const positions = new Int32Array(capacity);
    keys.set(this.keys.subarray(0, n));
    values.set(this.values.subarray(0, n));
    positions.set(this.positions.subarray(0, this.length));
    this.keys = keys;
    this.values = values;
    this.positions = positions;
  }
}

/** Per-layer KV storage for one sequence (batch size 1). */
export class KvCache {
  /** Number of decoder layers. */
  readonly numLayers: number;
  /** Key/value heads per layer. */
  readonly numKvHeads: number;
  /** Floats per head of one key or value. */
  readonly headDim: number;
  /** Floats per cached entry (one token of one layer): `kvHeads · headDim`. */
  readonly rowSize: number;
  /** Extra rows allocated when a layer grows, so decoding does not reallocate every step. */
  readonly growth: number;
  #layers: LayerBuffer[];

  /**
   * Creates an empty cache.
   *
   * @param shape layers, KV heads and head dimension
   * @param growth rows added beyond need whenever a layer must grow (default 32)
   */
  constructor(shape: KvCacheShape, growth = 32) {
    for (const [k, v] of Object.entries(shape)) {
      if (!Number.isInteger(v) || v <= 0) {
        throw new Error(`KvCache: ${k} must be a positive integer, got ${v}`);
      }
    }
    this.numLayers = shape.numLayers;
    this.numKvHeads = shape.numKvHeads;
    this.headDim = shape.headDim;
    this.rowSize = shape.numKvHeads * shape.headDim;
    this.growth = growth;
    this.#layers = Array.from({ length: shape.numLayers }, () => new LayerBuffer(this.rowSize, 0));
  }

  #layer(layer: number): LayerBuffer {
    const buf = this.#layers[layer];
    if (!buf) throw new Error(`KvCache: layer ${layer} out of range [0, ${this.numLayers})`);
    return buf;
  }

  /** Number of entries held by `layer`. */
  length(layer: number): number {
    return this.#layer(layer).length;
  }

  /** Entries held by every layer. */
  lengths(): number[] {
    return this.#layers.map((l) => l.length);
  }

  /** Total entries held over all layers. */
  entriesHeld(): number {
    return this.#layers.reduce((s, l) => s + l.length, 0);
  }

  /** Bytes of the key, value and position buffers currently allocated. */
  bytesHeld(): number {
    return this.#layers.reduce(
      (s, l) => s + l.keys.byteLength + l.values.byteLength + l.positions.byteLength,
      0,
    );
  }

  /** Keys of `layer` as a view `[length, kvHeads, headDim]` (no copy; invalidated by writes). */
  keys(layer: number): Float32Array {
    const l = this.#layer(layer);
    return l.keys.subarray(0, l.length * this.rowSize);
  }

  /** Values of `layer` as a view `[length, kvHeads, headDim]` (no copy; invalidated by writes). */
  values(layer: number): Float32Array {
    const l = this.#layer(layer);
    return l.values.subarray(0, l.length * this.rowSize);
  }

  /** Original token positions of the entries of `layer`, in cache order (a view). */
  positions(layer: number): Int32Array {
    const l = this.#layer(layer);
    return l.positions.subarray(0, l.length);
  }

  /**
   * Appends entries to `layer`. `keys` and `values` are `[count, kvHeads, headDim]`;
   * `positions` gives each entry's original token position.
   */
  append(layer: number, keys: Float32Array, values: Float32Array, positions: ArrayLike<number>) {
    const l = this.#layer(layer);
    const count = positions.length;
    if (keys.length !== count * this.rowSize || values.length !== count * this.rowSize) {
      throw new Error(
        `KvCache.append: layer ${layer} expects ${count}×${this.numKvHeads}×${this.headDim} ` +
          `floats for keys and values, got ${keys.length} and ${values.length}`,
      );
    }
    if (l.length + count > l.capacity) {
      // The first fill (the prefill) is sized exactly, so a layer that keeps everything holds no
      // spare rows; later appends (decoding) grow in steps of `growth` rows.
      l.resize(l.length + count + (l.length === 0 ? 0 : this.growth));
    }
    const at = l.length * this.rowSize;
    l.keys.set(keys, at);
    l.values.set(values, at);
    for (let i = 0; i < count; i++) l.positions[l.length + i] = positions[i];
    l.length += count;
  }

  /**
   * Keeps only the entries at `indices` (strictly increasing cache indices) in `layer`, in
   * that order, and releases the memory of the others.
   */
  keep(layer: number, indices: ArrayLike<number>): void {
    const l = this.#layer(layer);
    checkSortedIndices(indices, l.length, `KvCache.keep(layer ${layer})`);
    const n = indices.length;
    const next = new LayerBuffer(this.rowSize, n);
    const r = this.rowSize;
    for (let i = 0; i < n; i++) {
      const src = indices[i];
      next.keys.set(l.keys.subarray(src * r, src * r + r), i * r);
      next.values.set(l.values.subarray(src * r, src * r + r), i * r);
      next.positions[i] = l.positions[src];
    }
    next.length = n;
    this.#layers[layer] = next;
  }

  /** Removes the single entry at cache index `index` of `layer`, shifting later entries down. */
  evict(layer: number, index: number): void {
    const l = this.#layer(layer);
    if (!Number.isInteger(index) || index < 0 || index >= l.length) {
      throw new Error(
        `KvCache.evict: index ${index} out of range [0, ${l.length}) in layer ${layer}`,
      );
    }
    const r = this.rowSize;
    l.keys.copyWithin(index * r, (index + 1) * r, l.length * r);
    l.values.copyWithin(index * r, (index + 1) * r, l.length * r);
    l.positions.copyWithin(index, index + 1, l.length);
    l.length -= 1;
  }

  /**
   * Merges entries into anchors (Elastic Cache style). `anchors` are strictly increasing cache
   * indices that survive; `assignment[i]` is the anchor slot (index into `anchors`) that entry
   * `i` merges into, or -1 to drop it. Each anchor's key and value become the mean over the
   * entries assigned to it (the anchor itself must be assigned to its own slot); its position
   * stays the anchor's.
   */
  merge(layer: number, anchors: ArrayLike<number>, assignment: Int32Array): void {
    const l = this.#layer(layer);
    checkSortedIndices(anchors, l.length, `KvCache.merge(layer ${layer})`);
    if (assignment.length !== l.length) {
      throw new Error(
        `KvCache.merge: assignment has ${assignment.length} entries, layer ${layer} has ${l.length}`,
      );
    }
    const n = anchors.length;
    const r = this.rowSize;
    const next = new LayerBuffer(r, n);
    const counts = new Float64Array(n);
    const sumK = new Float64Array(n * r);
    const sumV = new Float64Array(n * r);
    for (let i = 0; i < l.length; i++) {
      const slot = assignment[i];
      if (slot === -1) continue;
      if (slot < 0 || slot >= n) {
        throw new Error(`KvCache.merge: entry ${i} assigned to slot ${slot} of ${n}`);
      }
      counts[slot] += 1;
      for (let j = 0; j < r; j++) {
        sumK[slot * r + j] += l.keys[i * r + j];
        sumV[slot * r + j] += l.values[i * r + j];
      }
    }
    for (let s = 0; s < n; s++) {
      if (assignment[anchors[s]] !== s) {
        throw new Error(
          `KvCache.merge: anchor ${anchors[s]} must be assigned to its own slot ${s}`,
        );
      }
      for (let j = 0; j < r; j++) {
        next.keys[s * r + j] = sumK[s * r + j] / counts[s];
        next.values[s * r + j] = sumV[s * r + j] / counts[s];
      }
      next.positions[s] = l.positions[anchors[s]];
    }
    next.length = n;
    this.#layers[layer] = next;
  }

  /** A deep copy (exact capacity). */
  clone(): KvCache {
    const copy = new KvCache(
      { numLayers: this.numLayers, numKvHeads: this.numKvHeads, headDim: this.headDim },
      this.growth,
    );
    for (let i = 0; i < this.numLayers; i++) {
      copy.append(i, this.keys(i).slice(), this.values(i).slice(), this.positions(i));
    }
    return copy;
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
