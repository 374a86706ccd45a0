import { assert, assertEquals } from "@std/assert";
import denoConfig from "../deno.json" with { type: "json" };
import { provenance } from "../lib/provenance.ts";

Deno.test("provenance: tool, version, runtime versions, date and args", async () => {
  const p = await provenance(["--budget", "0.5"]);
  assertEquals([p.tool, p.version], [denoConfig.name, denoConfig.version]);
  assertEquals([p.deno, p.v8], [Deno.version.deno, Deno.version.v8]);
  assertEquals(p.platform, `${Deno.build.os}-${Deno.build.arch}`);
  assertEquals(p.args, ["--budget", "0.5"]);
  assertEquals(p.onnxruntime, denoConfig.imports["onnxruntime-node"].split("@").pop());
  assert(p.commit === null || /^[0-9a-f]{40}$/.test(p.commit), String(p.commit));
  assert(Math.abs(Date.parse(p.date) - Date.now()) < 60_000);
  assertEquals((await provenance()).args, null);
});
