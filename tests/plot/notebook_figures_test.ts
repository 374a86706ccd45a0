/**
 * The notebooks' figures (attention, patch grid, kept entries, efficiency): each rendered
 * headless, its SVG parsed back and its marks counted against the data given.
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { parseHTML } from "linkedom";
import ndarray from "ndarray";
import { generateScene, renderScene, SIZE_RADIUS } from "../../lib/data/scenes/mod.ts";
import { attentionMaps, importanceOverPrompt, priorityCurves } from "../../lib/plot/attention.ts";
import { latencyVsBudget } from "../../lib/plot/efficiency.ts";
import { keptOverPrompt, keptRatioBars, keptTokensMarkdown } from "../../lib/plot/kept.ts";
import {
  imagePatchValues,
  keptPatches,
  objectPatches,
  patchHeatmap,
} from "../../lib/plot/patch_grid.ts";
import { type PlotSpec, renderSvg } from "../../lib/plot/render.ts";

/** The rendered SVG as a document, to count marks by their class. */
function rendered(spec: PlotSpec) {
  const svg = renderSvg(spec);
  assert(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  const { document } = parseHTML(`<html><body>${svg}</body></html>`) as unknown as {
    document: { querySelectorAll(selector: string): { length: number } };
  };
  const count = (selector: string) => document.querySelectorAll(selector).length;
  return { svg, count };
}

/** A causal row-stochastic [n, n] matrix: row q spreads evenly over keys 0..q. */
function causal(n: number) {
  const data = new Float32Array(n * n);
  for (let q = 0; q < n; q++) for (let k = 0; k <= q; k++) data[q * n + k] = 1 / (q + 1);
  return ndarray(data, [n, n]);
}

Deno.test("attentionMaps: one cell per non-zero causal entry of each layer, span lines", () => {
  const n = 6;
  const fig = rendered(attentionMaps(
    [{ layer: 0, matrix: causal(n) }, { layer: 3, matrix: causal(n) }],
    { imageSpan: { start: 1, end: 4 } },
  ));
  assertEquals(fig.count("g.attention-cell rect"), 2 * (n * (n + 1)) / 2);
  assert(fig.svg.includes(">L0<") && fig.svg.includes(">L3<"));
  // Two vertical and two horizontal dashed lines per panel.
  assertEquals(fig.count('line[stroke-dasharray="3,2"], g[stroke-dasharray="3,2"] line'), 8);
  assertThrows(
    () => attentionMaps([{ layer: 1, matrix: ndarray(new Float32Array(6), [2, 3]) }]),
    Error,
    "layer 1's matrix has shape [2,3], not [N, N]",
  );
});

Deno.test("importanceOverPrompt: a line and an image-span band per layer; unknown layers are errors", () => {
  const importance = [0, 1, 2].map((l) => Array.from({ length: 12 }, (_, i) => 1 + ((i + l) % 4)));
  const fig = rendered(importanceOverPrompt(importance, {
    layers: [0, 2],
    imageSpan: { start: 3, end: 9 },
  }));
  assertEquals(fig.count("g.image-span rect"), 2);
  assertEquals(fig.count('g[stroke="#1d3557"] path, path[stroke="#1d3557"]'), 2);
  assertThrows(() => importanceOverPrompt(importance, { layers: [5] }), Error, "no layer 5");
});

Deno.test("priorityCurves: a curve per layer, or per layer and sample in panels", () => {
  const curve = (k: number) => Array.from({ length: 11 }, (_, i) => Math.pow(i / 10, 1 / k));
  const one = rendered(
    priorityCurves([0, 1, 2].map((layer) => ({ layer, prefixCurve: curve(layer + 1) }))),
  );
  assertEquals(one.count("g.priority-curve path"), 3);
  const many = rendered(priorityCurves(
    [0, 1].flatMap((layer) =>
      ["a", "b", "c"].map((sample, s) => ({ layer, sample, prefixCurve: curve(s + 1) }))
    ),
  ));
  assertEquals(many.count("g.priority-curve path"), 6);
  assert(many.svg.includes(">L1<"));
});

Deno.test("objectPatches: each object covers its centre's patch and stays in its box", () => {
  for (let index = 0; index < 20; index++) {
    const scene = generateScene(3, "test", index);
    const found = objectPatches(scene, { grid: 8 });
    assertEquals(found.length, scene.objects.length);
    scene.objects.forEach((o, i) => {
      const r = SIZE_RADIUS[o.size];
      const patch = (x: number, y: number) => Math.floor(y / 8) * 8 + Math.floor(x / 8);
      assert(found[i].patches.includes(patch(o.cx, o.cy)), `${scene.id} object ${i}: centre`);
      for (const p of found[i].patches) {
        const row = Math.floor(p / 8), col = p % 8;
        assert(col * 8 <= o.cx + r + 1 && (col + 1) * 8 > o.cx - r - 1, `${scene.id}: column`);
        assert(row * 8 <= o.cy + r + 1 && (row + 1) * 8 > o.cy - r - 1, `${scene.id}: row`);
      }
      assertEquals(found[i].label, `${o.size} ${o.color} ${o.shape}`);
    });
  }
});

Deno.test("imagePatchValues: the span's values, checked against the grid and the array", () => {
  const values = Array.from({ length: 10 }, (_, i) => i);
  assertEquals(imagePatchValues(values, { start: 2, end: 6 }, 2), [2, 3, 4, 5]);
  assertThrows(() => imagePatchValues(values, { start: 2, end: 7 }, 2), Error, "holds 5 positions");
  assertThrows(() => imagePatchValues(values, { start: 8, end: 12 }, 2), Error, "past 10 values");
});

Deno.test("patchHeatmap and keptPatches: the picture, a cell per patch, outlines per object patch", () => {
  const scene = generateScene(3, "test", 4);
  const picture = renderScene(scene);
  const outlines = objectPatches(scene, { grid: 8 });
  const outlined = outlines.reduce((s, o) => s + o.patches.length, 0);
  const panels = ["L0", "L1", "L2"].map((title, l) => ({
    title,
    values: Array.from({ length: 64 }, (_, i) => (i * (l + 1)) % 7),
  }));
  const heat = rendered(patchHeatmap(picture, panels, { outlines }));
  assertEquals(heat.count("image.patch-picture"), 3);
  assert(heat.svg.includes('href="data:image/png;base64,'));
  assertEquals(heat.count("g.patch-value rect"), 3 * 64);
  assertEquals(heat.count("g.object-patch rect"), 3 * outlined);

  const masks = panels.map((p) => ({ ...p, values: p.values.map((v) => (v > 2 ? 1 : 0)) }));
  const evicted = masks.reduce((s, p) => s + p.values.filter((v) => v === 0).length, 0);
  const kept = rendered(keptPatches(picture, masks, { outlines, columns: 2 }));
  assertEquals(kept.count("g.patch-evicted rect"), evicted);
  assertEquals(kept.count("g.object-patch rect"), 3 * outlined);
  assertThrows(
    () => patchHeatmap(picture, [{ title: "x", values: [1, 2, 3] }]),
    Error,
    "same square number of values",
  );
});

Deno.test("keptOverPrompt and keptRatioBars: a cell per kept entry, a bar per layer and budget", () => {
  const rows = [
    { recipe: "a", masks: [[1, 0, 1, 1], [0, 0, 1, 1]] },
    { recipe: "b", masks: [[1, 1, 1, 1], [1, 0, 0, 0]] },
  ];
  const over = rendered(keptOverPrompt(rows, { imageSpan: { start: 1, end: 3 } }));
  assertEquals(over.count("g.kept-cell rect"), 3 + 2 + 4 + 1);
  const bars = rendered(
    keptRatioBars(
      [0, 1, 2].flatMap((layer) =>
        ["10%", "50%"].map((budget) => ({ layer, budget, ratio: 0.1 + 0.2 * layer }))
      ),
    ),
  );
  assertEquals(bars.count("g.kept-bar rect"), 6);
});

Deno.test("latencyVsBudget: the measured points and a dashed roofline", () => {
  const fig = rendered(latencyVsBudget(
    [0.2, 0.5, 1].flatMap((budget) => [
      { method: "prefixkv", budget, msPerToken: 2 + budget },
      { method: "full", budget, msPerToken: 3 },
    ]),
    [0.2, 0.5, 1].map((budget) => ({ budget, msPerToken: 0.5 * budget })),
  ));
  assertEquals(fig.count("g.measured circle"), 6);
  assertEquals(fig.count("g.roofline path"), 1);
  assert(fig.svg.includes("roofline (ideal)"));
});

Deno.test("keptTokensMarkdown: kept in bold, evicted struck, the image as a count", () => {
  const tokens = ["", "A", "*b*", "x", "x", "x", "?"];
  const mask = [1, 0, 1, 1, 0, 1, 0];
  assertEquals(
    keptTokensMarkdown(tokens, mask, { imageSpan: { start: 3, end: 6 } }),
    "**∅** ~~A~~ **\\*b\\*** [image: 2/3 patches] ~~?~~",
  );
  assertEquals(keptTokensMarkdown(["a", "b"], [0, 1]), "~~a~~ **b**");
  assertThrows(() => keptTokensMarkdown(["a"], [1, 0]), Error, "1 tokens but a mask of 2");
});
