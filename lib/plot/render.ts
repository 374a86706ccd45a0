/**
 * Headless rendering of figures: an Observable Plot spec (plain `Plot.plot` options) becomes a
 * standalone SVG string through a linkedom document, and an SVG becomes a PNG through resvg.
 * A colour legend asked for with `color: { legend: true }` is drawn inside the SVG (Plot's own
 * swatches are HTML, which neither an SVG file nor resvg can hold).
 *
 * @example
 * ```ts
 * import * as Plot from "@observablehq/plot";
 * import { renderSvg, svgToPng } from "./render.ts";
 * const svg = renderSvg({ marks: [Plot.lineY([1, 3, 2])] });
 * const png = svgToPng(svg);
 * console.log(svg.startsWith("<svg"), png.length > 0);
 * ```
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { Resvg } from "@resvg/resvg-js";
import { parseHTML } from "linkedom";

/** A figure: the options of `Plot.plot` (data and marks included), without a document. */
export type PlotSpec = Plot.PlotOptions;

const SVG_NS = "http://www.w3.org/2000/svg";
const LEGEND_ROW = 16;
const LEGEND_GAP = 12;

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Roughly how wide `text` is at 10 px sans-serif (for the legend's width; no font metrics here). */
function textWidth(text: string): number {
  return Math.ceil(text.length * 6.2);
}

function legendSvg(domain: unknown[], range: unknown[], label?: string): {
  svg: string;
  width: number;
  height: number;
} {
  const rows = domain.map((d, i) => ({ text: String(d), color: String(range[i % range.length]) }));
  const title = label ? [`<text x="0" y="10" font-weight="bold">${escapeXml(label)}</text>`] : [];
  const top = label ? LEGEND_ROW : 0;
  const items = rows.map((r, i) => {
    const y = top + i * LEGEND_ROW;
    return `<rect x="0" y="${y + 1}" width="12" height="10" fill="${escapeXml(r.color)}"/>` +
      `<text x="16" y="${y + 10}">${escapeXml(r.text)}</text>`;
  });
  const width = 16 + Math.max(...rows.map((r) => textWidth(r.text)), label ? textWidth(label) : 0);
  return { svg: [...title, ...items].join(""), width, height: top + rows.length * LEGEND_ROW };
}

/** What a headless `Plot.plot` returns, as far as rendering needs it (no DOM types here). */
interface RenderedChart {
  tagName: string;
  outerHTML: string;
  getAttribute(name: string): string | null;
  scale(name: "color"): Plot.Scale | undefined;
}

/**
 * Renders `spec` to a standalone SVG document string (with `xmlns`, white background, and the
 * colour legend, when asked for, to the right of the plot).
 */
export function renderSvg(spec: PlotSpec): string {
  const { document } = parseHTML("<!DOCTYPE html><html><body></body></html>") as unknown as {
    document: unknown;
  };
  const color = spec.color as Plot.ScaleOptions | undefined;
  const wantsLegend = color?.legend === true;
  const plotSpec: Plot.PlotOptions = {
    style: { fontFamily: "sans-serif", background: "white" },
    ...spec,
    ...(wantsLegend ? { color: { ...color, legend: false } } : {}),
    document: document as Plot.PlotOptions["document"],
  };
  const chart = Plot.plot(plotSpec) as unknown as RenderedChart;
  if (chart.tagName.toLowerCase() !== "svg") {
    throw new Error(
      "renderSvg: the spec makes an HTML figure (a title, subtitle or caption, or a legend " +
        "other than the colour one); put those outside the figure",
    );
  }
  const width = Number(chart.getAttribute("width"));
  const height = Number(chart.getAttribute("height"));
  const inner = chart.outerHTML;
  const scale = wantsLegend ? chart.scale("color") : undefined;
  if (!scale?.domain || !scale.range) {
    return inner.replace("<svg", `<svg xmlns="${SVG_NS}"`);
  }
  const legend = legendSvg([...scale.domain], [...scale.range], color?.label ?? undefined);
  const totalW = width + LEGEND_GAP + legend.width + 8;
  const totalH = Math.max(height, legend.height + 20);
  return `<svg xmlns="${SVG_NS}" width="${totalW}" height="${totalH}" ` +
    `viewBox="0 0 ${totalW} ${totalH}" font-family="sans-serif" font-size="10">` +
    `<rect width="100%" height="100%" fill="white"/>${inner}` +
    `<g transform="translate(${width + LEGEND_GAP}, 20)">${legend.svg}</g></svg>`;
}

/** Options of {@link svgToPng}. */
export interface PngOptions {
  /** Pixel density relative to the SVG's size (default 2). */
  scale?: number;
}

/**
 * Rasterises an SVG string to PNG bytes with resvg, using the system's fonts (DejaVu Sans for
 * `sans-serif` where installed; without fonts the text is simply not drawn).
 */
export function svgToPng(svg: string, opts: PngOptions = {}): Uint8Array {
  const resvg = new Resvg(svg, {
    fitTo: { mode: "zoom", value: opts.scale ?? 2 },
    background: "white",
    font: {
      loadSystemFonts: true,
      defaultFontFamily: "DejaVu Sans",
      sansSerifFamily: "DejaVu Sans",
    },
  });
  return resvg.render().asPng();
}

/** Writes `spec` as `<base>.svg` and `<base>.png`; returns the two paths. */
export async function writeFigure(base: string, spec: PlotSpec): Promise<[string, string]> {
  const svg = renderSvg(spec);
  await Deno.writeTextFile(`${base}.svg`, svg + "\n");
  await Deno.writeFile(`${base}.png`, svgToPng(svg));
  return [`${base}.svg`, `${base}.png`];
}
