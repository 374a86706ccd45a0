/**
 * Figures over the image's patch grid: a per-patch value (importance) laid over the picture
 * ({@link patchHeatmap}) and the patches each layer keeps, with the objects' true patches
 * outlined ({@link keptPatches}). {@link objectPatches} finds which patches a scene's objects
 * cover; {@link imagePatchValues} cuts a layer's image span out of a per-position array.
 *
 * @example Importance of one layer over a scene
 * ```ts
 * import { generateScene, renderScene } from "../data/scenes/mod.ts";
 * import { objectPatches, patchHeatmap } from "./patch_grid.ts";
 * import { renderSvg } from "./render.ts";
 * const scene = generateScene(1, "test", 0);
 * const picture = renderScene(scene);
 * const values = Array.from({ length: 64 }, (_, i) => i / 64);
 * const spec = patchHeatmap(picture, [{ title: "L0", values }], {
 *   outlines: objectPatches(scene, { grid: 8 }),
 * });
 * console.log(renderSvg(spec).includes("<image"));
 * ```
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { Buffer } from "node:buffer";
import { encodePng, renderScene, type RgbImage, type Scene } from "../data/scenes/mod.ts";
import type { PlotSpec } from "./render.ts";

/** The patches one object of a scene covers. */
export interface ObjectPatches {
  /** The object in words, e.g. `"large red circle"`. */
  label: string;
  /** Row-major patch indices (row · grid + column) holding any of its pixels. */
  patches: number[];
}

/** Options of {@link objectPatches}. */
export interface ObjectPatchOptions {
  /** Patches per side (the vision tower's image size / patch size, 8 for the bundled model). */
  grid: number;
}

/**
 * The patches each object of `scene` covers on a `grid × grid` patch grid over the whole
 * picture: each object is rendered alone and every patch holding a pixel that differs from the
 * background is its.
 */
export function objectPatches(scene: Scene, opts: ObjectPatchOptions): ObjectPatches[] {
  const background = renderScene({ id: scene.id, objects: [] });
  return scene.objects.map((o) => {
    const alone = renderScene({ id: scene.id, objects: [o] });
    const { width, height } = alone;
    const covered = new Set<number>();
    for (let i = 0; i < alone.data.length; i++) {
      if (alone.data[i] === background.data[i]) continue;
      const pixel = Math.floor(i / 3);
      // The whole picture is resized to the vision tower's square input, so a pixel falls in
      // the patch at the same fraction of the width and height.
      const col = Math.floor(((pixel % width) * opts.grid) / width);
      const row = Math.floor((Math.floor(pixel / width) * opts.grid) / height);
      covered.add(row * opts.grid + col);
    }
    return {
      label: `${o.size} ${o.color} ${o.shape}`,
      patches: [...covered].sort((a, b) => a - b),
    };
  });
}

/**
 * The values of the image positions `[span.start, span.end)` of a per-position array, checked
 * against the grid (`grid²` positions).
 */
export function imagePatchValues(
  values: ArrayLike<number>,
  span: { start: number; end: number },
  grid: number,
): number[] {
  if (span.end - span.start !== grid * grid) {
    throw new Error(
      `imagePatchValues: the image span [${span.start}, ${span.end}) holds ` +
        `${span.end - span.start} positions, not the ${grid}×${grid} patches of the grid`,
    );
  }
  if (span.end > values.length) {
    throw new Error(`imagePatchValues: the span ends at ${span.end}, past ${values.length} values`);
  }
  return Array.from({ length: grid * grid }, (_, i) => values[span.start + i]);
}

/** One panel of a patch figure. */
export interface PatchPanel {
  /** Panel title, e.g. `"L3"`. */
  title: string;
  /** One value per patch, row-major (`grid²`). */
  values: readonly number[];
}

/** Options shared by the patch figures. */
export interface PatchFigureOptions {
  /** Objects whose patches are outlined. */
  outlines?: readonly ObjectPatches[];
  /** Panels per row (default: all in one row up to 4). */
  columns?: number;
  /** Side of one panel in pixels (default 150). */
  panelSize?: number;
}

interface PanelCell {
  panel: number;
  row: number;
  col: number;
  value: number;
}

function panelLayout(panels: readonly PatchPanel[], opts: PatchFigureOptions) {
  if (panels.length === 0) throw new Error("patch figure: give at least one panel");
  const n = panels[0].values.length;
  const grid = Math.round(Math.sqrt(n));
  if (grid * grid !== n || panels.some((p) => p.values.length !== n)) {
    throw new Error(
      `patch figure: every panel needs the same square number of values; got ${
        panels.map((p) => p.values.length).join(", ")
      }`,
    );
  }
  const columns = opts.columns ?? Math.min(4, panels.length);
  const rows = Math.ceil(panels.length / columns);
  const size = opts.panelSize ?? 150;
  const cells: PanelCell[] = panels.flatMap((p, panel) =>
    p.values.map((value, i) => ({ panel, row: Math.floor(i / grid), col: i % grid, value }))
  );
  const fx = (d: { panel: number }) => d.panel % columns;
  const fy = (d: { panel: number }) => Math.floor(d.panel / columns);
  return { grid, columns, rows, size, cells, fx, fy };
}

function pngDataUrl(picture: RgbImage): string {
  return `data:image/png;base64,${Buffer.from(encodePng(picture)).toString("base64")}`;
}

/**
 * The picture as an SVG `<image>` filling each panel's grid (a render-function mark: Plot has
 * no mark for an image sized in data units).
 */
function pictureMark(
  picture: RgbImage,
  panels: readonly PatchPanel[],
  layout: ReturnType<typeof panelLayout>,
): Plot.Markish {
  const href = pngDataUrl(picture);
  const data = panels.map((_, panel) => ({ panel }));
  return Plot.dot(data, {
    x: () => 0,
    y: () => 0,
    fx: layout.fx,
    fy: layout.fy,
    render(_index, scales, _values, _dimensions, context) {
      const doc = context.document;
      const x0 = scales.x!(0) as number, x1 = scales.x!(layout.grid) as number;
      const y0 = scales.y!(0) as number, y1 = scales.y!(layout.grid) as number;
      const img = doc.createElementNS("http://www.w3.org/2000/svg", "image");
      img.setAttribute("href", href);
      img.setAttribute("x", String(Math.min(x0, x1)));
      img.setAttribute("y", String(Math.min(y0, y1)));
      img.setAttribute("width", String(Math.abs(x1 - x0)));
      img.setAttribute("height", String(Math.abs(y1 - y0)));
      img.setAttribute("preserveAspectRatio", "none");
      img.setAttribute("image-rendering", "optimizeSpeed");
      img.setAttribute("class", "patch-picture");
      return img as unknown as ReturnType<Plot.RenderFunction>;
    },
  });
}

function outlineMarks(
  panels: readonly PatchPanel[],
  layout: ReturnType<typeof panelLayout>,
  outlines: readonly ObjectPatches[],
): Plot.Markish[] {
  const rows = panels.flatMap((_, panel) =>
    outlines.flatMap((o) =>
      o.patches.map((i) => ({
        panel,
        row: Math.floor(i / layout.grid),
        col: i % layout.grid,
        object: o.label,
      }))
    )
  );
  return [
    Plot.rect(rows, {
      x1: "col",
      x2: (d) => d.col + 1,
      y1: "row",
      y2: (d) => d.row + 1,
      fx: layout.fx,
      fy: layout.fy,
      fill: "none",
      stroke: "#ff3b30",
      strokeWidth: 1.2,
      inset: 0.5,
      className: "object-patch",
    }),
  ];
}

function panelSpec(
  panels: readonly PatchPanel[],
  layout: ReturnType<typeof panelLayout>,
  marks: Plot.Markish[],
  color: Plot.ScaleOptions | undefined,
): PlotSpec {
  const titles = panels.map((p, panel) => ({ panel, title: p.title }));
  return {
    width: layout.columns * (layout.size + 12) + 20,
    height: layout.rows * (layout.size + 28) + 20,
    marginTop: 24,
    marginLeft: 10,
    marginRight: 10,
    marginBottom: 4,
    x: { domain: [0, layout.grid], axis: null },
    y: { domain: [0, layout.grid], reverse: true, axis: null },
    fx: { axis: null, padding: 0.08 },
    fy: { axis: null, padding: 0.15 },
    ...(color ? { color } : {}),
    marks: [
      ...marks,
      Plot.text(titles, {
        fx: layout.fx,
        fy: layout.fy,
        text: "title",
        frameAnchor: "top",
        dy: -12,
        fontWeight: "bold",
      }),
    ],
  };
}

/**
 * One value per patch as translucent colour over the picture (inferno: bright is high; each
 * panel scaled to its own maximum unless `shared`), one panel per entry of
 * `panels` (e.g. one per layer), with the objects' patches outlined.
 */
export function patchHeatmap(
  picture: RgbImage,
  panels: readonly PatchPanel[],
  opts: PatchFigureOptions & { label?: string; shared?: boolean } = {},
): PlotSpec {
  // Each panel on its own scale by default: layers differ in how much importance the image
  // holds, and one shared scale would hide the pattern inside the fainter ones.
  const scaled = opts.shared ? panels : panels.map((p) => {
    const max = Math.max(...p.values);
    return { ...p, values: p.values.map((v) => (max > 0 ? v / max : 0)) };
  });
  const layout = panelLayout(scaled, opts);
  const marks: Plot.Markish[] = [
    pictureMark(picture, scaled, layout),
    Plot.rect(layout.cells, {
      x1: "col",
      x2: (d: PanelCell) => d.col + 1,
      y1: "row",
      y2: (d: PanelCell) => d.row + 1,
      fx: layout.fx,
      fy: layout.fy,
      fill: "value",
      fillOpacity: 0.6,
      shapeRendering: "crispEdges",
      className: "patch-value",
    }),
    ...outlineMarks(scaled, layout, opts.outlines ?? []),
  ];
  // No legend: the headless renderer draws swatches, which a continuous scale does not have.
  return panelSpec(scaled, layout, marks, {
    scheme: "inferno",
    label: opts.label ?? "importance",
    domain: opts.shared ? undefined : [0, 1],
  });
}

/**
 * The patches each panel keeps over the picture: a kept patch shows the picture, an evicted one
 * is greyed out; the objects' true patches are outlined. `values` are 1 (kept) or 0 (evicted).
 */
export function keptPatches(
  picture: RgbImage,
  panels: readonly PatchPanel[],
  opts: PatchFigureOptions = {},
): PlotSpec {
  const layout = panelLayout(panels, opts);
  const marks: Plot.Markish[] = [
    pictureMark(picture, panels, layout),
    Plot.rect(layout.cells.filter((c) => c.value === 0), {
      x1: "col",
      x2: (d: PanelCell) => d.col + 1,
      y1: "row",
      y2: (d: PanelCell) => d.row + 1,
      fx: layout.fx,
      fy: layout.fy,
      fill: "white",
      fillOpacity: 0.8,
      className: "patch-evicted",
    }),
    ...outlineMarks(panels, layout, opts.outlines ?? []),
  ];
  return panelSpec(panels, layout, marks, undefined);
}
