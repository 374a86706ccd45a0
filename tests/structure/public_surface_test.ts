/** The public surface stays small: explicit export lists per area, helpers not exported. */
import { assert, assertEquals } from "@std/assert";
import { fileURLToPath } from "node:url";
import * as prefixkv from "../../mod.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

async function areaModules(dir = "lib"): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${ROOT}/${dir}`)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await areaModules(path));
    else if (e.name === "mod.ts") out.push(path);
  }
  return out.sort();
}

Deno.test("every area's mod.ts lists its exports; mod.ts stars only area modules", async () => {
  const modules = await areaModules();
  assert(modules.length >= 10, `found ${modules.length} area modules`);
  for (const path of modules) {
    const stars = (await Deno.readTextFile(`${ROOT}/${path}`)).match(/export \* from "[^"]+"/g);
    assertEquals(stars, null, `${path} re-exports with "export *"; list the public names`);
  }
  const top = await Deno.readTextFile(`${ROOT}/mod.ts`);
  for (const [, target] of top.matchAll(/export \* from "([^"]+)"/g)) {
    assert(/^\.\/lib\/([a-z_]+\/)+mod\.ts$/.test(target), `mod.ts stars ${target}`);
  }
});

Deno.test("helpers are not part of the public API", () => {
  const exported = new Set(Object.keys(prefixkv));
  for (
    const helper of [
      "argMin",
      "topK",
      "targetTotal",
      "recentHalf",
      "pythonFloatStr",
      "roundHalfEven",
      "checkShape",
      "toFloat32",
      "readJsonFile",
      "argmax",
      "sampleCurve",
      "rescaleCounts",
      "llamaNames",
    ]
  ) {
    assert(!exported.has(helper), `mod.ts exports the helper ${helper}`);
  }
  for (const entry of ["loadModel", "chatPrompt", "measureImportance", "analyzeImportance"]) {
    assert(exported.has(entry), `mod.ts lacks ${entry}`);
  }
  for (const entry of ["prefixSearch", "calibrate", "createRecipe", "recompose", "generate"]) {
    assert(exported.has(entry), `mod.ts lacks ${entry}`);
  }
  assert(exported.has("KvCache") && exported.has("measureAttention"));
});
