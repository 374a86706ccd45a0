import { assert, assertEquals, assertRejects } from "@std/assert";
import { command, formatRecipes } from "../../lib/cli/recipes.ts";
import { InputError } from "../../lib/errors.ts";
import { listRecipes, recipeNames } from "../../lib/recipes/mod.ts";

async function capture(args: string[]): Promise<{ code: number; out: string }> {
  const log = console.log;
  let out = "";
  console.log = (...a: unknown[]) => void (out += a.join(" ") + "\n");
  try {
    return { code: await command.run(args), out };
  } finally {
    console.log = log;
  }
}

Deno.test("recipes command: lists every recipe with description, parts and reference", async () => {
  const { code, out } = await capture([]);
  assertEquals(code, 0);
  for (const name of recipeNames()) assert(out.includes(`\n${name} — `) || out.startsWith(name));
  assert(out.includes("CORRECT top-k"));
  assertEquals(out.trim(), formatRecipes(listRecipes()).trim());
});

Deno.test("recipes command: one recipe as JSON", async () => {
  const { out } = await capture(["elastic", "--json"]);
  const [e] = JSON.parse(out);
  assertEquals(e.name, "elastic");
  assert(e.parts.includes("merge-nearest"));
  assert(e.reference.includes("2407.18121"));
  assertEquals(e.config, { method: "elastic", startSize: 1, distance: -25 });
  assertEquals(e.options.map((o: { name: string }) => o.name), ["startSize", "distance"]);
  assertEquals(e.options[0].rule, "an integer ≥ 0");
  assertEquals(e.options[0].default, 1);
});

Deno.test("recipes command: options print with their rules, defaults and descriptions", async () => {
  const { out } = await capture(["snapkv"]);
  assert(out.includes("kernel (an integer ≥ 1, default 5): width of the pooling"), out);
  assert(out.includes('pooling (one of max, avg, default "max"): pooling kind'), out);
});

Deno.test("recipes command: an unknown name is an InputError", async () => {
  await assertRejects(() => capture(["nope"]), InputError);
});
