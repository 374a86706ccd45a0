/** The notebook runner's checks of an executed notebook (notebooks/run.ts), on hand-made cells. */
import { assertEquals } from "@std/assert";
import {
  checkExecuted,
  figureCount,
  kernelSpec,
  listNotebooks,
  type NotebookCell,
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
