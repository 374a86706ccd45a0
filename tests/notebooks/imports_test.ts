/**
 * Every name a notebook imports from `mod.ts` is exported there: the kernel does not type-check
 * and the test suite does not execute notebooks, so a renamed or unlisted export would otherwise
 * surface only when `deno task notebooks` runs.
 */
import { assert, assertEquals } from "@std/assert";
import * as api from "../../mod.ts";
import { listNotebooks, type Notebook, NOTEBOOK_DIR } from "../../notebooks/run.ts";

/** Names imported from `../mod.ts` in `code` (type-only names included). */
export function importedFromMod(code: string): string[] {
  const names: string[] = [];
  for (const m of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*["']\.\.\/mod\.ts["']/g)) {
    for (const part of m[1].split(",")) {
      const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/)[0];
      if (name) names.push(name);
    }
  }
  return names;
}

Deno.test("importedFromMod: names, with type imports and aliases", () => {
  assertEquals(
    importedFromMod(
      'import {\n  a,\n  type B,\n  c as d,\n} from "../mod.ts";\nimport x from "y";',
    ),
    ["a", "B", "c"],
  );
});

Deno.test("notebooks import only what mod.ts exports", async () => {
  const notebooks = await listNotebooks(NOTEBOOK_DIR);
  assert(notebooks.length >= 4, `found ${notebooks.length} notebooks`);
  // Type-only names have no runtime value; they are checked as far as the module's types go.
  const types = new Set(["Prompt", "Model", "PlotSpec"]);
  for (const path of notebooks) {
    const nb = JSON.parse(await Deno.readTextFile(path)) as Notebook;
    const code = nb.cells.filter((c) => c.cell_type === "code")
      .map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n");
    const names = importedFromMod(code);
    assert(names.length > 0, `${path} imports nothing from mod.ts`);
    const missing = names.filter((n) => !(n in api) && !types.has(n));
    assertEquals(missing, [], `${path} imports names mod.ts does not export`);
  }
});
