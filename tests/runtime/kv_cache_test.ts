import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { CpuRows, KvCache } from "../../lib/runtime/kv_cache.ts";
import { mulberry32 } from "../../lib/random.ts";

const SHAPE = { numLayers: 2, numKvHeads: 2, headDim: 3 };
const ROW = SHAPE.numKvHeads * SHAPE.headDim;
const BYTES_PER_ENTRY = 2 * ROW * 4 + 4;

/** Entries as plain rows: what a cache should hold, gathered by hand. */
interface Rows {
  keys: number[][];
  values: number[][];
  positions: number[];
}

function randomRows(n: number, seed: number): Rows {
  const u = mulberry32(seed);
  const row = () => Array.from({ length: ROW }, () => Math.fround(u() * 2 - 1));
  return {
    keys: Array.from({ length: n }, row),
    values: Array.from({ length: n }, row),
    positions: Array.from({ length: n }, (_, i) => 10 + i),
  };
}

/** A batch cache whose sample b holds `rows[b]` in layer 0 and in layer 1. */
function cacheOf(rows: Rows[]): KvCache {
  const batch = rows.length;
  const cache = new KvCache({ ...SHAPE, batch });
  const n = rows[0].positions.length;
  const interleave = (pick: (r: Rows) => number[][]) =>
    Float32Array.from(
      Array.from({ length: n }, (_, i) => rows.flatMap((r) => pick(r)[i])).flat(),
    );
  for (let l = 0; l < SHAPE.numLayers; l++) {
    cache.append(l, interleave((r) => r.keys), interleave((r) => r.values), rows[0].positions);
  }
  return cache;
}

function held(cache: KvCache, layer: number): Rows {
  const keys = cache.keys(layer);
  const values = cache.values(layer);
  const n = cache.length(layer);
  const at = (d: Float32Array, i: number) => [...d.subarray(i * ROW, (i + 1) * ROW)];
  return {
    keys: Array.from({ length: n }, (_, i) => at(keys, i)),
    values: Array.from({ length: n }, (_, i) => at(values, i)),
    positions: [...cache.positions(layer)],
  };
}

function gather(r: Rows, idx: number[]): Rows {
  return {
    keys: idx.map((i) => r.keys[i]),
    values: idx.map((i) => r.values[i]),
    positions: idx.map((i) => r.positions[i]),
  };
}

Deno.test("KvCache: keep, evict and merge compact in place and equal a gather by hand", () => {
  const rows = randomRows(9, 1);
  const cache = cacheOf([rows]);
  const before = cache.keys(0).buffer;
  cache.keep(0, [0, 2, 3, 7, 8]);
  assertEquals(held(cache, 0), gather(rows, [0, 2, 3, 7, 8]));
  assert(cache.keys(0).buffer === before, "keep reallocated");
  assertEquals(cache.capacity(0), 9);
  cache.evict(0, 1); // drops entry 2
  assertEquals(held(cache, 0), gather(rows, [0, 3, 7, 8]));
  // Merge 0 ← {0, 3}, 7 ← {7}, drop 8: means by hand.
  cache.merge(0, [0, 2], Int32Array.of(0, 0, 1, -1));
  const mean = (a: number[], b: number[]) => a.map((x, i) => Math.fround((x + b[i]) / 2));
  assertEquals(held(cache, 0), {
    keys: [mean(rows.keys[0], rows.keys[3]), rows.keys[7]],
    values: [mean(rows.values[0], rows.values[3]), rows.values[7]],
    positions: [10, 17],
  });
  assert(cache.keys(0).buffer === before, "merge reallocated");
  // Untouched layer, bytes of entries, and fit releasing the freed rows.
  assertEquals(held(cache, 1), rows);
  assertEquals(cache.bytesHeld(), (2 + 9) * BYTES_PER_ENTRY);
  assertEquals(cache.bytesAllocated(), (9 + 9) * BYTES_PER_ENTRY);
  cache.fit(4);
  assertEquals([cache.capacity(0), cache.capacity(1)], [6, 13]);
  assertEquals(held(cache, 0).positions, [10, 17]);
  assertEquals(cache.bytesAllocated(), (6 + 13) * BYTES_PER_ENTRY);
});

Deno.test("KvCache: appends within the spare capacity write in place", () => {
  const cache = cacheOf([randomRows(4, 2)]);
  cache.fit(3);
  const buffer = cache.keys(0).buffer;
  for (let i = 0; i < 3; i++) {
    cache.append(0, new Float32Array(ROW).fill(i), new Float32Array(ROW), [20 + i]);
  }
  assert(cache.keys(0).buffer === buffer, "an append within capacity reallocated");
  assertEquals([...cache.positions(0)], [10, 11, 12, 13, 20, 21, 22]);
  // Past the capacity, the layer grows by `growth` rows beyond need.
  cache.append(0, new Float32Array(ROW), new Float32Array(ROW), [23]);
  assertEquals(cache.capacity(0), 8 + cache.growth);
});

Deno.test("KvCache: sample views keep each sample's own entries in place", () => {
  const rows = [randomRows(6, 3), randomRows(6, 4), randomRows(6, 5)];
  const cache = cacheOf(rows);
  assertEquals(cache.batch, 3);
  const picks = [[0, 1, 5], [2, 3, 4], [0, 4, 5]];
  picks.forEach((idx, b) => cache.sample(b).keep(0, idx));
  picks.forEach((idx, b) => {
    const view = cache.sample(b);
    assertEquals(view.batch, 1);
    assertEquals(held(view, 0), gather(rows[b], idx));
    assertEquals(held(view, 1), rows[b]);
  });
  assertEquals(cache.lengths(), [3, 6]);
  assertEquals(cache.entriesHeld(), 3 * (3 + 6));
  // A batch row holds one entry of every sample: the whole-batch view interleaves them.
  const whole = cache.keys(0);
  assertEquals([...whole.subarray(ROW, 2 * ROW)], rows[1].keys[2]);
  // Unequal counts are reported when the whole batch is read.
  cache.sample(1).evict(0, 0);
  assertThrows(() => cache.length(0), Error, "different numbers of entries");
  cache.sample(0).evict(0, 0);
  cache.sample(2).evict(0, 0);
  assertEquals(cache.length(0), 2);
  // Evictions are shifted lazily (all samples at once when they agree): the data is the gather.
  picks.forEach((idx, b) => assertEquals(held(cache.sample(b), 0), gather(rows[b], idx.slice(1))));
  for (const b of [0, 1, 2]) cache.sample(b).evict(0, 1); // the same index everywhere
  picks.forEach((idx, b) => assertEquals(held(cache.sample(b), 0), gather(rows[b], [idx[1]])));
  cache.sample(0).evict(1, 2);
  cache.sample(1).evict(1, 5); // different indices
  cache.sample(2).evict(1, 0);
  const dropped = [2, 5, 0];
  dropped.forEach((d, b) => {
    const idx = [0, 1, 2, 3, 4, 5].filter((i) => i !== d);
    assertEquals(held(cache.sample(b), 1), gather(rows[b], idx));
  });
  cache.sample(0).evict(0, 0);
  cache.sample(1).evict(0, 0);
  cache.sample(2).evict(0, 0);
  assertEquals(cache.length(0), 0);
  assertThrows(() => cache.positions(0), Error, "cache.sample(b).positions");
});

Deno.test("KvCache: stack and clone copy samples; stacking needs equal counts per layer", () => {
  const a = cacheOf([randomRows(5, 6)]);
  const b = cacheOf([randomRows(5, 7)]);
  const both = KvCache.stack([a, b]);
  assertEquals(both.batch, 2);
  assertEquals(held(both.sample(1), 0), held(b, 0));
  const copy = both.clone();
  copy.sample(0).keep(1, [4]);
  assertEquals(both.sample(0).length(1), 5, "clone shares storage");
  b.keep(0, [1, 2]);
  assertThrows(() => KvCache.stack([a, b]), Error, "same count per layer");
});

/** Rows held "elsewhere" (CPU arrays that say `"gpu"`), counting reads and releases. */
class ElsewhereRows extends CpuRows {
  override readonly location = "gpu" as const;
  static reads = 0;
  static released = 0;
  override read(at: number, count: number) {
    ElsewhereRows.reads++;
    return super.read(at, count);
  }
  override resized(floats: number, used: number): ElsewhereRows {
    const out = new ElsewhereRows(floats);
    out.write(0, this.keys.subarray(0, used), this.values.subarray(0, used), used);
    return out;
  }
  override release(): void {
    ElsewhereRows.released++;
  }
}

Deno.test("KvCache: moveToCpu brings rows home with one read per layer, contents kept", async () => {
  const cache = new KvCache({ ...SHAPE, batch: 2 }, 4, (floats) => new ElsewhereRows(floats));
  const twin = new KvCache({ ...SHAPE, batch: 2 }, 4);
  const u = mulberry32(5);
  const rows = () => Float32Array.from({ length: 6 * 2 * ROW }, () => u());
  for (const l of [0, 1]) {
    const [k, v] = [rows(), rows()];
    for (const c of [cache, twin]) c.append(l, k, v, [0, 1, 2, 3, 4, 5]);
  }
  for (const c of [cache, twin]) {
    c.sample(0).evict(0, 1); // deferred evictions, carried out by the move
    c.sample(1).evict(0, 4);
  }
  const want = [0, 1].map((l) => ({ keys: twin.keys(l), values: twin.values(l) }));
  const [capacity, positions] = [twin.capacity(0), [...twin.sample(1).positions(0)]];
  await assertRejects(() => cache.sample(0).moveToCpu(), Error, "the whole cache");
  await cache.moveToCpu();
  assertEquals([cache.location, ElsewhereRows.reads, ElsewhereRows.released], ["cpu", 2, 2]);
  for (const l of [0, 1]) {
    assertEquals([...cache.keys(l)], [...want[l].keys]);
    assertEquals([...cache.values(l)], [...want[l].values]);
  }
  assertEquals([cache.capacity(0), [...cache.sample(1).positions(0)]], [capacity, positions]);
  await cache.moveToCpu(); // a CPU cache stays as it is
  assertEquals(ElsewhereRows.reads, 2);
  cache.release(); // new layers come from CPU storage now
  cache.append(0, rows().subarray(0, 2 * ROW), rows().subarray(0, 2 * ROW), [9]);
  assertEquals([cache.location, cache.length(0)], ["cpu", 1]);
});
