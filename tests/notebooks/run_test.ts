/** The notebook runner's checks of an executed notebook (notebooks/run.ts), on hand-made cells. */
import { assert, assertEquals } from "@std/assert";
import {
  checkExecuted,
  figureCount,
  formatCode,
  formatNotebook,
  kernelSpec,
  listNotebooks,
  LOST_FIGURE,
  type NotebookCell,
  onlyLostFigures,
  readmeFigure,
} from "../../notebooks/run.ts";

const code = (source: string | string[], outputs: NotebookCell["outputs"] = []): NotebookCell => ({
  cell_type: "code",
  source,
  outputs,
});
const svg = { output_type: "display_data", data: { "image/svg+xml": "<svg/>" } };
const png = { output_type: "display_data", data: { "image/png": "iVBOR" } };

Deno.test("figureCount: SVG and PNG displays count, text does not", () => {
  const text = { output_type: "stream", text: "hi" };
  assertEquals(figureCount(code("x", [svg, png, text])), 2);
  assertEquals(figureCount({ cell_type: "markdown", source: "# t" }), 0);
});

Deno.test("checkExecuted: a complete notebook passes", () => {
  const nb = {
    cells: [
      { cell_type: "markdown", source: "await showFigure(x) in prose is not code" },
      code(["const a = 1;\n", "await showFigure(spec);"], [svg]),
      code("console.log(1)", [{ output_type: "stream", text: ["1\n"] }]),
    ],
  };
  assertEquals(checkExecuted(nb), []);
});

Deno.test("checkExecuted: errors, a lost figure, colour codes and no figure at all", () => {
  const error = { output_type: "error", ename: "TypeError", evalue: "x is undefined" };
  const coloured = { output_type: "execute_result", data: { "text/plain": "\x1b[33m2\x1b[39m" } };
  assertEquals(
    checkExecuted({
      cells: [code("f()", [error]), code("await showFigure(s);"), code("2", [coloured])],
    }),
    [
      { cell: 1, message: "error: TypeError: x is undefined" },
      { cell: 2, message: "the cell shows a figure but has no figure output" },
      {
        cell: 3,
        message: "colour codes in an output: run the kernel with NO_COLOR=1 in its kernel.json",
      },
      { cell: 0, message: "the notebook has no figure output" },
    ],
  );
});

Deno.test("onlyLostFigures: a rerun only when every problem is a lost figure", () => {
  const lost = checkExecuted({
    cells: [code("await showFigure(a);", [svg]), code("showFigure(b)")],
  });
  assertEquals(lost, [{ cell: 2, message: LOST_FIGURE }]);
  assert(onlyLostFigures(lost));
  assert(!onlyLostFigures([]));
  const error = { output_type: "error", ename: "Error", evalue: "boom" };
  const mixed = checkExecuted({ cells: [code("await showFigure(a);"), code("f()", [error])] });
  assertEquals(mixed.length, 3); // lost figure, error, no figure at all
  assert(!onlyLostFigures(mixed));
});

Deno.test("kernelSpec: this Deno as a kernel, without colour", () => {
  const spec = kernelSpec("/usr/bin/deno");
  assertEquals(spec.argv, ["/usr/bin/deno", "jupyter", "--kernel", "--conn", "{connection_file}"]);
  assertEquals(spec.env, { NO_COLOR: "1" });
});

Deno.test("listNotebooks: all in order, or by name or number prefix; unknown names are errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const n of ["02-b.ipynb", "01-a.ipynb", "notes.md"]) {
      await Deno.writeTextFile(`${dir}/${n}`, "{}");
    }
    assertEquals(await listNotebooks(dir), [`${dir}/01-a.ipynb`, `${dir}/02-b.ipynb`]);
    assertEquals(await listNotebooks(dir, ["02", "01-a.ipynb"]), [
      `${dir}/02-b.ipynb`,
      `${dir}/01-a.ipynb`,
    ]);
    let message = "";
    await listNotebooks(dir, ["03"]).catch((e) => message = e.message);
    assertEquals(message, `no notebook "03" in ${dir}; there are: 01-a.ipynb, 02-b.ipynb`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readmeFigure: the first figure of the tagged cell, SVG as text, PNG decoded", () => {
  const tagged = (outputs: NotebookCell["outputs"]): NotebookCell => ({
    ...code("await showFigure(s);", outputs),
    metadata: { tags: ["readme-figure"] },
  });
  const svgFigure = readmeFigure({ cells: [code("x", [png]), tagged([svg, png])] });
  assertEquals(svgFigure?.ext, "svg");
  assertEquals(new TextDecoder().decode(svgFigure!.bytes), "<svg/>");
  const pngFigure = readmeFigure({
    cells: [tagged([{ output_type: "display_data", data: { "image/png": "iVBORw0K\nGgo=" } }])],
  });
  assertEquals(pngFigure?.ext, "png");
  assertEquals([...pngFigure!.bytes.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assertEquals(readmeFigure({ cells: [code("x", [svg])] }), null);
});

Deno.test("formatNotebook: code cells formatted with the project's settings, Markdown untouched", async () => {
  assertEquals(await formatCode("const  x=[1,2]"), "const x = [1, 2];");
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/n.ipynb`;
    const md = { cell_type: "markdown", source: ["#  title  \n", "text"] };
    const nb = { cells: [md, code(["let a=1\n", "a+=2"]), code("const b = 1;")] };
    await Deno.writeTextFile(path, JSON.stringify(nb));
    assertEquals(await formatNotebook(path), 1);
    const after = JSON.parse(await Deno.readTextFile(path));
    assertEquals(after.cells[0], md);
    assertEquals(after.cells[1].source, ["let a = 1;\n", "a += 2;"]);
    assertEquals(after.cells[2].source, "const b = 1;");
    assertEquals(await formatNotebook(path), 0);
    await Deno.writeTextFile(path, JSON.stringify({ cells: [code("const = ;")] }));
    let message = "";
    await formatNotebook(path).catch((e) => message = e.message);
    assert(message.startsWith("n.ipynb cell 1: deno fmt:"), message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
