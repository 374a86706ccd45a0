import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { generateScene } from "../../lib/data/scenes/generator.ts";
import { InputError } from "../../lib/errors.ts";
import { KvCache } from "../../lib/runtime/kv_cache.ts";
import {
  FixedImagePatchesPolicy,
  objectPatchIndices,
  oraclePatches,
} from "../../experiments/redundancy/oracle.ts";
import {
  checkTargets,
  giniSpan,
  nllAdded,
  nllByBudget,
  type SceneScoreSet,
} from "../../experiments/redundancy/targets.ts";
import type { CellSummary } from "../../experiments/run/cells.ts";
import { objectPatchSets } from "../../experiments/run/samples.ts";

Deno.test("oracle: object patches dilated by one patch, a quarter of the rest at even ranks", () => {
  // 5×5 grid, one object on patch 12 (the centre): margin 1 keeps the 3×3 block 6..8, 11..13,
  // 16..18; 16 background patches remain, of which round(16/4) = 4 at ranks 2, 6, 10, 14.
  const o = oraclePatches([[12]], { grid: 5 });
  assertEquals(o.objects, [6, 7, 8, 11, 12, 13, 16, 17, 18]);
  const rest = [0, 1, 2, 3, 4, 5, 9, 10, 14, 15, 19, 20, 21, 22, 23, 24];
  assertEquals(o.background, [rest[2], rest[6], rest[10], rest[14]]);
  assertEquals(o.kept, [...o.objects, ...o.background].sort((a, b) => a - b));
  // At a corner the margin is clipped to the grid; share 0 keeps no background; share 1 all.
  assertEquals(oraclePatches([[0]], { grid: 5, backgroundShare: 0 }).kept, [0, 1, 5, 6]);
  assertEquals(oraclePatches([[0]], { grid: 5, backgroundShare: 1 }).kept.length, 25);
  assertThrows(() => oraclePatches([[25]], { grid: 5 }), InputError, "outside the 5×5 grid");
  assertThrows(() => oraclePatches([[1]], { grid: 5, margin: -1 }), InputError, "margin");
});

Deno.test("object patch indices: a lone basic object's patches are the 8-pixel cells it touches", () => {
  const scene = generateScene(3, "test", 0);
  const patches = objectPatchIndices(scene, 8);
  scene.objects.forEach((o, k) => {
    const r = { small: 4, large: 8 }[o.size];
    // Every patch lies within the shape's bounding box, and the centre's patch is among them.
    for (const p of patches[k]) {
      const py = Math.floor(p / 8), px = p % 8;
      assert(px * 8 < o.cx + r + 1 && (px + 1) * 8 > o.cx - r - 1, `patch ${p} of object ${k}`);
      assert(py * 8 < o.cy + r + 1 && (py + 1) * 8 > o.cy - r - 1, `patch ${p} of object ${k}`);
    }
    assert(patches[k].includes(Math.floor(o.cy / 8) * 8 + Math.floor(o.cx / 8)));
  });
  assertThrows(() => objectPatchIndices(scene, 5), InputError, "does not tile");
  assertEquals(objectPatchIndices(generateScene(3, "test", 0, "rich"), 14).length, 2);
});

Deno.test("fixed-patches policy keeps text and the chosen image patches in every layer", () => {
  const n = 10;
  const cache = new KvCache({ numLayers: 2, numKvHeads: 1, headDim: 1 });
  const rows = Float32Array.from({ length: n }, (_, i) => i);
  for (let l = 0; l < 2; l++) cache.append(l, rows, rows, Array.from(rows));
  const policy = new FixedImagePatchesPolicy([0, 3]);
  policy.afterPrefill(cache, { promptLength: n, imageSpan: { start: 2, end: 7 } });
  assertEquals(policy.kept, [0, 1, 2, 5, 7, 8, 9]);
  for (let l = 0; l < 2; l++) {
    assertEquals(Array.from(cache.positions(l)), policy.kept);
    assertEquals(Array.from(cache.keys(l)), policy.kept); // the rows moved with their positions
  }
  assertThrows(
    () =>
      new FixedImagePatchesPolicy([5]).afterPrefill(cache, {
        promptLength: n,
        imageSpan: { start: 2, end: 7 },
      }),
    InputError,
  );
});

const cell = (
  label: string,
  budget: number,
  ppl: number,
): CellSummary => ({ label, method: label, budget, ppl } as unknown as CellSummary);

Deno.test("NLL added and the ranking per budget, from hand numbers", () => {
  assertAlmostEquals(nllAdded(2.04, 1.015), Math.log(2.04 / 1.015), 1e-12);
  const by = nllByBudget(
    [
      cell("full", 1, 1.1),
      cell("a", 0.5, 1.3),
      cell("b", 0.5, 1.2),
      cell("a", 0.2, 2),
      cell("b", 0.2, 4),
    ],
    1.1,
  );
  assertEquals(by.map((b) => b.budget), [0.5, 0.2]);
  assertEquals(by[0].best.label, "b");
  assertAlmostEquals(by[0].best.nllAdded, Math.log(1.2 / 1.1), 1e-12);
  assertEquals(by[1].best.label, "a");
  assertAlmostEquals(by[1].spread, Math.log(2), 1e-12);
});

Deno.test("targets: bars of issue 11, met and missed", () => {
  const full: SceneScoreSet = {
    objectsFullyRight: 0.96,
    descriptionsWithoutInventedObject: 0.91,
    descriptionsExact: 0.9,
    shortQuestionsRight: 0.92,
  };
  const oracle = { ...full, descriptionsWithoutInventedObject: 0.61 };
  const nll = nllByBudget([cell("full", 1, 1), cell("x", 0.5, 1.1), cell("x", 0.2, 2)], 1);
  const checks = checkTargets({
    full,
    oracle,
    nll,
    reference: { gini: [0.2, 0.3, 0.4] } as never,
    imageTokenShare: 0.76,
    promptLength: 84,
  });
  const met = Object.fromEntries(checks.map((c) => [c.name, c.met]));
  assertEquals(met["full cache: objects fully right"], true);
  assertEquals(met["oracle − full: descriptionsWithoutInventedObject (points)"], false);
  assertEquals(met["oracle − full: objectsFullyRight (points)"], true);
  assertEquals(met["best recipe at 50 % kept (x): NLL added"], true); // ln 1.1 = 0.095
  assertEquals(met["best recipe at 20 % kept (x): NLL added"], false); // ln 2 = 0.69
  assertEquals(met["prompt length (entries)"], false);
  assertEquals(met["image-token share of the prompt"], true);
  assertAlmostEquals(giniSpan([0.2, 0.3, 0.4]), 0.2, 1e-12);
  assertEquals(met["per-layer Gini span"], true);
});

Deno.test("object patch indices equal the runner's object patches on basic scenes", () => {
  for (let i = 0; i < 40; i++) {
    const scene = generateScene(3, "test", i);
    assertEquals(objectPatchIndices(scene, 8), objectPatchSets(scene, 8), scene.id);
  }
});
