import { assert, assertEquals } from "@std/assert";
import { quickstart } from "../../examples/quickstart.ts";

Deno.test("examples/quickstart.ts runs on the bundled model and reports consistent numbers", async () => {
  const log = console.log;
  console.log = () => {};
  let r;
  try {
    r = await quickstart();
  } finally {
    console.log = log;
  }
  const layers = r.gini.length;
  assertEquals(r.keptByLayer.length, layers);
  for (const g of r.gini) assert(g >= 0 && g <= 1, `Gini ${g} outside [0, 1]`);
  assert(r.p >= 0 && r.p <= 1, `p = ${r.p}`);
  // 84 prompt entries (20 text tokens + 64 image features); the search keeps 20 % within its
  // 5-token tolerance plus one floored entry per layer.
  const kept = r.keptByLayer.reduce((a, b) => a + b, 0);
  assert(Math.abs(kept - 0.2 * 84 * layers) <= 5 + layers, `kept ${kept}`);
  for (const text of [r.full, r.prefixkv, r.local]) assert(text.length > 0);
});
