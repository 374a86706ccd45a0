/**
 * The notebook runner end to end: tiny notebooks executed by the Deno kernel through nbconvert.
 * A clean one is written back with its outputs and its README figure; one with a failing cell
 * leaves the original untouched and reports the error. Needs Jupyter's nbconvert (CI installs
 * it); without it these tests are ignored.
 */
import { assert, assertEquals } from "@std/assert";
import { runNotebook, writeKernel } from "../../notebooks/run.ts";

const hasNbconvert = await new Deno.Command("jupyter", { args: ["nbconvert", "--version"] })
  .output().then((o) => o.success, () => false);

const code = (source: string, tags: string[] = []) => ({
  cell_type: "code",
  execution_count: null,
  id: crypto.randomUUID().slice(0, 8),
  metadata: tags.length ? { tags } : {},
  outputs: [],
  source,
});
const notebook = (cells: unknown[]) => ({
  cells,
  metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" } },
  nbformat: 4,
  nbformat_minor: 5,
});
// Each cell waits 10 ms before it ends, as showFigure does: the kernel may publish an output
// after reporting the cell idle, and nbclient then drops it (written without the wait, the first
// run of this test lost both cells' outputs).
const SETTLE = "await new Promise((r) => setTimeout(r, 10));";
const SHOW = 'await Deno.jupyter.display({ "image/svg+xml": "<svg/>" }, { raw: true }); ' +
  `${SETTLE} // showFigure(`;

Deno.test({
  name: "runNotebook: a clean notebook is written back with outputs and its README figure",
  ignore: !hasNbconvert,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/ok.ipynb`;
      await Deno.writeTextFile(
        path,
        JSON.stringify(
          notebook([code(SHOW, ["readme-figure"]), code(`console.log({ a: 1 }); ${SETTLE}`)]),
        ),
      );
      const run = await runNotebook(path, `${dir}/.cache`, await writeKernel(`${dir}/.cache`));
      assertEquals(run.problems, []);
      assertEquals(run.figures, 1);
      const after = JSON.parse(await Deno.readTextFile(path));
      assertEquals(after.cells[1].outputs[0].text.join(""), "{ a: 1 }\n"); // no colour codes
      assertEquals(await Deno.readTextFile(`${dir}/figures/ok.svg`), "<svg/>");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runNotebook: a failing cell is reported and the notebook is left as it was",
  ignore: !hasNbconvert,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = `${dir}/bad.ipynb`;
      const text = JSON.stringify(
        notebook([code(SHOW), code('throw new TypeError("boom")'), code("// showFigure(x)")]),
      );
      await Deno.writeTextFile(path, text);
      const run = await runNotebook(path, `${dir}/.cache`, await writeKernel(`${dir}/.cache`));
      assert(
        run.problems.some((p) => p.cell === 2 && p.message.includes("boom")),
        run.problems[0]?.message,
      );
      assert(run.problems.some((p) => p.cell === 3 && p.message.includes("no figure output")));
      assertEquals(await Deno.readTextFile(path), text);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
