/**
 * Executes the notebooks headless with the Deno kernel (`deno task notebooks [NAME…]`), writes
 * each executed notebook back in place (so the committed notebooks carry their outputs) and fails
 * on a cell error, on a figure that did not arrive, on colour codes in an output, or on a
 * notebook past its time limit. A notebook whose only problem is a lost figure is run once more,
 * and the run says so: the Deno kernel sometimes publishes a display after reporting the cell
 * idle, and nbclient drops it.
 *
 * The kernel is a private kernelspec under `notebooks/.cache/jupyter/` (this Deno, `NO_COLOR=1`),
 * found through `JUPYTER_PATH`, so a run never depends on, or changes, the user's installed
 * kernels. Jupyter itself comes from the system: `jupyter nbconvert` with nbclient.
 *
 * A notebook is checked after execution, before it replaces the committed one: a failed run
 * leaves the committed notebook as it was and keeps the executed copy in `notebooks/.cache/`.
 * Code cells are formatted with `deno fmt` (the project's settings) before each run. The
 * notebooks are excluded from `deno fmt` itself: Deno 2.9.6's `fmt --check` reports every
 * notebook with a non-empty Markdown cell as unformatted, even one that `deno fmt` leaves as is.
 * The figure of the cell tagged `readme-figure` is saved as `notebooks/figures/<notebook>.svg`
 * (or `.png`), for the README.
 *
 * @module
 */
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The notebooks' folder. */
export const NOTEBOOK_DIR: string = dirname(fileURLToPath(import.meta.url));

/** Wall-clock limit of one notebook, in seconds (the issue's 3 minutes). */
export const NOTEBOOK_LIMIT_S = 180;

/** The MIME types that count as a figure. */
export const FIGURE_TYPES: readonly string[] = ["image/svg+xml", "image/png"];

/** A cell whose source calls one of these shows a figure, and must carry one after execution. */
const FIGURE_CALL = /\b(showFigure|showSvg|showPng)\(/;

/** The part of an `.ipynb` cell the checks read. */
export interface NotebookCell {
  /** `"code"`, `"markdown"` or `"raw"`. */
  cell_type: string;
  /** Source as one string or a list of lines. */
  source: string | string[];
  /** Outputs of a code cell. */
  outputs?: NotebookOutput[];
  /** Cell metadata; `tags` may hold `"readme-figure"`. */
  metadata?: { tags?: string[] };
}

/** One output of a code cell (nbformat 4). */
export interface NotebookOutput {
  /** `"stream"`, `"display_data"`, `"execute_result"` or `"error"`. */
  output_type: string;
  /** MIME bundle of a display or result. */
  data?: Record<string, string | string[]>;
  /** Stream text. */
  text?: string | string[];
  /** Error name and message. */
  ename?: string;
  /** Error message. */
  evalue?: string;
}

/** The part of an `.ipynb` file the checks read. */
export interface Notebook {
  /** The cells in order. */
  cells: NotebookCell[];
}

/** What is wrong with one executed notebook. */
export interface NotebookProblem {
  /** 1-based cell number (code and markdown cells counted together). */
  cell: number;
  /** One line naming the problem. */
  message: string;
}

const joined = (s: string | string[] | undefined): string =>
  Array.isArray(s) ? s.join("") : s ?? "";

/** Figure outputs (image/svg+xml or image/png) of one cell. */
export function figureCount(cell: NotebookCell): number {
  return (cell.outputs ?? []).filter((o) =>
    o.data !== undefined && FIGURE_TYPES.some((t) => t in o.data!)
  ).length;
}

/**
 * Checks an executed notebook: no error output, a figure in every cell that shows one, no ANSI
 * colour codes in any output, and at least one figure in all.
 */
export function checkExecuted(nb: Notebook): NotebookProblem[] {
  const problems: NotebookProblem[] = [];
  let figures = 0;
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type !== "code") return;
    const outputs = cell.outputs ?? [];
    for (const out of outputs) {
      if (out.output_type === "error") {
        problems.push({ cell: i + 1, message: `error: ${out.ename}: ${out.evalue}` });
      }
      const texts = [joined(out.text), ...Object.values(out.data ?? {}).map(joined)];
      if (texts.some((t) => t.includes("\x1b["))) {
        problems.push({
          cell: i + 1,
          message: "colour codes in an output: run the kernel with NO_COLOR=1 in its kernel.json",
        });
      }
    }
    const shown = figureCount(cell);
    figures += shown;
    if (FIGURE_CALL.test(joined(cell.source)) && shown === 0) {
      problems.push({ cell: i + 1, message: LOST_FIGURE });
    }
  });
  if (figures === 0) problems.push({ cell: 0, message: "the notebook has no figure output" });
  return problems;
}

/** The message of a code cell that calls a figure display but carries no figure output. */
export const LOST_FIGURE = "the cell shows a figure but has no figure output";

/**
 * Whether every problem is a lost figure (and there is at least one): the one failure that the
 * kernel's publish-after-idle race explains, which `deno task notebooks` reruns once.
 */
export function onlyLostFigures(problems: readonly NotebookProblem[]): boolean {
  return problems.length > 0 && problems.every((p) => p.message === LOST_FIGURE);
}

/** The tag of the cell whose first figure the README shows. */
export const README_TAG = "readme-figure";

/** The first figure of the cell tagged {@link README_TAG}: its file extension and bytes. */
export function readmeFigure(nb: Notebook): { ext: "svg" | "png"; bytes: Uint8Array } | null {
  const cell = nb.cells.find((c) => c.metadata?.tags?.includes(README_TAG));
  for (const out of cell?.outputs ?? []) {
    const svg = out.data?.["image/svg+xml"];
    if (svg !== undefined) return { ext: "svg", bytes: new TextEncoder().encode(joined(svg)) };
    const png = out.data?.["image/png"];
    if (png !== undefined) {
      const binary = atob(joined(png).replace(/\s/g, ""));
      return { ext: "png", bytes: Uint8Array.from(binary, (c) => c.charCodeAt(0)) };
    }
  }
  return null;
}

/** The kernelspec the run uses: this Deno as a Jupyter kernel, without colour codes. */
export function kernelSpec(denoPath: string): Record<string, unknown> {
  return {
    argv: [denoPath, "jupyter", "--kernel", "--conn", "{connection_file}"],
    display_name: "Deno",
    language: "typescript",
    env: { NO_COLOR: "1" },
  };
}

/** Writes the private kernelspec and returns the folder to put on `JUPYTER_PATH`. */
export async function writeKernel(cacheDir: string): Promise<string> {
  const jupyterPath = join(cacheDir, "jupyter");
  const dir = join(jupyterPath, "kernels", "deno");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, "kernel.json"),
    JSON.stringify(kernelSpec(Deno.execPath()), null, 2) + "\n",
  );
  return jupyterPath;
}

async function requireNbconvert(): Promise<void> {
  const missing = "jupyter nbconvert is not installed; on Debian: apt-get install -y " +
    "--no-install-recommends jupyter-nbconvert python3-nbclient jupyter-client";
  try {
    const out = await new Deno.Command("jupyter", { args: ["nbconvert", "--version"] }).output();
    if (!out.success) throw new Error(missing);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(missing);
    throw e;
  }
}

/** `source` formatted as TypeScript by `deno fmt` with the project's settings. */
export async function formatCode(source: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=ts", "-"],
    cwd: NOTEBOOK_DIR,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(source));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`deno fmt: ${new TextDecoder().decode(out.stderr).trim().split("\n")[0]}`);
  }
  return new TextDecoder().decode(out.stdout).replace(/\n$/, "");
}

/** Splits text into nbformat's list of lines (each but the last keeps its newline). */
function sourceLines(text: string): string[] {
  return text.split("\n").map((line, i, all) => (i < all.length - 1 ? `${line}\n` : line))
    .filter((line) => line !== "");
}

/**
 * Formats every code cell of the notebook at `path` in place; returns how many changed. A cell
 * that does not parse is an error naming it.
 */
export async function formatNotebook(path: string): Promise<number> {
  const text = await Deno.readTextFile(path);
  const nb = JSON.parse(text) as Notebook;
  let changed = 0;
  for (const [i, cell] of nb.cells.entries()) {
    if (cell.cell_type !== "code") continue;
    const source = joined(cell.source);
    let formatted: string;
    try {
      formatted = await formatCode(source);
    } catch (e) {
      throw new Error(`${basename(path)} cell ${i + 1}: ${e instanceof Error ? e.message : e}`);
    }
    if (formatted !== source) {
      cell.source = sourceLines(formatted);
      changed++;
    }
  }
  if (changed > 0) await Deno.writeTextFile(path, JSON.stringify(nb, null, 1) + "\n");
  return changed;
}

/** How one notebook went. */
export interface NotebookRun {
  /** Notebook file name. */
  name: string;
  /** Wall-clock seconds. */
  seconds: number;
  /** Figure outputs in the executed notebook. */
  figures: number;
  /** Problems found; empty when it passed (and was written back). */
  problems: NotebookProblem[];
}

/** Executes `path` with nbconvert into `cacheDir`, checks it, and on success writes it back. */
export async function runNotebook(
  path: string,
  cacheDir: string,
  jupyterPath: string,
): Promise<NotebookRun> {
  const name = basename(path);
  const executedDir = join(cacheDir, "executed");
  await Deno.mkdir(executedDir, { recursive: true });
  const executed = join(executedDir, name);
  const started = performance.now();
  const child = new Deno.Command("jupyter", {
    args: [
      "nbconvert",
      "--to",
      "notebook",
      "--execute",
      "--allow-errors",
      "--ExecutePreprocessor.kernel_name=deno",
      `--ExecutePreprocessor.timeout=${NOTEBOOK_LIMIT_S}`,
      "--ExecutePreprocessor.record_timing=False",
      "--output",
      executed,
      path,
    ],
    cwd: dirname(path),
    env: { JUPYTER_PATH: jupyterPath, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), NOTEBOOK_LIMIT_S * 1000);
  const out = await child.output();
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  if (!out.success) {
    const why = seconds >= NOTEBOOK_LIMIT_S
      ? `past the ${NOTEBOOK_LIMIT_S} s limit`
      : new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
    return { name, seconds, figures: 0, problems: [{ cell: 0, message: `nbconvert: ${why}` }] };
  }
  const nb = JSON.parse(await Deno.readTextFile(executed)) as Notebook;
  const problems = checkExecuted(nb);
  const figures = nb.cells.reduce((n, c) => n + figureCount(c), 0);
  const figure = readmeFigure(nb);
  if (problems.length === 0) {
    await Deno.copyFile(executed, path);
    if (figure) {
      const dir = join(dirname(path), "figures");
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(join(dir, `${basename(path, ".ipynb")}.${figure.ext}`), figure.bytes);
    }
  }
  return { name, seconds, figures, problems };
}

/** The notebooks in `dir`, or those named in `names` (with or without `.ipynb`). */
export async function listNotebooks(dir: string, names: readonly string[] = []): Promise<string[]> {
  const all: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ipynb")) all.push(e.name);
  }
  all.sort();
  if (names.length === 0) return all.map((n) => join(dir, n));
  return names.map((n) => {
    const file = basename(n).endsWith(".ipynb") ? basename(n) : `${basename(n)}.ipynb`;
    const match = all.find((a) => a === file || a.startsWith(`${basename(n)}-`));
    if (!match) throw new Error(`no notebook "${n}" in ${dir}; there are: ${all.join(", ")}`);
    return join(dir, match);
  });
}

async function main(names: string[]): Promise<number> {
  await requireNbconvert();
  const cacheDir = join(NOTEBOOK_DIR, ".cache");
  const jupyterPath = await writeKernel(cacheDir);
  let failed = 0;
  for (const path of await listNotebooks(NOTEBOOK_DIR, names)) {
    const formatted = await formatNotebook(path);
    const note = formatted > 0 ? ` (${formatted} code cells formatted)` : "";
    console.log(`notebook ${relative(Deno.cwd(), path)}${note} …`);
    let run = await runNotebook(path, cacheDir, jupyterPath);
    if (onlyLostFigures(run.problems)) {
      // The Deno kernel can publish a display after reporting the cell idle, and nbclient then
      // drops it. That is the kernel's race, not the notebook's: say so and run it once more.
      for (const p of run.problems) console.log(`  cell ${p.cell}: ${p.message}`);
      console.log("  the kernel dropped a figure (it published after going idle); running again");
      run = await runNotebook(path, cacheDir, jupyterPath);
    }
    const status = run.problems.length === 0 ? "ok" : "FAILED";
    console.log(`  ${status}: ${run.seconds.toFixed(1)} s, ${run.figures} figures`);
    for (const p of run.problems) console.log(`  cell ${p.cell}: ${p.message}`);
    if (run.problems.length > 0) failed++;
  }
  console.log(`notebooks: ${failed === 0 ? "all passed" : `${failed} failed`}`);
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`notebooks: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
