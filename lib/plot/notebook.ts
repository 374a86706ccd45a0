/**
 * Display in a Jupyter notebook with the Deno kernel: figures ({@link showFigure}), Markdown
 * ({@link showMarkdown}, {@link showTable}), a progress line updated in place
 * ({@link showProgress}) and the run's provenance ({@link showProvenance}).
 *
 * Every display is awaited and followed by a short pause before the cell goes on, longer for a
 * larger output ({@link displaySettleMs}): the kernel sometimes publishes an output after
 * reporting the cell idle, and a headless runner then drops it (about one run in ten lost a
 * figure when cells ended in a bare expression; a 93 KB PNG was lost once on a loaded machine
 * with a fixed 10 ms pause). Outside a notebook these functions are errors; write figures to
 * files with `writeFigure` instead.
 *
 * @example A figure and a progress line in a notebook cell
 * ```ts
 * import * as Plot from "@observablehq/plot";
 * import { showFigure, showProgress } from "./notebook.ts";
 * const progress = await showProgress("samples", 3);
 * for (let i = 0; i < 3; i++) await progress.step(`sample ${i}`);
 * await progress.done();
 * await showFigure({ marks: [Plot.lineY([1, 3, 2])] });
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { relative } from "node:path";
import { type Provenance, provenance } from "../provenance.ts";
import type { Model } from "../runtime/model.ts";
import { type PlotSpec, renderSvg, svgToPng } from "./render.ts";

/** The part of `Deno.jupyter` used here (injectable, so tests can watch what is displayed). */
export interface JupyterDisplay {
  /** Publishes a MIME bundle (`raw: true`), or replaces the output with `display_id`. */
  display(
    obj: unknown,
    options?: { raw?: boolean; update?: boolean; display_id?: string },
  ): Promise<void>;
}

/** Least pause after each display, in milliseconds, so the kernel publishes it before the cell ends. */
export const DISPLAY_SETTLE_MS = 10;

/**
 * Pause after a display of `bytes` characters: {@link DISPLAY_SETTLE_MS} plus 1 ms per 2 KiB
 * (the kernel serialises and sends large outputs more slowly), at most 250 ms.
 *
 * @example
 * ```ts
 * import { displaySettleMs } from "./notebook.ts";
 * console.log(displaySettleMs(0), displaySettleMs(96 * 1024)); // 10 58
 * ```
 */
export function displaySettleMs(bytes: number): number {
  return Math.min(250, DISPLAY_SETTLE_MS + Math.ceil(bytes / 2048));
}

let injected: JupyterDisplay | undefined;

/** Uses `display` instead of `Deno.jupyter` until called again with `undefined` (tests). */
export function useJupyterDisplay(display: JupyterDisplay | undefined): void {
  injected = display;
}

function jupyter(): JupyterDisplay {
  // Deno.jupyter exists in every Deno 2 process but publishes only inside the kernel; outside,
  // its display throws, and publish() turns that into an error naming the fix.
  return injected ?? (Deno.jupyter as unknown as JupyterDisplay);
}

async function publish(bundle: Record<string, unknown>, displayId?: string, update = false) {
  try {
    await jupyter().display(bundle, {
      raw: true,
      ...(displayId ? { display_id: displayId } : {}),
      ...(update ? { update: true } : {}),
    });
  } catch (e) {
    throw new Error(
      "showFigure/showMarkdown/showProgress display inside a Jupyter notebook with the Deno " +
        "kernel (deno jupyter --install); outside one, write figures with writeFigure. " +
        `The kernel said: ${e instanceof Error ? e.message : e}`,
    );
  }
  const bytes = Object.values(bundle).reduce<number>(
    (n, v) => n + (typeof v === "string" ? v.length : 0),
    0,
  );
  await new Promise((resolve) => setTimeout(resolve, displaySettleMs(bytes)));
}

/** Options of {@link showFigure}. */
export interface ShowFigureOptions {
  /**
   * `"svg"` (default) keeps the figure as vector graphics; `"png"` rasterises it first, for
   * figures with thousands of marks (attention maps) whose SVG would bloat the notebook.
   */
  format?: "svg" | "png";
  /** PNG pixel density relative to the SVG's size (default 1.5). */
  scale?: number;
}

/**
 * Shows a figure inline: a Plot spec (rendered headless) or a finished SVG string, as
 * `image/svg+xml` or, with `format: "png"`, as `image/png`.
 */
export async function showFigure(
  figure: PlotSpec | string,
  opts: ShowFigureOptions = {},
): Promise<void> {
  const svg = typeof figure === "string" ? figure : renderSvg(figure);
  if (!svg.startsWith("<svg")) {
    throw new Error("showFigure: the string is not an SVG document (it must start with <svg)");
  }
  if (opts.format === "png") {
    const png = svgToPng(svg, { scale: opts.scale ?? 1.5 });
    await publish({ "image/png": Buffer.from(png).toString("base64"), "text/plain": "[figure]" });
  } else {
    await publish({ "image/svg+xml": svg, "text/plain": "[figure]" });
  }
}

/** Shows Markdown text. */
export async function showMarkdown(text: string): Promise<void> {
  await publish({ "text/markdown": text, "text/plain": text });
}

/** Escapes a value for a Markdown table cell. */
function cell(v: unknown): string {
  const s = typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v);
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/**
 * Markdown table of `rows` (columns: the keys of the first row, or `columns`); numbers that are
 * not integers print with three decimals.
 */
export function markdownTable(
  rows: readonly Record<string, unknown>[],
  columns: readonly string[] = Object.keys(rows[0] ?? {}),
): string {
  const head = `| ${columns.join(" | ")} |\n|${columns.map(() => " --- ").join("|")}|`;
  const body = rows.map((r) => `| ${columns.map((c) => cell(r[c])).join(" | ")} |`);
  return [head, ...body].join("\n");
}

/** Shows `rows` as a Markdown table (see {@link markdownTable}). */
export async function showTable(
  rows: readonly Record<string, unknown>[],
  columns?: readonly string[],
): Promise<void> {
  await showMarkdown(markdownTable(rows, columns));
}

/** A progress line shown in the notebook and updated in place. */
export interface Progress {
  /** Counts one unit of work done; `note` says which. */
  step(note?: string): Promise<void>;
  /** Replaces the line with the total and the time taken. */
  done(note?: string): Promise<void>;
}

let progressCount = 0;

/** One progress line: `label: done/total (percent) · elapsed · ETA · note`. */
export function progressLine(
  label: string,
  done: number,
  total: number,
  elapsedMs: number,
  note?: string,
): string {
  const pct = total > 0 ? Math.round((100 * done) / total) : 100;
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const eta = done > 0 && done < total
    ? ` · ${secs((elapsedMs / done) * (total - done))} left`
    : "";
  return `${label}: ${done}/${total} (${pct}%) · ${secs(elapsedMs)}${eta}${
    note ? ` · ${note}` : ""
  }`;
}

/** Starts a progress line for `total` units of work labelled `label`. */
export async function showProgress(label: string, total: number): Promise<Progress> {
  if (!Number.isInteger(total) || total < 0) {
    throw new Error(`showProgress: total must be a whole number ≥ 0, got ${total}`);
  }
  const id = `prefixkv-progress-${++progressCount}-${Date.now()}`;
  const started = performance.now();
  let done = 0;
  const show = (line: string, update: boolean) => publish({ "text/plain": line }, id, update);
  await show(progressLine(label, 0, total, 0), false);
  return {
    async step(note?: string) {
      done++;
      await show(progressLine(label, done, total, performance.now() - started, note), true);
    },
    async done(note?: string) {
      const line = progressLine(label, done, total, performance.now() - started, note);
      await show(line.replace(/ · [0-9.]+ s left/, ""), true);
    },
  };
}

/** One Markdown line naming what made a notebook's outputs: toolkit, commit, model, runtime. */
export function provenanceMarkdown(
  p: Provenance,
  model?: { dir: string; fingerprint: string },
): string {
  const parts = [
    `${p.tool} ${p.version}${p.commit ? ` at \`${p.commit.slice(0, 10)}\`` : ""}`,
    ...(model ? [`model \`${model.dir}\` (\`${model.fingerprint.slice(0, 12)}\`)`] : []),
    `Deno ${p.deno}`,
    `onnxruntime ${p.onnxruntime ?? "unknown"}`,
    p.platform,
    p.date.slice(0, 10),
  ];
  return `*Run by ${parts.join(" · ")}.*`;
}

/**
 * Shows the run's provenance (toolkit version and commit, the model's directory and
 * fingerprint, Deno, onnxruntime, platform, date) as one line, so outputs say what made them.
 */
export async function showProvenance(model?: Model): Promise<void> {
  const dir = model?.source.dir;
  const shown = model && dir
    ? { dir: relative(Deno.cwd(), dir) || ".", fingerprint: model.fingerprint }
    : undefined;
  await showMarkdown(provenanceMarkdown(await provenance(), shown));
}
