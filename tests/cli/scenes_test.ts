import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { join } from "node:path";
import { command } from "../../lib/cli/scenes.ts";

Deno.test("scenes command writes images, conversations, scenes and the raw tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertEquals(
      await command.run(["--out", dir, "--split", "calib", "--count", "3", "--seed", "4"]),
      0,
    );
    const records = JSON.parse(await Deno.readTextFile(join(dir, "calib.json")));
    const scenes = JSON.parse(await Deno.readTextFile(join(dir, "calib_scenes.json")));
    assertEquals(scenes.length, 3);
    assertEquals(records[0].image, "calib-000000.png");
    assertEquals((await Deno.stat(join(dir, "calib_images.bin"))).size, 3 * 64 * 64 * 3);
    assertEquals((await Deno.stat(join(dir, "images", "calib-000002.png"))).isFile, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scenes command rejects missing or malformed options", async () => {
  await rejects(command.run(["--split", "x"]), { name: "UsageError" });
  await rejects(command.run(["--out", "/tmp/x", "--split", "x", "--count=-3"]), {
    name: "UsageError",
  });
});

Deno.test("scenes command turns unknown options into a usage error", async () => {
  await rejects(command.run(["--out", "/tmp/x", "--split", "x", "--bogus"]), {
    name: "UsageError",
  });
});
