/**
 * The redundancy oracle of issue 11: keep, in every layer, every text position plus exactly the
 * image patches the scene's objects cover (dilated by a margin of one patch) and an evenly spread
 * share of the remaining, background-only patches; evict the rest once, after prefill. A model
 * whose image evidence is redundant the way a real LLaVA's is scores (nearly) as well under this
 * cache as under the full one; a model that reads "nothing here" from every background patch
 * separately invents objects.
 *
 * @example The oracle of a 4×4 grid with one object patch, a quarter of the background kept
 * ```ts
 * import { oraclePatches } from "./oracle.ts";
 * const kept = oraclePatches([[5]], { grid: 4, margin: 0, backgroundShare: 0.25 });
 * console.log(kept.objects, kept.background); // [5] [1, 6, 10, 14] (15 background, 4 kept)
 * ```
 *
 * @module
 */
import {
  objectPixelMasks,
  type Scene,
  sceneStyle,
  STYLE_SPECS,
} from "../../lib/data/scenes/mod.ts";
import { InputError } from "../../lib/errors.ts";
import type { CachePolicy, PrefillInfo } from "../../lib/runtime/cache_policy.ts";
import type { KvCache } from "../../lib/runtime/kv_cache.ts";

/** Options of {@link oraclePatches}. */
export interface OracleOptions {
  /** Patches per side of the vision tower's grid. */
  grid: number;
  /** Patches of margin around each object (Chebyshev distance; default 1). */
  margin?: number;
  /** Share of the background patches kept, spread evenly in row-major order (default 0.25). */
  backgroundShare?: number;
}

/** Which image patches the oracle keeps (row-major patch indices, ascending). */
export interface OraclePatches {
  /** Object patches with their margin. */
  objects: number[];
  /** The background patches kept. */
  background: number[];
  /** Both, merged. */
  kept: number[];
}

/**
 * The patches each of a scene's objects covers on a `grid × grid` patch grid: a patch counts
 * when any pixel of it is covered by the object ({@link objectPixelMasks}).
 */
export function objectPatchIndices(scene: Scene, grid: number): number[][] {
  const size = STYLE_SPECS[sceneStyle(scene)].imageSize;
  if (!Number.isInteger(grid) || grid < 1 || size % grid !== 0) {
    throw new InputError(
      `oracle: a ${grid}-patch grid does not tile the ${size}-pixel scenes; give a vision ` +
        `tower whose image size over patch size divides ${size}`,
    );
  }
  const patch = size / grid;
  return objectPixelMasks(scene).map((mask) => {
    const cells = new Set<number>();
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        if (mask[y * size + x]) cells.add(Math.floor(y / patch) * grid + Math.floor(x / patch));
      }
    }
    return [...cells].sort((a, b) => a - b);
  });
}

/**
 * The oracle's patches: the union of `objectPatches` dilated by `margin`, plus
 * `round(share · B)` of the B other patches at evenly spaced ranks
 * (`floor((k + ½) · B / m)`, k = 0..m−1).
 */
export function oraclePatches(
  objectPatches: readonly (readonly number[])[],
  opts: OracleOptions,
): OraclePatches {
  const { grid } = opts;
  const margin = opts.margin ?? 1;
  const share = opts.backgroundShare ?? 0.25;
  if (!Number.isInteger(margin) || margin < 0) {
    throw new InputError(`oracle: margin must be a whole number of patches, got ${margin}`);
  }
  if (!(share >= 0 && share <= 1)) {
    throw new InputError(`oracle: backgroundShare must be in [0, 1], got ${share}`);
  }
  const near = new Uint8Array(grid * grid);
  for (const p of objectPatches.flat()) {
    if (!Number.isInteger(p) || p < 0 || p >= grid * grid) {
      throw new InputError(`oracle: patch ${p} is outside the ${grid}×${grid} grid`);
    }
    const r = Math.floor(p / grid), c = p % grid;
    for (let y = Math.max(0, r - margin); y <= Math.min(grid - 1, r + margin); y++) {
      for (let x = Math.max(0, c - margin); x <= Math.min(grid - 1, c + margin); x++) {
        near[y * grid + x] = 1;
      }
    }
  }
  const objects: number[] = [], rest: number[] = [];
  near.forEach((v, i) => (v ? objects : rest).push(i));
  const m = Math.round(share * rest.length);
  const background = Array.from(
    { length: m },
    (_, k) => rest[Math.floor(((k + 0.5) * rest.length) / m)],
  );
  const kept = [...objects, ...background].sort((a, b) => a - b);
  return { objects, background, kept };
}

/**
 * A cache policy that, after prefill, keeps in every layer all positions outside the image span
 * and, inside it, the image patches `patches` (indices into the span); decoding then appends as
 * usual. It needs no attention, so decoding runs at full speed.
 */
export class FixedImagePatchesPolicy implements CachePolicy {
  /** No attention needed. */
  readonly needs = { prefill: "none", step: false } as const;
  /** Positions kept by the last prefill (ascending). */
  kept: number[] = [];

  /** Keeps `patches` (ascending indices into the image span). */
  constructor(readonly patches: readonly number[]) {}

  afterPrefill(cache: KvCache, info: PrefillInfo): void {
    const span = info.imageSpan;
    if (!span) throw new InputError("oracle: the prompt has no image span");
    const count = span.end - span.start;
    if (this.patches.some((p) => p >= count)) {
      throw new InputError(`oracle: a patch index is outside the ${count} image tokens`);
    }
    const keep: number[] = [];
    for (let i = 0; i < span.start; i++) keep.push(i);
    for (const p of this.patches) keep.push(span.start + p);
    for (let i = span.end; i < info.promptLength; i++) keep.push(i);
    this.kept = keep;
    for (let l = 0; l < cache.numLayers; l++) cache.keep(l, keep);
  }

  afterStep(): void {}
}
