import { assert, assertEquals, assertThrows } from "@std/assert";
import * as Plot from "@observablehq/plot";
import {
  budgetCurves,
  display,
  layerHeatmap,
  layerLines,
  lorenzCurves,
  renderSvg,
  svgToPng,
  writeFigure,
} from "../../lib/plot/mod.ts";

const POINTS = [
  { recipe: "prefixkv", budget: 0.2, value: 3.7 },
  { recipe: "prefixkv", budget: 0.5, value: 3.4 },
  { recipe: "local", budget: 0.2, value: 105 },
  { recipe: "local", budget: 0.5, value: 33.8 },
];

Deno.test("renderSvg: a standalone SVG with the colour legend drawn inside", () => {
  const svg = renderSvg(budgetCurves(POINTS, { label: "PPL", logY: true, reference: 3.2 }));
  assert(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), svg.slice(0, 80));
  assert(!svg.includes("<div"), "no HTML in the SVG");
  // One legend entry per recipe, one line path per recipe, the reference rule.
  assert(svg.includes(">local</text>") && svg.includes(">prefixkv</text>"));
  assert((svg.match(/<path/g)?.length ?? 0) >= 2, "a line per recipe");
  assert(svg.includes('stroke-dasharray="4,3"'), "full-cache reference line");
  assert(svg.includes("KV budget kept"), "x label");
});

Deno.test("renderSvg: without a legend the chart is Plot's own SVG; HTML figures are refused", () => {
  const svg = renderSvg({ marks: [Plot.lineY([1, 3, 2])] });
  assert(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assertThrows(() => renderSvg({ title: "t", marks: [Plot.lineY([1, 2])] }), Error, "HTML figure");
});

Deno.test("svgToPng writes a PNG; writeFigure writes both files", async () => {
  const svg = renderSvg(
    layerLines([{ layer: 0, series: "a", value: 1 }, { layer: 1, series: "a", value: 2 }], {
      label: "v",
      seriesLabel: "s",
    }),
  );
  const png = svgToPng(svg, { scale: 1 });
  assertEquals(Array.from(png.slice(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
  const dir = await Deno.makeTempDir();
  try {
    const [s, p] = await writeFigure(
      `${dir}/fig`,
      lorenzCurves([{
        layer: 0,
        gini: 0.5,
        points: [{ x: 0, y: 0 }, { x: 0.5, y: 0.2 }, { x: 1, y: 1 }],
      }]),
    );
    assert((await Deno.readTextFile(s)).includes("L0 (G=0.50)"));
    assert((await Deno.stat(p)).size > 100);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("layerHeatmap prints each value and picks readable text colours", () => {
  const svg = renderSvg(layerHeatmap(
    [
      { layer: 0, column: "20%", value: 0.9 },
      { layer: 1, column: "20%", value: 0.1 },
    ],
    { label: "kept", columnLabel: "budget", percent: true },
  ));
  assert(svg.includes(">90</text>") && svg.includes(">10</text>"), "values as percentages");
  assert(svg.includes('fill="white"') && svg.includes('fill="black"'));
});

Deno.test("display gives the Jupyter kernel an image/svg+xml bundle", () => {
  const shown = display(budgetCurves(POINTS, { label: "PPL" }));
  const bundle = shown[Symbol.for("Jupyter.display")]();
  assertEquals(bundle["image/svg+xml"], shown.svg);
});
